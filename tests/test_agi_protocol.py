"""The AGI protocol module: pure parsing, then reading and sending over a real TCP socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from agi.protocol import (
    AgiDeadChannel,
    AgiHangup,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiTimeout,
    AgiUsageError,
    format_command,
    parse_header_line,
    parse_response,
    quote_arg,
    read_header,
    send_command,
)

# --- pure parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("agi_callerid: 1001", ("agi_callerid", "1001")),
        ("agi_accountcode: ", ("agi_accountcode", "")),
        ("agi_accountcode:", ("agi_accountcode", "")),
        ("agi_request: agi://127.0.0.1:4573/hotline?x=1", ("agi_request", "agi://127.0.0.1:4573/hotline?x=1")),
        ("agi_calleridname: 张 三\r\n", ("agi_calleridname", "张 三")),
        ("agi_arg_1: a: b", ("agi_arg_1", "a: b")),
    ],
)
def test_parse_header_line(line: str, expected: tuple[str, str]) -> None:
    assert parse_header_line(line) == expected


@pytest.mark.parametrize("line", ["callerid: 1001", "agi_callerid 1001", "200 result=0", "agi-x: y", " agi_x: y"])
def test_parse_header_line_rejects_other_lines(line: str) -> None:
    with pytest.raises(AgiProtocolError, match="bad AGI header line") as info:
        parse_header_line(line)
    assert info.value.line == line


def test_parse_response_timeout_and_endpos() -> None:
    r = parse_response("200 result=1 (timeout) endpos=1234\n")
    assert (r.code, r.result, r.data, r.extra) == (200, "1", "timeout", {"endpos": "1234"})


def test_parse_response_simple_and_negative() -> None:
    r = parse_response("200 result=-1")
    assert (r.code, r.result, r.data, r.extra) == (200, "-1", None, {})
    assert r.result_int() == -1


def test_parse_response_empty_result_with_timeout() -> None:
    # GET DATA when nothing was pressed
    r = parse_response("200 result= (timeout)")
    assert (r.result, r.data) == ("", "timeout")


def test_parse_response_data_with_spaces_and_parentheses() -> None:
    r = parse_response("200 result=1 (hello (big) world)")
    assert r.data == "hello (big) world"
    r = parse_response("200 result=1 (a) b) endpos=5")
    assert (r.data, r.extra) == ("a) b", {"endpos": "5"})


def test_parse_response_intermediate_100() -> None:
    r = parse_response("100 result=0 Trying...")
    assert (r.code, r.result, r.text) == (100, "0", "Trying...")


def test_parse_response_error_codes_keep_text() -> None:
    r = parse_response("510 Invalid or unknown command")
    assert (r.code, r.result, r.text) == (510, "", "Invalid or unknown command")
    assert parse_response("511 Command Not Permitted on a dead channel or intercept routine").code == 511
    assert parse_response("520-Invalid command syntax.  Proper usage follows:").code == 520


def test_parse_response_hangup_line() -> None:
    with pytest.raises(AgiHangup):
        parse_response("HANGUP\n")


@pytest.mark.parametrize("line", ["", "hello", "20 result=1", "200 foo=1", "200 result=1 trailing garbage", "2000 x"])
def test_parse_response_garbage(line: str) -> None:
    with pytest.raises(AgiProtocolError, match="bad AGI response"):
        parse_response(line)


def test_result_int_rejects_non_numbers() -> None:
    with pytest.raises(AgiProtocolError, match="not an integer"):
        parse_response("200 result=abc").result_int()


# --- quoting: checked against a port of Asterisk's parse_args() --------------------------


def asterisk_parse_args(s: str) -> list[str]:
    """Python port of res_agi.c parse_args(): double quotes group, backslash escapes."""
    args: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    for ch in s:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and cur is None:
                cur = []
                args.append("")
            continue
        if ch in " \t" and not quoted and not escaped:
            if cur is not None:
                args[-1] = "".join(cur)
            cur = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if cur is None:
            cur = []
            args.append("")
        cur.append(ch)
        escaped = False
    if cur is not None:
        args[-1] = "".join(cur)
    return args


@pytest.mark.parametrize(
    "arg", ["plain", "", "two words", 'say "hi"', "back\\slash", 'mix \\" both', "tab\there", "中文 提示", "a,b"]
)
def test_quote_arg_round_trips_through_asterisk_parser(arg: str) -> None:
    line = format_command("SET VARIABLE", "X", arg)
    assert asterisk_parse_args(line) == ["SET", "VARIABLE", "X", arg]


def test_quote_arg_leaves_plain_arguments_alone() -> None:
    assert quote_arg("welcome") == "welcome"
    assert quote_arg(5000) == "5000"
    assert quote_arg("") == '""'
    assert format_command("STREAM FILE", "welcome", "") == 'STREAM FILE welcome ""'


@pytest.mark.parametrize("arg", ["line\nbreak", "cr\r", "nul\0"])
def test_quote_arg_rejects_line_breaks(arg: str) -> None:
    with pytest.raises(ValueError, match="line break or NUL"):
        quote_arg(arg)


def test_format_command_rejects_lines_asterisk_would_split() -> None:
    with pytest.raises(ValueError, match="too long"):
        format_command("VERBOSE", "x" * 3000)


# --- over a real socket -------------------------------------------------------------------


@dataclass
class Pair:
    """Both ends of one TCP connection: `asterisk` writes what Asterisk would, `agi` reads it."""

    agi_reader: asyncio.StreamReader
    agi_writer: asyncio.StreamWriter
    ast_reader: asyncio.StreamReader
    ast_writer: asyncio.StreamWriter

    async def say(self, *lines: str) -> None:
        self.ast_writer.write("".join(f"{line}\n" for line in lines).encode())
        await self.ast_writer.drain()

    async def heard(self) -> str:
        return (await asyncio.wait_for(self.ast_reader.readline(), 5)).decode().rstrip("\n")


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ast_reader, ast_writer = await asyncio.open_connection("127.0.0.1", port)
    agi_reader, agi_writer = await asyncio.wait_for(accepted.get(), 5)
    yield Pair(agi_reader, agi_writer, ast_reader, ast_writer)
    for w in (ast_writer, agi_writer):
        w.close()
    server.close()
    await server.wait_closed()


HEADER = ["agi_network: yes", "agi_network_script: hotline", "agi_uniqueid: 1700000000.1", "agi_accountcode: "]


@pytest.mark.timeout(10)
async def test_read_header(pair: Pair) -> None:
    await pair.say(*HEADER, "")
    header = await read_header(pair.agi_reader, 2)
    assert header == {"agi_network": "yes", "agi_network_script": "hotline",
                      "agi_uniqueid": "1700000000.1", "agi_accountcode": ""}


@pytest.mark.timeout(10)
async def test_read_header_eof_is_a_hangup_and_does_not_spin(pair: Pair) -> None:
    await pair.say(*HEADER[:2])
    pair.ast_writer.close()
    start = time.monotonic()
    with pytest.raises(AgiHangup, match="after 2 lines"):
        await read_header(pair.agi_reader, 30)
    assert time.monotonic() - start < 1


@pytest.mark.timeout(10)
async def test_read_header_bad_line(pair: Pair) -> None:
    await pair.say(HEADER[0], "GET /hotline HTTP/1.1", "")
    with pytest.raises(AgiProtocolError, match="GET /hotline"):
        await read_header(pair.agi_reader, 2)


@pytest.mark.timeout(10)
async def test_read_header_timeout(pair: Pair) -> None:
    await pair.say(HEADER[0])
    with pytest.raises(AgiTimeout, match="1 lines"):
        await read_header(pair.agi_reader, 0.2)


@pytest.mark.timeout(10)
async def test_send_command_skips_intermediate_100(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "EXEC Playback x", 2))
    assert await pair.heard() == "EXEC Playback x"
    await pair.say("100 result=0 Trying...", "200 result=0")
    assert (await task).result == "0"


@pytest.mark.timeout(10)
async def test_send_command_hangup_before_response_keeps_the_stream_in_step(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "STREAM FILE a \"\"", 2))
    assert await pair.heard() == 'STREAM FILE a ""'
    await pair.say("HANGUP", "200 result=0 endpos=42")
    with pytest.raises(AgiHangup, match="HANGUP line"):
        await task
    # a clean-up command on the dead channel gets its own response, not the old one
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "SET VARIABLE X 1", 2))
    assert await pair.heard() == "SET VARIABLE X 1"
    await pair.say("200 result=1")
    assert (await task).result == "1"


@pytest.mark.timeout(10)
async def test_send_command_hangup_then_511(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "ANSWER", 2))
    await pair.heard()
    await pair.say("HANGUP", "511 Command Not Permitted on a dead channel or intercept routine")
    with pytest.raises(AgiDeadChannel, match="dead channel"):
        await task


@pytest.mark.timeout(10)
async def test_send_command_eof(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "ANSWER", 5))
    await pair.heard()
    pair.ast_writer.close()
    with pytest.raises(AgiHangup, match="connection closed"):
        await task


@pytest.mark.timeout(10)
async def test_send_command_510(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "FROB", 2))
    await pair.heard()
    await pair.say("510 Invalid or unknown command")
    with pytest.raises(AgiInvalidCommand, match="FROB"):
        await task


@pytest.mark.timeout(10)
async def test_send_command_520_multiline_keeps_usage(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "STREAM FILE", 2))
    await pair.heard()
    await pair.say(
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
        "  Send the given file.",
        "520 End of proper usage.",
        "200 result=0",  # the next command's response must stay unread
    )
    with pytest.raises(AgiUsageError) as info:
        await task
    assert info.value.usage == (" Usage: STREAM FILE <filename> <escape digits> [sample offset]\n"
                                "  Send the given file.")
    assert await pair.agi_reader.readline() == b"200 result=0\n"


@pytest.mark.timeout(10)
async def test_send_command_520_single_line(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "SET VARIABLE", 2))
    await pair.heard()
    await pair.say("520 Invalid command syntax.  Proper usage not available.")
    with pytest.raises(AgiUsageError) as info:
        await task
    assert info.value.usage == ""


@pytest.mark.timeout(10)
async def test_send_command_garbage_response(pair: Pair) -> None:
    task = asyncio.create_task(send_command(pair.agi_reader, pair.agi_writer, "ANSWER", 2))
    await pair.heard()
    await pair.say("hello there")
    with pytest.raises(AgiProtocolError, match=r"'hello there'.*ANSWER") as info:
        await task
    assert info.value.line == "hello there"


@pytest.mark.timeout(10)
async def test_send_command_timeout(pair: Pair) -> None:
    start = time.monotonic()
    with pytest.raises(AgiTimeout, match="ANSWER"):
        await send_command(pair.agi_reader, pair.agi_writer, "ANSWER", 0.2)
    assert 0.15 < time.monotonic() - start < 2
