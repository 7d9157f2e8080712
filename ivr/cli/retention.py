"""`ivr retention purge`: delete every kind of customer data older than its retention period.

Files (ivr.recording.retention): recordings and transcripts (IVR_RETENTION_DAYS, >= 90), voicemail
(IVR_VOICEMAIL_RETENTION_DAYS, >= 90). Redis (ivr.retention_store): the audit log
(IVR_AUDIT_RETENTION_DAYS, >= 365), QA scores and review samples (IVR_QA_RETENTION_DAYS, >= 365).
The records database (ivr.records.retention): calls (IVR_CALL_RECORD_TTL_DAYS), audit log, QA scores.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Retention of recordings, transcripts, voicemail, audit log and QA data.",
                  no_args_is_help=True)


def _purge_database(settings: Any, now: Any, dry_run: bool, errors: dict[str, str]) -> dict[str, int]:
    """Calls, audit log and QA scores in the records database (ivr.records.retention); a database that is
    down is an error in the summary (exit 1), the other kinds are still purged."""
    from sqlalchemy.exc import SQLAlchemyError

    from ivr.records.db import engine_from_settings, upgrade
    from ivr.records.retention import purge_records

    engine = engine_from_settings(settings)
    try:
        upgrade(engine)
        return purge_records(engine, now, call_days=settings.call_record_ttl_days,
                             audit_days=settings.audit_retention_days, qa_days=settings.qa_retention_days,
                             dry_run=dry_run)
    except SQLAlchemyError as exc:
        errors["database"] = f"records database: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        logging.getLogger("ivr.retention").error("retention: %s", errors["database"])
        return {}
    finally:
        engine.dispose()


@app.command("purge")
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed")] = False,
    days: Annotated[int | None, typer.Option(help="Override IVR_RETENTION_DAYS (never below 90)")] = None,
    recordings_dir: Annotated[Path | None, typer.Option(help="Default: IVR_RECORDINGS_DIR")] = None,
) -> None:
    """Remove what is older than its retention period; every removal is logged. Exit 1 on any error
    (the other kinds are still purged), 2 when a period is below its minimum."""
    import redis

    from ivr.clock import clock_from_settings
    from ivr.recording.retention import RetentionError
    from ivr.recording.retention import purge as purge_files
    from ivr.retention_store import StoreRetentionError, purge_store
    from ivr.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    now = clock_from_settings(settings).now()
    try:
        report = purge_files(recordings_dir or settings.recordings_dir,
                             days if days is not None else settings.retention_days, now,
                             voicemail_days=settings.voicemail_retention_days, dry_run=dry_run)
    except RetentionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for path in report.skipped:
        logging.getLogger("ivr.retention").info("retention: skipped (not a dated recording) %s", path)
    errors: dict[str, str] = {str(k): v for k, v in report.errors.items()}
    store: dict[str, Any] = {}
    conn = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    try:
        done = purge_store(conn, now, audit_days=settings.audit_retention_days, qa_days=settings.qa_retention_days,
                           timezone=settings.timezone, dry_run=dry_run)
        store = {"cutoffs": {k: v.isoformat() for k, v in done.cutoffs.items()}, **done.removed}
        errors.update({f"redis {i}": e for i, e in enumerate(done.errors)})
    except StoreRetentionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (redis.RedisError, OSError) as exc:
        errors["redis"] = f"{settings.redis_url}: {exc} (audit log and QA data not purged)"
        logging.getLogger("ivr.retention").error("retention: %s", errors["redis"])
    finally:
        conn.close()
    store["database"] = _purge_database(settings, now, dry_run, errors)
    summary = {
        "cutoff": report.cutoff.isoformat(),
        "cutoffs": {k: v.isoformat() for k, v in report.cutoffs.items()},
        "removed": len(report.removed),
        "removed_by_kind": report.removed_by_kind,
        "bytes_freed": report.bytes_freed,
        "kept": report.kept,
        "skipped": len(report.skipped),
        "redis": store,
        "errors": errors,
        "dry_run": dry_run,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))
    raise typer.Exit(1 if errors else 0)
