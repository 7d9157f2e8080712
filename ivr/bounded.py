"""Run a pure function in a child process that is killed at its time limit.

A thread cannot be stopped: a check that overruns its limit in a worker thread keeps running (and
its CPU) until it ends by itself, however long a pathological input makes that. A child process is
killed, so the overrun ends at the limit. Children come from a fork server (no fork of a threaded
server process); it imports the function's module once, so a child starts in tens of milliseconds.

`fn`, its arguments and its result cross a pipe: they must pickle (module-level functions, plain
data, pydantic models).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
_FORK_SERVER = multiprocessing.get_context("forkserver")


class Aborted(Exception):
    """The function did not finish: killed at its limit, or its process died."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


class Overrun(Aborted):
    """Killed at its time limit."""


def _child(out: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result: tuple[bool, Any] = (True, fn(*args))
    except Exception as exc:  # handed to the caller, who raises it as if the call were local
        result = (False, exc)
    try:
        out.send(result)
    except Exception as exc:  # an unpicklable result or exception: say so instead of dying mute
        out.send((False, TypeError(f"{type(result[1]).__name__} does not pickle: {exc}")))
    finally:
        out.close()


def run_bounded(fn: Callable[..., T], *args: Any, timeout: float, what: str = "") -> T:
    """`fn(*args)` in a child process; its result, or its exception re-raised here.

    Blocks the calling thread for at most `timeout` seconds (plus the child's start): then the child
    is killed and `Overrun` raised. `Aborted` when the child dies without an answer. `what` names
    the work in those messages."""
    what = what or getattr(fn, "__qualname__", "the call")
    _FORK_SERVER.set_forkserver_preload([fn.__module__])  # read only when the fork server starts
    answers, out = _FORK_SERVER.Pipe(duplex=False)
    child = _FORK_SERVER.Process(target=_child, args=(out, fn, args), daemon=True, name="bounded")
    started = time.monotonic()
    child.start()
    out.close()  # the child holds its end: EOF here once it is gone
    try:
        if not answers.poll(timeout):
            child.kill()
            raise Overrun(f"{what} took longer than {timeout:g} s: stopped", child.pid)
        try:
            ok, value = answers.recv()
        except EOFError:
            child.join(5)
            raise Aborted(f"{what}: its process died after {time.monotonic() - started:.1f} s "
                          f"(exit code {child.exitcode})", child.pid) from None
    finally:
        answers.close()
        child.join(5)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
