"""`dialogue`: the benchmark's menu dialogue (harness/agi_dialogue.py) as a classic pyst2 AGI script,
and the entry point that runs it beside the product's classic scripts:

    AGI(/path/to/wrapper,dialogue,<prompt>[,<goodbye>])   the wrapper execs
    python -m harness.classic_dialogue dialogue <prompt> [<goodbye>]

The product's registry (`python -m agi.classic`) does not know `dialogue`: the benchmark adds it
to the registry it builds here, through the same duplicate-name check.

With IVR_AGI_STATS_FILE set (the benchmark), each call appends one JSON line to that file:
[[command, seconds from sending it to reading its reply], ...], as harness/agi_floor.py does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from agi.classic.__main__ import main as classic_main
from agi.classic.pyst import ClassicAgi
from agi.classic.registry import ScriptRegistry, build_registry
from agi.protocol import quote_arg
from harness.agi_dialogue import CHOICE_DIGITS, CHOICE_TIMEOUT_MS, CHOICE_VARIABLE, MENU_FILE, dialogue_files

STATS_FILE_ENV = "IVR_AGI_STATS_FILE"
SCRIPT = "dialogue"


def run(agi: ClassicAgi, args: list[str]) -> int:
    prompt, goodbye = dialogue_files(args)
    times: list[tuple[str, float]] = []

    def timed(verb: str, method: Callable[..., Any], *method_args: object) -> Any:
        start = time.perf_counter()
        try:
            return method(*method_args)
        finally:
            times.append((verb, time.perf_counter() - start))

    try:
        timed("ANSWER", agi.answer)
        # pyst2 passes file names unquoted: quote them so a path with a space survives
        timed("STREAM FILE", agi.stream_file, quote_arg(prompt))
        choice = timed("GET DATA", agi.get_data, quote_arg(MENU_FILE), CHOICE_TIMEOUT_MS, CHOICE_DIGITS)
        timed("SET VARIABLE", agi.set_variable, CHOICE_VARIABLE, choice)
        timed("STREAM FILE", agi.stream_file, quote_arg(goodbye))
    finally:
        stats_file = os.environ.get(STATS_FILE_ENV)
        if stats_file:
            with open(stats_file, "a", encoding="utf-8") as out:
                out.write(json.dumps(times) + "\n")
    return 0


def bench_registry() -> ScriptRegistry:
    """The product's classic scripts plus `dialogue`."""
    return build_registry({SCRIPT: run})


def main(argv: Sequence[str] | None = None) -> int:
    return classic_main(argv, registry=bench_registry())


if __name__ == "__main__":
    sys.exit(main())
