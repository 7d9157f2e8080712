"""ivr.bounded: a function run in a child process answers as if called here, and one that overruns
its limit is killed at the limit (its process is gone, not left running as a thread would be)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ivr.bounded import Aborted, Overrun, run_bounded

pytestmark = pytest.mark.timeout(60)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_result_and_the_exception_come_back() -> None:
    assert run_bounded(divmod, 17, 5, timeout=30) == (3, 2)
    assert run_bounded(os.getpid, timeout=30) != os.getpid()  # it ran elsewhere
    with pytest.raises(ValueError, match="invalid literal for int"):
        run_bounded(int, "seventeen", timeout=30)


def test_an_overrun_is_killed_at_its_limit() -> None:
    threads = threading.active_count()
    started = time.monotonic()
    with pytest.raises(Overrun, match=r"sleeping took longer than 0\.5 s: stopped") as err:
        run_bounded(time.sleep, 3600, timeout=0.5, what="sleeping")
    assert time.monotonic() - started < 10
    assert err.value.pid is not None and _gone(err.value.pid)
    assert threading.active_count() == threads  # nothing of it runs on here either
    assert run_bounded(divmod, 7, 2, timeout=30) == (3, 1)  # and the next call runs


def test_a_child_that_dies_is_said_with_its_exit_code() -> None:
    with pytest.raises(Aborted, match=r"exiting: its process died .* \(exit code 3\)") as err:
        run_bounded(os._exit, 3, timeout=30, what="exiting")
    assert not isinstance(err.value, Overrun)


def test_an_unpicklable_result_is_an_error_not_a_hang() -> None:
    with pytest.raises(TypeError, match="does not pickle"):
        run_bounded(threading.Lock, timeout=30)
