"""`ivr qa analyze TRANSCRIPT` (flags as JSON) and `ivr qa rerun --since DATE` (after a list changes);
`ivr redact` (stdin -> stdout) is mounted at the top level from here too."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Quality checks of transcribed calls: forbidden phrases, courtesy, timing.", no_args_is_help=True
)


@app.command("analyze")
def analyze(
    transcript: Annotated[
        Path, typer.Argument(help="Transcript: JSON, or text lines '[mm:ss.s] speaker: text'")
    ],
    language: Annotated[
        str | None, typer.Option(help="Phrase lists' language (default: the transcript's)")
    ] = None,
    hangup_by: Annotated[str | None, typer.Option(help="Who hung up first: agent, caller or system")] = None,
) -> None:
    """Print the QA flags and metrics of one transcript as JSON."""
    from ivr.qa.phrases import PhraseListError
    from ivr.qa.store import analyse_transcript
    from ivr.settings import load_settings
    from ivr.transcribe.transcript import TranscriptError, load_any

    settings = load_settings()
    try:
        result, _ = analyse_transcript(settings, load_any(transcript), hangup_by=hangup_by, language=language)
    except (TranscriptError, PhraseListError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result.model_dump(), ensure_ascii=False, indent=1))


def _since(value: str, tz: str) -> datetime:
    from ivr.clock import zone

    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or datetime (e.g. 2026-03-01)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=zone(tz))


@app.command("rerun")
def rerun(
    since: Annotated[
        str, typer.Option("--since", help="Calls started at or after this date/time (local time)")
    ],
) -> None:
    """Re-analyse stored calls (with the current phrase lists and thresholds)."""
    import redis
    from rich.progress import Progress

    from ivr.qa.store import calls_since
    from ivr.qa.store import rerun as do_rerun
    from ivr.settings import load_settings

    settings = load_settings()
    start = _since(since, settings.timezone)
    conn = redis.Redis.from_url(settings.redis_url)
    with Progress() as progress:
        task = progress.add_task("re-analysing", total=len(calls_since(conn, start)))
        report = do_rerun(conn, settings, start, progress=lambda _: progress.advance(task))
    typer.echo(
        json.dumps(
            {
                "analysed": len(report.analysed),
                "without_transcript": len(report.without_transcript),
                "errors": report.errors,
            },
            ensure_ascii=False,
        )
    )
    raise typer.Exit(1 if report.errors else 0)


def redact(
    transcript: Annotated[bool, typer.Option("--transcript", help="stdin is a transcript JSON")] = False,
) -> None:
    """Redact phone, ID and card numbers and e-mail addresses from stdin to stdout."""
    from ivr.privacy.redact import redact_text, redact_transcript
    from ivr.transcribe.transcript import TranscriptError, parse_transcript

    data = sys.stdin.read()
    if not transcript:
        sys.stdout.write(redact_text(data))
        return
    try:
        sys.stdout.write(redact_transcript(parse_transcript(data, "<stdin>")).to_json() + "\n")
    except TranscriptError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
