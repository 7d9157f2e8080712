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
MinutesOption = Annotated[float | None, typer.Option(min=0.1, help="stop after N minutes (default: Ctrl-C)")]
CallsOnlyOption = Annotated[bool, typer.Option("--calls-only", help="five scripted calls, a table, exit")]
Runner = Callable[[float | None, Path | None], int]


def demo(workdir: WorkdirOption = None, minutes: MinutesOption = None, calls_only: CallsOnlyOption = False) -> None:
    """The whole hotline, live: Redis, Asterisk, ivr serve, a transcription worker, the dashboard,
    callers and agents' phones, until Ctrl-C. --calls-only: five scripted calls and a table."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(_runner(calls_only)(minutes, workdir))


def _runner(calls_only: bool) -> Runner:
    try:
        return _import(calls_only)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("harness"):
            raise  # the harness is there; something it needs is not
        if not (REPO_ROOT / "harness" / "demo" / "live.py").is_file():
            typer.echo("ivr demo needs the project's checkout: the demo drives SIPp from harness/, which the "
                       "installed package does not ship. Run `make demo` in a clone of the repository.", err=True)
            raise typer.Exit(2) from None
        # An editable install started from outside the checkout: harness/ sits beside ivr/.
        sys.path.insert(0, str(REPO_ROOT))
        return _import(calls_only)


def _import(calls_only: bool) -> Runner:
    if calls_only:
        from harness.demo.scripted import run_demo

        return lambda _minutes, workdir: run_demo(workdir)
    from harness.demo.live import run_live

    return run_live
