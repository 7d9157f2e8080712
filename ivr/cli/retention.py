"""`ivr retention purge`: delete recordings and transcripts older than IVR_RETENTION_DAYS (>= 90)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Retention of recordings and transcripts.", no_args_is_help=True)


@app.command("purge")
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed")] = False,
    days: Annotated[int | None, typer.Option(help="Override IVR_RETENTION_DAYS (never below 90)")] = None,
    recordings_dir: Annotated[Path | None, typer.Option(help="Default: IVR_RECORDINGS_DIR")] = None,
) -> None:
    """Remove what is older than the retention period; every removal is logged."""
    from ivr.clock import clock_from_settings
    from ivr.retention import RetentionError
    from ivr.retention import purge as do_purge
    from ivr.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    try:
        report = do_purge(
            recordings_dir or settings.recordings_dir,
            days if days is not None else settings.retention_days,
            clock_from_settings(settings).now(),
            dry_run=dry_run,
        )
    except RetentionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for path in report.skipped:
        logging.getLogger("ivr.retention").info("retention: skipped (not a dated recording) %s", path)
    summary = {
        "cutoff": report.cutoff.isoformat(),
        "removed": len(report.removed),
        "bytes_freed": report.bytes_freed,
        "kept": report.kept,
        "skipped": len(report.skipped),
        "errors": {str(k): v for k, v in report.errors.items()},
        "dry_run": dry_run,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))
    raise typer.Exit(1 if report.errors else 0)
