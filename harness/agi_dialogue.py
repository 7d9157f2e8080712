"""The fixed menu dialogue of the benchmark, defined once for its three implementations:
FastAGI with AgiChannel (`dialogue_handler`), classic AGI with pyst2 (harness/classic_dialogue.py)
and the bare asyncio floor (harness/agi_floor.py).

answer; STREAM FILE <prompt>; GET DATA beep (one digit, 5 s); SET VARIABLE IVR_CHOICE; STREAM FILE
<goodbye>. The prompt and goodbye files are the AGI arguments 1 and 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from agi.channel import AgiChannel
from ivr.engine.channel import Channel

MENU_FILE = "beep"
CHOICE_TIMEOUT_MS = 5000
CHOICE_DIGITS = 1
CHOICE_VARIABLE = "IVR_CHOICE"
DEFAULT_GOODBYE = "vm-goodbye"  # ships with Asterisk's core sounds


def dialogue_files(args: Sequence[str]) -> tuple[str, str]:
    """(prompt, goodbye) from the AGI arguments; the prompt is required."""
    if not args or not args[0]:
        raise ValueError("dialogue: AGI argument 1 must name the prompt file to play (no extension)")
    goodbye = args[1] if len(args) > 1 and args[1] else DEFAULT_GOODBYE
    return args[0], goodbye


async def run_dialogue(channel: Channel, prompt: str, goodbye: str) -> str:
    """Returns the digit chosen ("" when none)."""
    await channel.answer()
    await channel.stream_file(prompt)
    choice = await channel.get_data(MENU_FILE, CHOICE_TIMEOUT_MS, CHOICE_DIGITS) or ""
    await channel.set_variable(CHOICE_VARIABLE, choice)
    await channel.stream_file(goodbye)
    return choice


async def dialogue_handler(channel: AgiChannel) -> None:
    """FastAGI handler: agi://host:port/dialogue,<prompt>[,<goodbye>]."""
    prompt, goodbye = dialogue_files(channel.args)
    await run_dialogue(channel, prompt, goodbye)
