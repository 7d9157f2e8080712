"""`ivr prompts`: synthesize the text prompts of every flow (deploy step) or a single one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PromptsDirOpt = Annotated[
    Path | None, typer.Option(help="default: IVR_PROMPTS_DIR or <state_dir>/prompts")
]

app = typer.Typer(help="Text prompts: synthesize with espeak-ng into 8 kHz WAV for Asterisk.",
                  no_args_is_help=True)


def _prompts_dir(override: Path | None) -> Path:
    from ivr.settings import load_settings

    return override or load_settings().prompts_path


def collect_texts(flows_dir: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(every (text, language) of every valid flow, one error line per flow that did not load)."""
    from ivr.callflow.loader import flow_files, load_flow
    from ivr.callflow.nodes import build_node_registry
    from ivr.schedule import ScheduleError, load_schedules

    errors: list[str] = []
    schedules: list[str] = []
    sched_file = flows_dir / "schedules.yaml"
    if sched_file.is_file():
        try:
            schedules = list(load_schedules(sched_file))
        except ScheduleError as exc:
            errors.append(str(exc))
    node_types = build_node_registry()
    texts: dict[tuple[str, str], None] = {}
    for path in flow_files(flows_dir):
        try:
            flow = load_flow(path, node_types, schedules)
        except ValueError as exc:  # FlowInvalid lists every issue with its line
            errors.append(str(exc))
            continue
        texts.update(dict.fromkeys(flow.prompt_texts()))
    return list(texts), errors


@app.command()
def build(
    flows_dir: Annotated[Path | None, typer.Option(help="default: IVR_FLOWS_DIR")] = None,
    prompts_dir: PromptsDirOpt = None,
) -> None:
    """Synthesize every text prompt of every flow; already built prompts are kept."""
    from rich.console import Console
    from rich.progress import Progress

    from ivr.prompts import build_prompts
    from ivr.settings import load_settings

    console = Console(stderr=True)
    texts, errors = collect_texts(flows_dir or load_settings().flows_dir)
    for err in errors:
        console.print(err, style="red", soft_wrap=True, markup=False)  # errors may contain [brackets]
    target = _prompts_dir(prompts_dir)
    with Progress(console=console) as progress:
        task = progress.add_task("prompts", total=len(texts))
        stats = build_prompts(texts, target, lambda _t, _l, _r: progress.advance(task))
    for err in stats.errors:
        console.print(err, style="red", soft_wrap=True, markup=False)  # errors may contain [brackets]
    console.print(f"{target}: {stats.built} built, {stats.cached} cached, {stats.failed} failed",
                  soft_wrap=True)
    if errors or stats.failed:
        raise typer.Exit(1)


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="what to say")],
    lang: Annotated[str, typer.Option("--lang", help="zh-CN or en-US")] = "zh-CN",
    voice: Annotated[str | None, typer.Option(help="espeak-ng voice, overriding the language's")] = None,
    prompts_dir: PromptsDirOpt = None,
) -> None:
    """Synthesize one prompt and print its path (without .wav, as Asterisk's Playback wants it)."""
    from ivr.prompts import PromptError, ensure_prompt

    try:
        path = ensure_prompt(text, lang, _prompts_dir(prompts_dir), voice)
    except PromptError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(str(path))
