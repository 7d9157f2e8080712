"""One load step of the AGI benchmark: SIPp places `calls` calls at `rate` calls/s into one
variant; then we count what SIPp saw, what each dialogue reported to the dialplan (AstDB, one
key per call), and the AGI command round trips the implementation measured.

The caller presses 1 every 0.5 s from 0.6 s after the answer until Asterisk hangs up or its
patience (default 4 s) runs out: the first press that lands in GET DATA ends the menu, whatever
time the AGI needed to start (a classic script starts a Python per call); presses during STREAM
FILE (no escape digits) are ignored. A menu that is not listening by then misses the key and the
call counts as failed: the caller got no menu within ~4 s of being answered. So does a call that
Asterisk does not answer within the same patience (SIPp's recv timeout on the 200 OK). Waiting is done in
`recv BYE` with a timeout, never in `pause`; a BYE that lands while SIPp is between two of them
(starting the next press) is caught by a recv marked optional="global", which SIPp matches from
anywhere in the scenario, so Asterisk's BYE is never an "unexpected message" failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from bench.rig import RESULT_FAMILY, BenchRig, service
from harness.dtmf_pcap import write_digit_pcap
from harness.scenarios import BYE, INVITE, OK_TO_BYE
from harness.sipp import call_counts, caller_command
from ivr.asterisk.process import AsteriskInstance

DIGIT = "1"
OK_CHOICE = f"SUCCESS:{DIGIT}"  # AGISTATUS:IVR_CHOICE of a dialogue that ran to its end
FIRST_PRESS_MS = 600
REPEAT_MS = 500
PATIENCE_MS = 4000  # the caller's last press is no later than this after the answer
FINAL_WAIT_MS = 20_000
SETTLE_S = 60.0  # calls are cut at 60 s by TIMEOUT(absolute)

_OK_BYE = '  <label id="gotbye"/>\n' + OK_TO_BYE


def caller_scenario(pcap_dir: Path, patience_ms: int = PATIENCE_MS) -> str:
    presses = 1 + max(0, patience_ms - FIRST_PRESS_MS) // REPEAT_MS
    parts = ['  <nop next="wait"/>\n  <recv request="BYE" optional="global" next="gotbye"/>\n  <label id="wait"/>\n',
             f'  <recv request="BYE" timeout="{FIRST_PRESS_MS}" ontimeout="press0" next="gotbye"/>\n']
    for i in range(presses):
        pcap = escape(str(write_digit_pcap(pcap_dir, DIGIT, i)))
        after = f"press{i + 1}" if i + 1 < presses else "last"
        parts.append(f'  <label id="press{i}"/>\n'
                     f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                     f'  <recv request="BYE" timeout="{REPEAT_MS}" ontimeout="{after}" next="gotbye"/>\n')
    parts.append(f'  <label id="last"/>\n  <recv request="BYE" timeout="{FINAL_WAIT_MS}" ontimeout="bye" '
                 'next="gotbye"/>\n')
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="agi bench caller">\n' + INVITE
            + "".join(parts) + _OK_BYE + BYE.format(label="bye") + '  <label id="end"/>\n</scenario>\n')


@dataclass
class StepResult:
    variant: str
    rate: float
    calls: int
    sipp_ok: int = 0
    sipp_failed: int = 0
    dialogues_ok: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    samples: list[tuple[str, float]] = field(default_factory=list)  # (verb, seconds)
    agi_cpu_s: float = 0.0       # CPU of the AGI side during the step (see BenchRig.cpu_seconds)
    asterisk_cpu_s: float = 0.0
    load_average: float = 0.0    # 1-minute load average of the machine when the step started
    note: str = ""

    @property
    def failures(self) -> int:
        """Calls that did not both end well in SIPp and report a completed dialogue (0 iff none)."""
        return max(self.calls - self.sipp_ok, self.sipp_failed, self.calls - self.dialogues_ok)


def verb_of(command: str) -> str:
    for verb in ("STREAM FILE", "GET DATA", "SET VARIABLE", "ANSWER"):
        if command.upper().startswith(verb):
            return verb
    return command.split(" ", 1)[0].upper()


class StatsTail:
    """New JSON lines of one variant's RTT file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def read(self) -> list[tuple[str, float]]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line still being written stays for the next read
        self.offset += end
        out: list[tuple[str, float]] = []
        for line in data[:end].splitlines():
            out.extend((verb_of(str(c)), float(s)) for c, s in json.loads(line))
        return out


def read_outcomes(asterisk: AsteriskInstance, variant: str) -> dict[str, int]:
    """AGISTATUS:IVR_CHOICE -> calls, from `database show bench`; then empties the family."""
    counts: dict[str, int] = {}
    for line in asterisk.cli(f"database show {RESULT_FAMILY}", timeout=30).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().startswith(f"/{RESULT_FAMILY}/{variant}-"):
            counts[value.strip()] = counts.get(value.strip(), 0) + 1
    asterisk.cli(f"database deltree {RESULT_FAMILY}", timeout=30)
    return counts


def wait_idle(asterisk: AsteriskInstance, timeout: float = SETTLE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = asterisk.cli("core show channels count")
        if "0 active calls" in out:
            return True
        time.sleep(0.25)
    return False


def run_step(
    rig: BenchRig, variant: str, rate: float, calls: int, workdir: Path, patience_ms: int = PATIENCE_MS
) -> StepResult:
    """Place `calls` calls at `rate`/s into `variant`; bounded by calls/rate + 45 s."""
    work = workdir / f"{variant}-r{rate:g}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "caller.xml").write_text(caller_scenario(work, patience_ms), encoding="ISO-8859-1")
    (work / "callers.csv").write_text("SEQUENTIAL\n" + "".join(f"49{i:07d};\n" for i in range(calls)))
    tail = StatsTail(rig.stats_file(variant))
    rig.asterisk.cli(f"database deltree {RESULT_FAMILY}")
    limit_s = calls / rate + 45
    cmd = caller_command(rig.target, service(variant), work / "caller.xml", work / "callers.csv", calls=calls,
                         rate=rate, limit=calls, timeout_s=int(limit_s), recv_timeout_ms=patience_ms)
    result = StepResult(variant, rate, calls, load_average=os.getloadavg()[0])
    cpu0, ast0 = rig.cpu_seconds(variant), rig.asterisk_cpu_seconds()
    started = time.monotonic()
    try:
        subprocess.run(cmd, capture_output=True, timeout=limit_s + 15, cwd=work, check=False)
    except subprocess.TimeoutExpired:
        result.note = "sipp killed at its time limit"
    result.seconds = time.monotonic() - started
    if not wait_idle(rig.asterisk):
        result.note = (result.note + "; " if result.note else "") + "channels still up after the step"
    result.agi_cpu_s = rig.cpu_seconds(variant) - cpu0
    result.asterisk_cpu_s = rig.asterisk_cpu_seconds() - ast0
    result.sipp_ok, result.sipp_failed = call_counts(work / "stat.csv")
    result.outcomes = read_outcomes(rig.asterisk, variant)
    result.dialogues_ok = result.outcomes.get(OK_CHOICE, 0)
    result.samples = tail.read()
    return result
