"""`ivr liveqa`: live QA of bridged queue calls (AudioSocket spy channels -> Vosk), until SIGTERM."""

from __future__ import annotations

import asyncio
import logging

import typer


def liveqa(
    language: str = typer.Option("", help="model and phrase lists; default IVR_DEFAULT_LANGUAGE"),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING"),
) -> None:
    """Stream both legs of every answered call of a queue with `live_qa: true` to Vosk and alert the
    wallboard on a forbidden phrase or a missing greeting (docs/liveqa.md)."""
    from ivr.liveqa.runner import run
    from ivr.settings import load_settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if not settings.liveqa_ami_secret:
        typer.echo("IVR_LIVEQA_AMI_SECRET is not set: live QA logs in to AMI as its own user "
                   f"({settings.liveqa_ami_user}), rendered into manager.conf only when it has a secret", err=True)
        raise typer.Exit(2)
    asyncio.run(run(settings, language))
