"""`dialogue`: the benchmark's menu dialogue (agi/dialogue.py) as a classic pyst2 AGI script.

    AGI(/path/to/.venv/bin/python,-m,agi.classic,dialogue,<prompt>[,<goodbye>])

With IVR_AGI_STATS_FILE set (the benchmark), each call appends one JSON line to that file:
[[command, seconds from sending it to reading its reply], ...], as agi/floor.py does.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from agi.classic.pyst import ClassicAgi
from agi.dialogue import CHOICE_DIGITS, CHOICE_TIMEOUT_MS, CHOICE_VARIABLE, MENU_FILE, dialogue_files
from agi.protocol import quote_arg

STATS_FILE_ENV = "IVR_AGI_STATS_FILE"


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
