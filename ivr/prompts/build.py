"""Build many prompts at once (deploy, `ivr prompts build`) on a small thread pool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.synth import PromptError, ensure_prompt, prompt_file

WORKERS = 2  # espeak-ng is CPU-bound and the machine also answers calls


@dataclass
class BuildStats:
    built: int = 0
    cached: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def build_prompts(
    texts: Iterable[tuple[str, str]],
    prompts_dir: Path,
    progress: Callable[[str, str, str], None] | None = None,
) -> BuildStats:
    """Ensure every (text, language) prompt exists. Failures are counted and listed, not raised.

    `progress(text, language, result)` is called once per prompt, result "built"/"cached"/"failed".
    """
    stats = BuildStats()
    todo: list[tuple[str, str]] = []
    for item in dict.fromkeys(texts):  # same prompt listed twice: build it once
        text, language = item
        if prompt_file(text, language, prompts_dir).with_suffix(".wav").is_file():
            stats.cached += 1
            if progress:
                progress(text, language, "cached")
        else:
            todo.append(item)
    if not todo:
        return stats
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="prompt") as pool:
        futures = {pool.submit(ensure_prompt, text, lang, prompts_dir): (text, lang) for text, lang in todo}
        for fut in as_completed(futures):
            text, language = futures[fut]
            try:
                fut.result()
            except PromptError as exc:
                stats.failed += 1
                stats.errors.append(str(exc))
                result = "failed"
            else:
                stats.built += 1
                result = "built"
            if progress:
                progress(text, language, result)
    return stats
