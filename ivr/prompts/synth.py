"""One prompt: text + language -> `<prompts_dir>/<hash>.wav`, synthesized once.

The file name is a hash of everything that changes the audio (language, voice, text, engine
settings), so an edited prompt gets a new file, an unchanged one is never re-synthesized, and
several processes can build the same prompt at once: each writes a temp file and renames it
atomically. Paths are returned WITHOUT the extension, the way Asterisk's Playback wants them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Bump when the synthesis pipeline changes (espeak options, sox conversion): every prompt is rebuilt.
ENGINE_VERSION = "espeak-ng+sox/8000Hz-mono-s16/1"
VOICES: dict[str, str] = {"zh-CN": "cmn", "en-US": "en-us"}
TIMEOUT = 60.0  # seconds per external program; a long prompt takes a few seconds at most


class PromptError(RuntimeError):
    """Synthesis failed; the message names the text, language and the tool's stderr."""


def voice_for(text: str, language: str, voice: str | None = None) -> str:
    if voice:
        return voice
    try:
        return VOICES[language]
    except KeyError:
        raise PromptError(
            f"prompt {text!r}: no espeak-ng voice for language {language!r} "
            f"(known: {', '.join(sorted(VOICES))})"
        ) from None


def prompt_file(text: str, language: str, prompts_dir: Path, voice: str | None = None) -> Path:
    """Where the prompt lives, without extension (Asterisk appends .wav). Pure: no I/O."""
    key = "|".join((language, voice or VOICES.get(language, ""), text, ENGINE_VERSION))
    return prompts_dir / hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _run(cmd: list[str], text: str, language: str, stdin: bytes | None = None) -> None:
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromptError(f"prompt {text!r} ({language}): {cmd[0]} failed: {exc}") from exc
    err = proc.stderr.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        raise PromptError(f"prompt {text!r} ({language}): {cmd[0]} exited {proc.returncode}: {err}")
    if cmd[0].endswith("espeak-ng") and err:
        # espeak-ng sometimes reports a bad voice on stderr yet exits 0.
        raise PromptError(f"prompt {text!r} ({language}): espeak-ng: {err}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptError(f"{name} is not installed (scripts/bootstrap.sh installs it)")
    return path


def synthesize(text: str, language: str, target: Path, voice: str | None = None) -> None:
    """espeak-ng -> temp wav -> sox 8 kHz mono 16-bit -> atomic rename to `target` (a .wav path)."""
    if not text.strip():
        raise PromptError(f"prompt {text!r} ({language}): empty text")
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".synth-") as tmp:
        raw, converted = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        # Text on stdin: a prompt starting with "-" must not be read as an option.
        _run([espeak, "-v", voice_for(text, language, voice), "-w", str(raw), "--stdin"], text, language,
             stdin=text.encode("utf-8"))
        _run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(converted)],
             text, language)
        if converted.stat().st_size <= 44:  # a bare WAV header: nothing was spoken
            raise PromptError(f"prompt {text!r} ({language}): synthesis produced no audio")
        os.replace(converted, target)


def ensure_prompt(text: str, language: str, prompts_dir: Path, voice: str | None = None) -> Path:
    """The prompt's path (no extension), synthesizing `<path>.wav` first if it is missing."""
    base = prompt_file(text, language, prompts_dir, voice)
    wav = base.with_name(base.name + ".wav")
    if not wav.is_file():
        synthesize(text, language, wav, voice)
    return base
