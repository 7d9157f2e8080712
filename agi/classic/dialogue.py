"""`dialogue`: the benchmark's menu dialogue (agi/dialogue.py) as a classic pyst2 AGI script.

    AGI(/path/to/.venv/bin/python,-m,agi.classic,dialogue,<prompt>[,<goodbye>])
"""

from __future__ import annotations

from agi.classic.pyst import ClassicAgi
from agi.dialogue import CHOICE_DIGITS, CHOICE_TIMEOUT_MS, CHOICE_VARIABLE, MENU_FILE, dialogue_files
from agi.protocol import quote_arg


def run(agi: ClassicAgi, args: list[str]) -> int:
    prompt, goodbye = dialogue_files(args)
    agi.answer()
    # pyst2 passes file names unquoted: quote them so a path with a space survives
    agi.stream_file(quote_arg(prompt))
    choice = agi.get_data(quote_arg(MENU_FILE), CHOICE_TIMEOUT_MS, CHOICE_DIGITS)
    agi.set_variable(CHOICE_VARIABLE, choice)
    agi.stream_file(quote_arg(goodbye))
    return 0
