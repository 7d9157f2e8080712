"""Redis layout of the queues' live state, as the AMI listener writes it (ivr/queueing).

    ivr:queue:<q>:callers          hash  uniqueid -> JSON {"caller", "since" (epoch), "vip"}
    ivr:queue:<q>:agents           hash  agent -> JSON {"state": available|ringing|on_call|paused|offline, "since"}
    ivr:queue:<q>:day:<yyyy-mm-dd> hash  offered, answered, answered_in_time, abandoned, overflow:<rule> -> int
    ivr:callbacks:<q>              zset  pending callbacks (ivr.keys.callback_queue, ivr/queueing/callbacks.py)
"""

from __future__ import annotations

from ivr import keys
from ivr.keys import PREFIX


def callers(queue: str) -> str:
    return f"{PREFIX}:queue:{queue}:callers"


def agents(queue: str) -> str:
    return f"{PREFIX}:queue:{queue}:agents"


def day(queue: str, iso_day: str) -> str:
    return f"{PREFIX}:queue:{queue}:day:{iso_day}"


def callbacks(queue: str) -> str:
    return keys.callback_queue(queue)
