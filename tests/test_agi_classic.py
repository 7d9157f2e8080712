"""Classic AGI scripts run as Asterisk runs them: `python -m agi.classic <name>` with the AGI
header on stdin and replies written as each command arrives; plus the benchmark dialogue
compared across its three implementations (FastAGI framework, bare floor, classic pyst2), run by
the benchmark's entry point `python -m harness.classic_dialogue <name>` (the product has no dialogue)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from agi.classic.registry import DuplicateRegistration, ScriptRegistry, build_registry
from agi.server import FastAgiServer
from harness.agi_dialogue import dialogue_handler
from harness.agi_floor import start_floor
from harness.classic_dialogue import bench_registry
from ivr import keys
from tests.support.components import free_port
from tests.test_agi_protocol import asterisk_parse_args

REPO = Path(__file__).resolve().parents[1]  # `-m harness...` is found from the checkout
UNIQUEID = "1700000000.42"
BENCH_ENTRY = "harness.classic_dialogue"


def header_lines(script: str, args: Sequence[str]) -> list[str]:
    return [
        f"agi_request: {script}", "agi_channel: PJSIP/caller-00000002", "agi_language: zh",
        "agi_type: PJSIP", f"agi_uniqueid: {UNIQUEID}", "agi_version: 20.0.0",
        "agi_callerid: 13800138000", "agi_calleridname: 张三", "agi_context: hotline",
        "agi_extension: 400", "agi_priority: 3", "agi_enhanced: 0.0", "agi_accountcode: ",
        *(f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)),
    ]


class ClassicRun:
    """A classic AGI script process talking to us as if we were Asterisk."""

    def __init__(self, proc: asyncio.subprocess.Process, started: float) -> None:
        self.proc, self.started = proc, started

    @classmethod
    async def start(cls, script: str, *args: str, env: dict[str, str] | None = None,
                    entry: str = "agi.classic") -> ClassicRun:
        base = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", entry, script, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**base, **(env or {})}, cwd=REPO,
        )
        run = cls(proc, started)
        await run.say(*header_lines(script, args), "")
        return run

    async def say(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        await self.proc.stdin.drain()

    async def heard(self) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        assert raw.endswith(b"\n"), f"expected a command, got {raw!r}; stderr: {await self._stderr()}"
        return raw.decode().rstrip("\n")

    async def exchange(self, command: str, *response: str) -> None:
        assert await self.heard() == command
        await self.say(*response)

    async def hang_up_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    async def finish(self) -> tuple[int, list[str], str]:
        """(exit code, remaining stdout lines, stderr)."""
        assert self.proc.stdout is not None
        out, err = await asyncio.wait_for(self.proc.communicate(), 10)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode().splitlines(), err.decode()

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        try:
            return (await asyncio.wait_for(self.proc.stderr.read(), 5)).decode()
        except TimeoutError:
            return "(still running)"


# --- dialogue --------------------------------------------------------------------------------


@pytest.mark.timeout(30)
async def test_dialogue_sends_the_menu_commands() -> None:
    run = await ClassicRun.start("dialogue", "prompts/my welcome", entry=BENCH_ENTRY)
    await run.exchange("ANSWER", "200 result=0")
    await run.exchange('STREAM FILE "prompts/my welcome" "" 0', "200 result=0 endpos=8000")
    await run.exchange("GET DATA beep 5000 1", "200 result=7")
    await run.exchange("SET VARIABLE IVR_CHOICE 7", "200 result=1")
    await run.exchange('STREAM FILE vm-goodbye "" 0', "200 result=0 endpos=100")
    code, rest, _ = await run.finish()
    assert (code, rest) == (0, [])


@pytest.mark.timeout(30)
async def test_dialogue_nothing_pressed_and_custom_goodbye() -> None:
    run = await ClassicRun.start("dialogue", "welcome", "thanks", entry=BENCH_ENTRY)
    await run.exchange("ANSWER", "200 result=0")
    await run.exchange('STREAM FILE welcome "" 0', "200 result=0 endpos=8000")
    await run.exchange("GET DATA beep 5000 1", "200 result= (timeout)")
    await run.exchange('SET VARIABLE IVR_CHOICE ""', "200 result=1")
    await run.exchange('STREAM FILE thanks "" 0', "200 result=0 endpos=100")
    assert (await run.finish())[:2] == (0, [])


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "reply",
    [("200 result=-1",), ("HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"), ()],
    ids=["result-minus-one", "hangup-511", "eof"],
)
async def test_dialogue_caller_hangs_up_during_get_data(reply: tuple[str, ...]) -> None:
    run = await ClassicRun.start("dialogue", "welcome", entry=BENCH_ENTRY)
    await run.exchange("ANSWER", "200 result=0")
    await run.exchange('STREAM FILE welcome "" 0', "200 result=0 endpos=8000")
    await run.exchange("GET DATA beep 5000 1", *reply)
    await run.hang_up_stdin()
    code, rest, err = await run.finish()
    assert (code, rest) == (0, [])
    assert "caller hung up" in err and "Traceback" not in err


@pytest.mark.timeout(30)
async def test_dialogue_without_prompt_fails_with_failure_line() -> None:
    run = await ClassicRun.start("dialogue", entry=BENCH_ENTRY)
    code, rest, err = await run.finish()
    assert (code, rest) == (1, ["FAILURE"])
    assert "AGI argument 1 must name the prompt" in err


@pytest.mark.timeout(30)
async def test_unknown_script() -> None:
    run = await ClassicRun.start("nosuch", entry=BENCH_ENTRY)
    code, rest, err = await run.finish()
    assert (code, rest) == (2, ["FAILURE"])
    assert "'nosuch'" in err and "dialogue, fallback, voicemail" in err


@pytest.mark.timeout(30)
async def test_product_entry_has_no_benchmark_dialogue() -> None:
    run = await ClassicRun.start("dialogue", "welcome")
    code, rest, err = await run.finish()
    assert (code, rest) == (2, ["FAILURE"])
    assert "'dialogue'" in err and "known: fallback, voicemail" in err


# --- fallback --------------------------------------------------------------------------------


@pytest.mark.timeout(30)
async def test_fallback_with_redis_refusing_exits_0_quickly() -> None:
    run = await ClassicRun.start("fallback", "hotline", env={"IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    await run.exchange("SET VARIABLE IVR_FALLBACK_QUEUE hotline", "200 result=1")
    code, rest, err = await run.finish()
    assert (code, rest) == (0, [])
    assert time.monotonic() - run.started < 2
    assert "fallback not recorded in Redis" in err


@pytest.fixture
def black_hole() -> Iterator[Callable[[], int]]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    sockets: list[socket.socket] = []

    def make() -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        sockets.append(s)
        return int(s.getsockname()[1])

    yield make
    for s in sockets:
        s.close()


@pytest.mark.timeout(30)
async def test_fallback_with_redis_hanging_exits_0_quickly(black_hole: Callable[[], int]) -> None:
    run = await ClassicRun.start("fallback", "vip", env={"IVR_REDIS_URL": f"redis://127.0.0.1:{black_hole()}/0"})
    await run.exchange("SET VARIABLE IVR_FALLBACK_QUEUE vip", "200 result=1")
    code, rest, err = await run.finish()
    assert (code, rest) == (0, [])
    assert time.monotonic() - run.started < 2, err
    assert "fallback not recorded in Redis" in err


@pytest.mark.timeout(30)
async def test_fallback_records_in_redis(redis_url: str) -> None:
    run = await ClassicRun.start("fallback", "hotline", "AGISTATUS=FAILURE", env={"IVR_REDIS_URL": redis_url})
    await run.exchange("SET VARIABLE IVR_FALLBACK_QUEUE hotline", "200 result=1")
    code, rest, err = await run.finish()
    assert (code, rest) == (0, []), err
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        record = client.hgetall(keys.call(UNIQUEID))
        assert json.loads(record["fallback"]) is True
        assert json.loads(record["fallback_reason"]) == "AGISTATUS=FAILURE"
        assert 0 < client.ttl(keys.call(UNIQUEID)) <= 120 * 86400
    finally:
        client.close()


@pytest.mark.timeout(30)
async def test_fallback_when_caller_already_gone_still_records(redis_url: str) -> None:
    run = await ClassicRun.start("fallback", env={"IVR_REDIS_URL": redis_url})
    assert await run.heard() == "SET VARIABLE IVR_FALLBACK_QUEUE support"
    await run.hang_up_stdin()
    code, rest, _ = await run.finish()
    assert (code, rest) == (0, [])
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert json.loads(client.hget(keys.call(UNIQUEID), "fallback_reason") or "null") == "fastagi unavailable"
    finally:
        client.close()


# --- voicemail (hangup handler after [hotline-fallback]'s Record) ------------------------------------


def write_wav(path: Path, frames: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * frames)
    return path


async def check_voicemail(redis_url: str, recordings: Path, path: Path, status: str) -> tuple[dict[str, Any], str]:
    """Runs the script as the dialplan's hangup handler does (no AGI command is answered: the
    channel is gone); returns the call record's fallback_voicemail and the script's stderr."""
    run = await ClassicRun.start("voicemail", str(path), status,
                                 env={"IVR_REDIS_URL": redis_url, "IVR_RECORDINGS_DIR": str(recordings)})
    code, rest, err = await run.finish()
    assert (code, rest) == (0, []), err
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        record = client.hgetall(keys.call(UNIQUEID))
        client.delete(keys.call(UNIQUEID))
    finally:
        client.close()
    return {**json.loads(record["fallback_voicemail"]), "voicemail": json.loads(record.get("voicemail", "null"))}, err


@pytest.mark.timeout(30)
async def test_voicemail_kept_is_on_record(redis_url: str, tmp_path: Path) -> None:
    message = write_wav(tmp_path / "voicemail" / "2026" / "11" / "23" / f"fallback-{UNIQUEID}.wav", 16000)
    mark, err = await check_voicemail(redis_url, tmp_path, message, "SILENCE")
    assert (mark["status"], mark["seconds"], mark["record_status"]) == ("kept", 2.0, "SILENCE"), mark
    assert mark["voicemail"] == str(message)
    assert "ERROR" not in err


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("make", "status", "reason"), [
    ("missing", "HANGUP", "no file (RECORD_STATUS=HANGUP)"),
    ("missing", "", "no file (Record() did not run)"),
    ("garbage", "SILENCE", "unreadable WAV"),
    ("audio", "ERROR", "Record() failed (RECORD_STATUS=ERROR)"),
    ("outside", "SILENCE", "the dialplan and IVR_RECORDINGS_DIR disagree"),
])
async def test_voicemail_lost_is_on_record_and_logged_as_error(
    redis_url: str, tmp_path: Path, make: str, status: str, reason: str
) -> None:
    message = tmp_path / "voicemail" / "2026" / "11" / "23" / f"fallback-{UNIQUEID}.wav"
    if make == "garbage":
        message.parent.mkdir(parents=True)
        message.write_bytes(b"not a wav file at all")
    elif make == "audio":
        write_wav(message, 800)
    elif make == "outside":
        message = write_wav(tmp_path / "elsewhere" / "m.wav", 800)
    mark, err = await check_voicemail(redis_url, tmp_path, message, status)
    assert mark["status"] == "lost" and reason in mark["reason"], mark
    assert mark["voicemail"] is None
    assert "agi.classic ERROR" in err and "fallback voicemail lost" in err, err


@pytest.mark.timeout(30)
async def test_voicemail_empty_message_is_not_a_loss(redis_url: str, tmp_path: Path) -> None:
    message = write_wav(tmp_path / "voicemail" / "2026" / "11" / "23" / f"fallback-{UNIQUEID}.wav", 0)
    mark, err = await check_voicemail(redis_url, tmp_path, message, "HANGUP")
    assert (mark["status"], mark["voicemail"]) == ("empty", None), mark
    assert "agi.classic WARNING" in err and "ERROR" not in err


# --- registry ----------------------------------------------------------------------------------


def test_registry_rejects_duplicates() -> None:
    assert build_registry().names() == ["fallback", "voicemail"]  # the benchmark's dialogue is harness
    registry = bench_registry()
    assert registry.names() == ["dialogue", "fallback", "voicemail"]
    with pytest.raises(DuplicateRegistration, match="'fallback'"):
        registry.register("fallback", registry["dialogue"])
    assert ScriptRegistry().names() == []


# --- the same dialogue three ways -----------------------------------------------------------


async def fastagi_dialogue(port: int) -> list[list[str]]:
    """Play Asterisk for one call of the benchmark dialogue; return the commands as parsed argv."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = ["agi_network: yes", "agi_network_script: dialogue", *header_lines("dialogue", ["welcome"])]
    writer.write("".join(f"{line}\n" for line in [*lines, ""]).encode())
    replies = ["200 result=0", "200 result=0 endpos=8000", "200 result=4", "200 result=1", "200 result=0 endpos=9"]
    commands: list[list[str]] = []
    for reply in replies:
        raw = await asyncio.wait_for(reader.readline(), 5)
        commands.append(asterisk_parse_args(raw.decode().rstrip("\n")))
        writer.write(f"{reply}\n".encode())
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    return commands


@pytest.fixture
async def servers() -> AsyncIterator[tuple[int, int]]:
    framework = FastAgiServer({"dialogue": dialogue_handler}.get, host="127.0.0.1", port=0)
    await framework.start()
    floor = await start_floor("127.0.0.1", 0)
    yield framework.port, int(floor.sockets[0].getsockname()[1])
    await framework.stop(drain=False)
    floor.close()
    await floor.wait_closed()


@pytest.mark.timeout(30)
async def test_framework_floor_and_classic_run_the_same_dialogue(servers: tuple[int, int]) -> None:
    expected = [
        ["ANSWER"],
        ["STREAM", "FILE", "welcome", ""],
        ["GET", "DATA", "beep", "5000", "1"],
        ["SET", "VARIABLE", "IVR_CHOICE", "4"],
        ["STREAM", "FILE", "vm-goodbye", ""],
    ]
    framework_port, floor_port = servers
    assert await fastagi_dialogue(framework_port) == expected
    assert await fastagi_dialogue(floor_port) == expected

    run = await ClassicRun.start("dialogue", "welcome", entry=BENCH_ENTRY)
    classic: list[list[str]] = []
    for reply in ["200 result=0", "200 result=0 endpos=8000", "200 result=4", "200 result=1", "200 result=0"]:
        classic.append(asterisk_parse_args(await run.heard()))
        await run.say(reply)
    assert (await run.finish())[:2] == (0, [])
    # pyst2 always sends STREAM FILE's optional sample offset (0 = from the start)
    assert [c[:-1] if c[:2] == ["STREAM", "FILE"] else c for c in classic] == expected
    assert classic[1][-1] == "0"
