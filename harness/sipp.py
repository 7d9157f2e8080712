"""Run SIPp: callers placing real calls into Asterisk, agents' phones answering them."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.ports import free_port
from harness.scenarios import Step, agent_scenario, caller_scenario, register_scenario

MEDIA_SPAN = 4  # SIPp's -mp P binds audio RTP on P and RTCP and video on the ports after it
START_CHECK_S = 0.4  # a phone that cannot bind its ports exits within milliseconds


class SippError(RuntimeError):
    pass


def free_media_port() -> int:
    """A UDP port P with P..P+3 free: a port free on its own could be a neighbour SIPp's video port
    (seen: "Unable to bind audio RTP socket ... Address already in use" on a customer phone)."""
    for _ in range(50):
        base = free_port(socket.SOCK_DGRAM)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + MEDIA_SPAN):
                socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                socks[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise SippError(f"no {MEDIA_SPAN} consecutive free UDP ports on 127.0.0.1 for SIPp's media")


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if not path:
        raise SippError("sipp not found: install the Debian package sip-tester (`make demo` does)")
    return path


def free_sip_port() -> int:
    """A port free for UDP (Asterisk's SIP transport) and TCP alike."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise SippError("no port free for SIP over both UDP and TCP")


@dataclass
class CallResult:
    returncode: int
    successful: int
    failed: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


def call_counts(stat_file: Path) -> tuple[int, int]:
    """Successful and failed call counts from SIPp's -trace_stat CSV (last line = totals)."""
    if not stat_file.exists():
        return 0, 0
    rows = list(csv.reader(stat_file.read_text().splitlines(), delimiter=";"))
    if len(rows) < 2:
        return 0, 0
    head, last = rows[0], rows[-1]
    col = dict(zip(head, last, strict=False))
    return int(col.get("SuccessfulCall(C)", 0) or 0), int(col.get("FailedCall(C)", 0) or 0)


def caller_command(
    target: str, service: str, scenario: Path, callers_csv: Path, *, calls: int, rate: float, limit: int,
    timeout_s: int, recv_timeout_ms: int,
) -> list[str]:
    """The SIPp command line of a caller run, on loopback ports of its own; its stat.csv and
    errors.log land beside the scenario (read them with `call_counts`)."""
    work = scenario.parent
    return [
        sipp_binary(), target, "-sf", str(scenario), "-s", service, "-inf", str(callers_csv),
        "-m", str(calls), "-r", f"{rate:g}", "-l", str(limit),
        "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)),
        "-mi", "127.0.0.1", "-mp", str(free_media_port()),
        "-nostdin", "-trace_stat", "-stf", str(work / "stat.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(work / "errors.log"),
        "-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", str(recv_timeout_ms),
    ]


def place_calls(
    target: str,
    service: str,
    steps: list[Step],
    callers: list[str],
    *,
    rate: float = 1.0,
    limit: int | None = None,
    timeout_s: float = 120.0,
    workdir: Path | None = None,
) -> CallResult:
    """Place one call per caller id (in order), `rate` new calls per second; blocks until all ended."""
    work = Path(tempfile.mkdtemp(prefix="sipp-", dir=workdir))
    scenario = work / "caller.xml"
    scenario.write_text(caller_scenario(steps, work), encoding="ISO-8859-1")
    inf = work / "callers.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{c};\n" for c in callers))
    cmd = caller_command(target, service, scenario, inf, calls=len(callers), rate=rate, limit=limit or len(callers),
                         timeout_s=int(timeout_s), recv_timeout_ms=int(timeout_s * 1000))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 15, cwd=work, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SippError(f"sipp did not finish within {timeout_s + 15}s ({work})") from exc
    ok, failed = call_counts(work / "stat.csv")
    err = (work / "errors.log").read_text(errors="replace") if (work / "errors.log").exists() else ""
    return CallResult(out.returncode, ok, failed, out.stdout, out.stderr + err)


def register(target: str, username: str, password: str, workdir: Path, *, expires: int = 60,
             timeout_s: int = 20) -> CallResult:
    """Register as `username` at `target` (host:port) the way a softphone does (digest auth);
    expires=0 removes the registration again."""
    work = Path(tempfile.mkdtemp(prefix="sipp-register-", dir=workdir))
    scenario = work / "register.xml"
    scenario.write_text(register_scenario(username, password, expires), encoding="ISO-8859-1")
    cmd = [sipp_binary(), target, "-sf", str(scenario), "-s", username, "-m", "1",
           "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-nostdin",
           "-trace_stat", "-stf", str(work / "stat.csv"), "-trace_err", "-error_file", str(work / "errors.log"),
           "-timeout", f"{timeout_s}s", "-timeout_error"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 10, cwd=work, check=False)
    ok, failed = call_counts(work / "stat.csv")
    err = (work / "errors.log").read_text(errors="replace") if (work / "errors.log").exists() else ""
    return CallResult(out.returncode, ok, failed, out.stdout, out.stderr + err)


class SippAgent:
    """An agent's phone: a SIPp UAS on its own port that rings for `ring_ms` then answers."""

    def __init__(self, name: str, ring_ms: int, talk_ms: int, workdir: Path, speech: Path | None = None,
                 *, new_session: bool = False) -> None:
        """`new_session`: run SIPp in a session of its own (the live demo stops it; Ctrl-C does not)."""
        self.name = name
        self.new_session = new_session
        self.port = free_port(socket.SOCK_DGRAM)
        self.ring_ms = ring_ms
        self.talk_ms = talk_ms
        self.speech = speech
        self.workdir = workdir / f"agent-{name}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def contact(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the phone; one whose media ports were taken between the choice and SIPp's bind is
        started again on others (its SIP port, known to Asterisk, stays)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        sf = self.workdir / "agent.xml"
        sf.write_text(agent_scenario(self.ring_ms, self.talk_ms, self.speech), encoding="ISO-8859-1")
        errors, text = self.workdir / "errors.log", ""
        for _ in range(3):
            errors.unlink(missing_ok=True)
            self._spawn(sf)
            if not self._exited_early():
                return
            text = errors.read_text(errors="replace") if errors.exists() else ""
            if "Unable to bind" not in text or "RTP" not in text:
                raise SippError(f"{self.name}'s phone (SIPp) exited at start: {text[-1000:]}")
        raise SippError(f"{self.name}'s phone (SIPp) could not bind media ports three times: {text[-1000:]}")

    def _exited_early(self) -> bool:
        deadline = time.monotonic() + START_CHECK_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return True
            time.sleep(0.02)
        return False

    def _spawn(self, sf: Path) -> None:
        log = open(self.workdir / "sipp.log", "ab")
        self._proc = subprocess.Popen(
            [sipp_binary(), "-sf", str(sf), "-i", "127.0.0.1", "-p", str(self.port),
             "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-nostdin", "-trace_stat",
             "-stf", str(self.workdir / "stat.csv"), "-fd", "1", "-trace_err",
             "-error_file", str(self.workdir / "errors.log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            start_new_session=self.new_session,
        )
        log.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stats(self) -> tuple[int, int]:
        return call_counts(self.workdir / "stat.csv")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
