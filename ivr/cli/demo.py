"""`ivr demo`: the demo hotline with real calls (what `make demo` runs)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

WorkdirOption = Annotated[Path | None, typer.Option(help="keep runtime files here (default: a temp dir)")]


def demo(workdir: WorkdirOption = None) -> None:
    """Start Redis, a private Asterisk and the FastAGI server; place real SIPp calls; print their paths."""
    from ivr.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(run_demo(workdir))
