"""What the AGI benchmark runs against: a private Asterisk with a `[bench]` dialplan, our FastAGI
server (a), the classic pyst2 script that Asterisk starts per call (b) and the bare asyncio
floor (c). Every process listens on loopback only; `BenchRig` starts and stops all of them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from harness.ports import free_port, wait_tcp
from ivr.asterisk.config import RuntimeOptions
from ivr.asterisk.process import AsteriskInstance
from ivr.settings import REPO_ROOT, Settings, load_settings

VARIANTS = ("fastagi", "classic", "floor")
LABELS = {"fastagi": "(a) FastAGI server", "classic": "(b) classic pyst2 AGI", "floor": "(c) bare asyncio floor"}
STATS_FILE_ENV = "IVR_AGI_STATS_FILE"  # read by harness/agi_floor.py and harness/classic_dialogue.py
RESULT_FAMILY = "bench"  # AstDB family: one key <variant>-<uniqueid> per call, value AGISTATUS:IVR_CHOICE


def process_cpu(pid: int, children: bool = False) -> float:
    """utime + stime of a process (or of its reaped children) in seconds, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    first = 13 if children else 11  # cutime, cstime / utime, stime (stat fields 16-17 / 14-15)
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def service(variant: str) -> str:
    """The SIP request user that reaches `variant` (sip:bench-fastagi@...)."""
    return f"bench-{variant}"


def classic_wrapper(path: Path, stats_file: Path) -> Path:
    """The script Asterisk runs per call for (b): the benchmark's classic entry point, which knows
    `dialogue` (the product's `hotline-agi` wrapper runs `python -m agi.classic`, which does not)."""
    path.write_text(f"#!/bin/sh\nexport {STATS_FILE_ENV}={shlex.quote(str(stats_file))}\n"
                    f"cd {shlex.quote(str(REPO_ROOT))}\n"
                    f"exec {shlex.quote(sys.executable)} -m harness.classic_dialogue \"$@\"\n", encoding="utf-8")
    path.chmod(0o700)
    return path


def bench_dialplan(fastagi_port: int, floor_port: int, classic_agi: Path, prompt: str, goodbye: str,
                   max_call_s: int = 60) -> str:
    # Callers land in [hotline-inbound]; exact extension names win over its `_[a-z].` pattern.
    agi = {
        "fastagi": f"agi://127.0.0.1:{fastagi_port}/dialogue,{prompt},{goodbye}",
        "classic": f"{classic_agi},dialogue,{prompt},{goodbye}",
        "floor": f"agi://127.0.0.1:{floor_port}/dialogue,{prompt},{goodbye}",
    }
    lines = ["", "; bench/agi_bench.py: one dialogue through three AGI implementations", "[hotline-inbound]"]
    lines += [f"exten => {service(v)},1,Goto(bench,{v},1)" for v in VARIANTS]
    lines += ["", "[bench]"]
    for v in VARIANTS:
        lines += [
            f"exten => {v},1,Set(BENCH_VARIANT={v})",
            " same => n,Answer()",
            f" same => n,Set(TIMEOUT(absolute)={max_call_s})",
            f" same => n,AGI({agi[v]})",
            " same => n,Goto(bench-result,s,1)",
        ]
    lines += [
        "", "[bench-result]",
        f"exten => s,1,Set(DB({RESULT_FAMILY}/${{BENCH_VARIANT}}-${{UNIQUEID}})=${{AGISTATUS}}:${{IVR_CHOICE}})",
        " same => n,Hangup()", "",
    ]
    return "\n".join(lines)


@dataclass
class BenchRig:
    workdir: Path
    prompt: str = "beep"
    goodbye: str = "vm-goodbye"
    fastagi_max_calls: int = 4000  # above what the RTP range allows: the limit is not what is measured
    settings: Settings = field(init=False)
    asterisk: AsteriskInstance = field(init=False)
    fastagi_port: int = field(init=False)
    floor_port: int = field(init=False)
    _procs: dict[str, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        state = self.workdir / "state"
        self.settings = load_settings(
            sip_port=free_port(), ami_port=free_port(), agi_port=free_port(),
            rtp_port_start=40000, rtp_port_end=49999, state_dir=state, recordings_dir=state / "recordings",
        )
        self.fastagi_port, self.floor_port = free_port(), free_port()
        classic = classic_wrapper(self.workdir / "classic-agi", self.stats_file("classic"))
        options = RuntimeOptions(
            extra_dialplan=bench_dialplan(self.fastagi_port, self.floor_port, classic, self.prompt, self.goodbye)
        )
        self.asterisk = AsteriskInstance(self.settings, state / "asterisk", options)

    def stats_file(self, variant: str) -> Path:
        return self.workdir / f"rtt-{variant}.jsonl"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.settings.sip_port}"

    def start(self) -> None:
        for v in VARIANTS:
            self.stats_file(v).touch()
        self._spawn("fastagi", ["-m", "bench.fastagi_runner", "--port", str(self.fastagi_port),
                                "--stats-file", str(self.stats_file("fastagi")),
                                "--max-calls", str(self.fastagi_max_calls)])
        self._spawn("floor", ["-m", "harness.agi_floor", "--port", str(self.floor_port)])
        self.asterisk.start(timeout=90)  # (b)'s wrapper, written in __post_init__, names its stats file
        wait_tcp(self.fastagi_port)
        wait_tcp(self.floor_port)

    def _spawn(self, variant: str, args: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        env[STATS_FILE_ENV] = str(self.stats_file(variant))
        log = open(self.workdir / f"{variant}.log", "ab")
        try:
            self._procs[variant] = subprocess.Popen(
                [sys.executable, *args], cwd=REPO_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def cpu_seconds(self, variant: str) -> float:
        """CPU time the AGI side of `variant` used so far: the server process for (a) and (c); for
        (b) the per-call scripts, which Asterisk starts and reaps (its children's time)."""
        if variant in self._procs:
            return process_cpu(self._procs[variant].pid)
        pid = self.asterisk.pid()
        return process_cpu(pid, children=True) if pid else 0.0

    def asterisk_cpu_seconds(self) -> float:
        pid = self.asterisk.pid()
        return process_cpu(pid) if pid else 0.0

    def asterisk_version(self) -> str:
        words = self.asterisk.cli("core show version").split()
        return " ".join(words[:2]) if words else "unknown"

    def stop(self) -> None:
        try:
            self.asterisk.stop()
        finally:
            for proc in self._procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in self._procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            self._procs.clear()

    def __enter__(self) -> BenchRig:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
