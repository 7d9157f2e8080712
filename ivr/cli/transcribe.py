"""`ivr transcribe`: transcribe files or pending calls in bulk, run the queue worker, list failures.

ivr transcribe FILE...            transcripts next to the files (<id>-caller pairs with <id>-agent)
ivr transcribe --pending          every call with a recording and no transcript, linked on its record
ivr transcribe worker             RQ worker of the transcription queue (one per CPU core)
ivr transcribe failed             the failed-jobs list with each reason
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ivr.transcribe.options import WorkerOptions


class _FilesByDefault(TyperGroup):
    """`ivr transcribe FILE...` and `--pending` go to the `files` command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: click is vendored privately
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["files", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_FilesByDefault, help="Transcription of call recordings with Vosk.", no_args_is_help=True
)


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@app.command("files")
def files(
    paths: Annotated[list[Path] | None, typer.Argument(help="Recordings to transcribe")] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Calls with a recording and no transcript")
    ] = False,
    language: Annotated[str | None, typer.Option(help="Model language; default: the call's")] = None,
) -> None:
    """Transcribe FILE... or --pending calls, in this process, with a progress bar."""
    from ivr.settings import load_settings

    settings = load_settings()
    if bool(paths) == pending:
        typer.echo("give FILE... or --pending (not both)", err=True)
        raise typer.Exit(2)
    failures = _files(settings, paths or [], language) if paths else _pending(settings, language)
    raise typer.Exit(1 if failures else 0)


def _files(settings: Any, paths: list[Path], language: str | None) -> int:
    from ivr.transcribe.audio import AudioError
    from ivr.transcribe.models import ModelError
    from ivr.transcribe.pipeline import transcript_for_file

    failures = 0
    with _progress() as progress:
        task = progress.add_task("transcribing", total=len(paths))
        for path in paths:
            progress.update(task, description=path.name)
            try:
                out, t = transcript_for_file(settings, path, language or settings.default_language)
                progress.console.print(f"{path} -> {out} ({len(t.utterances)} utterances, {t.duration:.1f}s)")
            except (AudioError, ModelError) as exc:
                failures += 1
                progress.console.print(f"[red]{path}: {exc}[/red]")
            progress.advance(task)
    return failures


def _pending(settings: Any, language: str | None) -> int:
    import redis

    from ivr.transcribe.jobs import PERMANENT
    from ivr.transcribe.pipeline import pending_calls, process_call, set_state

    conn = redis.Redis.from_url(settings.redis_url)
    calls = pending_calls(conn)
    failures = 0
    with _progress() as progress:
        task = progress.add_task("pending calls", total=len(calls))
        for call_id, call_lang in calls:
            progress.update(task, description=call_id)
            try:
                outcome = process_call(
                    conn, settings, call_id, language or call_lang or settings.default_language
                )
                progress.console.print(f"{call_id}: {outcome}")
            except PERMANENT as exc:
                failures += 1
                set_state(conn, call_id, "failed", reason=f"{type(exc).__name__}: {exc}")
                progress.console.print(f"[red]{call_id}: {exc}[/red]")
            progress.advance(task)
    return failures


@app.command("worker")
def worker(
    language: Annotated[
        list[str] | None, typer.Option(help="Preload this language's model (repeatable)")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name (default: RQ's)")] = None,
    monitor_interval: Annotated[
        int, typer.Option(help="Seconds between heartbeats of a running job")
    ] = WorkerOptions.monitor_interval,
    heartbeat_grace: Annotated[
        int, typer.Option(help="A job this many seconds late is abandoned")
    ] = WorkerOptions.heartbeat_grace,
    maintenance_interval: Annotated[
        int, typer.Option(help="Seconds between sweeps for abandoned jobs")
    ] = WorkerOptions.maintenance_interval,
    worker_ttl: Annotated[
        int, typer.Option(help="Seconds before a silent worker counts as dead")
    ] = WorkerOptions.worker_ttl,
) -> None:
    """Serve the transcription queue: load the model(s) once, then run jobs in this process."""
    from ivr.settings import load_settings
    from ivr.transcribe.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    opts = WorkerOptions(
        burst=burst,
        name=name,
        monitor_interval=monitor_interval,
        heartbeat_grace=heartbeat_grace,
        maintenance_interval=maintenance_interval,
        worker_ttl=worker_ttl,
    )
    run_worker(load_settings(), language or [], opts)


@app.command("enqueue")
def enqueue(
    call_ids: Annotated[list[str], typer.Argument(help="Calls whose recording to queue")],
    language: Annotated[str | None, typer.Option(help="Default: the call record's language")] = None,
) -> None:
    """Queue calls' recordings for the workers (idempotent: one job per call)."""
    import redis

    from ivr import keys
    from ivr.settings import load_settings
    from ivr.transcribe.jobs import enqueue_transcription

    settings = load_settings()
    conn = redis.Redis.from_url(settings.redis_url)
    for call_id in call_ids:
        raw = conn.hget(keys.call(call_id), "language")
        lang = language or (json.loads(raw) if raw else settings.default_language)
        typer.echo(f"{call_id}: {enqueue_transcription(conn, call_id, lang, settings)}")


@app.command("failed")
def failed() -> None:
    """The failed-jobs list (JSON lines: job id, call id, last error line)."""
    import redis

    from ivr.settings import load_settings
    from ivr.transcribe.jobs import failed_jobs

    settings = load_settings()
    for row in failed_jobs(redis.Redis.from_url(settings.redis_url), settings):
        typer.echo(json.dumps(row, ensure_ascii=False))
