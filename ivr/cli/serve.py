"""`ivr serve`: the FastAGI server and everything it needs, until SIGTERM (which drains calls)."""

from __future__ import annotations

import asyncio
import logging

import typer

from ivr.settings import load_settings


def serve(
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING"),
) -> None:
    """Serve the call flows in IVR_FLOWS_DIR on agi://IVR_AGI_HOST:IVR_AGI_PORT/<flow name>.

    Several nodes may serve one Asterisk (IVR_AGI_SERVERS): the one holding the leader lease also
    applies the AMI listener's events and dials queued callbacks (docs/operations.md)."""
    from ivr.asterisk.private import InsecureSecret
    from ivr.service import HotlineService

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()

    async def run() -> None:
        service = HotlineService(settings)
        await service.start()
        try:
            await service.serve_forever()
        finally:
            await service.stop()

    try:
        asyncio.run(run())
    except InsecureSecret as exc:  # a setting to fix, refused before anything listens: no traceback
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
