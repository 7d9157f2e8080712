"""`ivr demo`: the demo hotline with real calls (what `make demo` runs).

The demo drives SIPp, so it lives in the checkout's harness/ and not in the installed product:
an installed wheel has no `harness`, and the command says so instead of failing with a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ivr.settings import REPO_ROOT

WorkdirOption = Annotated[Path | None, typer.Option(help="keep runtime files here (default: a temp dir)")]


def demo(workdir: WorkdirOption = None) -> None:
    """Start Redis, a private Asterisk and the FastAGI server; place real SIPp calls; print their paths."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(_run_demo()(workdir))


def _run_demo() -> Callable[[Path | None], int]:
    try:
        from harness.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name not in ("harness", "harness.demo"):
            raise  # the harness is there; something it needs is not
        if not (REPO_ROOT / "harness" / "demo.py").is_file():
            typer.echo("ivr demo needs the project's checkout: the demo drives SIPp from harness/, which the "
                       "installed package does not ship. Run `make demo` in a clone of the repository.", err=True)
            raise typer.Exit(2) from None
        # An editable install started from outside the checkout: harness/ sits beside ivr/.
        sys.path.insert(0, str(REPO_ROOT))
        from harness.demo import run_demo
    return run_demo
