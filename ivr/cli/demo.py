"""`ivr demo`: the demo hotline with real calls (what `make demo` runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def demo(workdir: Path | None = typer.Option(None, help="keep runtime files here (default: a temp dir)")) -> None:
    """Start Redis, a private Asterisk and the FastAGI server; place real SIPp calls; print their paths."""
    from ivr.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(run_demo(workdir))
