"""`ivr doctor`: check a deployment and print what is wrong and how to fix it (exit 1 if anything is)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


def doctor(
    timeout: Annotated[float, typer.Option(help="seconds each network check may take")] = 3.0,
) -> None:
    """Check the AMI secret and login, the FastAGI port, Redis, dashboard users, Vosk models, writable dirs,
    built prompts."""
    from ivr.cli.prompts import collect_texts
    from ivr.doctor import run_checks
    from ivr.settings import load_settings

    settings = load_settings()
    texts, errors = collect_texts(settings.flows_dir)
    checks = asyncio.run(run_checks(settings, texts, errors, timeout))
    for check in checks:
        typer.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.what}")
        if not check.ok and check.fix:
            typer.echo(f"     fix: {check.fix}")
    bad = sum(not c.ok for c in checks)
    typer.echo(f"{bad} problem(s)" if bad else "all checks passed")
    raise typer.Exit(1 if bad else 0)
