"""Long numbers as a recognizer writes them: phone, ID and bank-card numbers.

A digit is "1", "１", "一", "幺" (how one is read in phone numbers), "one", or "oh"/"o" next to
other digits; "double five" is "55". Digits joined directly, by spaces or by dashes form a
group; groups of 3+ digits joined by one comma-like mark (a number read in chunks) form one
run. A run of 7+ digits is sensitive; shorter ones (quantities, prices, times, short order
numbers) stay, and so do dates (2024-05-01), clock times (10:30) and amounts with thousands
separators (12,345,678). Positional Chinese numerals (十, 百, 两) are not digits: 一百二十 stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_DIGITS = 7  # below this a number is ordinary; 7-8 digits is already a local landline

_CN = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_EN = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_WEAK = {"oh": "0", "o": "0"}  # only a digit between or next to other digits
_MULT = {"double": 2, "triple": 3}

_PROTECTED = re.compile(
    r"(?<!\d)(?:19|20)\d\d(?P<s>[-/.])(?:0?[1-9]|1[0-2])(?P=s)(?:0?[1-9]|[12]\d|3[01])(?!\d)"  # dates
    r"|(?<!\d)\d{1,2}[:：]\d{2}(?:[:：]\d{2})?(?!\d)"  # clock times
)
_LEX = re.compile(
    r"(?P<digit>\d)|(?P<cn>[零〇一二三四五六七八九幺])"
    r"|(?P<en>\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b)"
    r"|(?P<weak>\b(?:oh|o)\b)|(?P<mult>\b(?:double|triple)\b)|(?P<x>(?<=[\d\s九八七六五四三二一幺零〇])[xX叉](?![A-Za-z]))"
    r"|(?P<soft>[ \t\r\n\u3000]+|[-‐‑‒–—―－]+)|(?P<punct>[,，、;；.。])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Run:
    digits: str  # normalised, e.g. "13812345678"; an ID may end in "X"
    start: int
    end: int
    groups: tuple[int, ...]  # digit count of each chunk as spoken
    joiners: str  # the comma-like marks between chunks ("" when none)


@dataclass
class _Unit:
    value: str
    start: int
    end: int
    weak: bool = False


def _units(text: str) -> list[_Unit | str]:
    """Digit units, "soft"/"punct" separators, and "break" for anything else."""
    protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
    out: list[_Unit | str] = []
    pos = 0
    for m in _LEX.finditer(text):
        if m.start() > pos or any(s <= m.start() < e for s, e in protected):
            out.append("break")
        pos = m.end()
        if any(s <= m.start() < e for s, e in protected):
            continue
        kind, tok = m.lastgroup, m.group()
        if kind == "digit":
            out.append(_Unit(str(int(tok)), m.start(), m.end()))
        elif kind == "cn":
            out.append(_Unit(_CN[tok], m.start(), m.end()))
        elif kind == "en":
            out.append(_Unit(_EN[tok.lower()], m.start(), m.end()))
        elif kind == "weak":
            out.append(_Unit(_WEAK[tok.lower()], m.start(), m.end(), weak=True))
        elif kind == "mult":
            out.append(_Unit("*" * _MULT[tok.lower()], m.start(), m.end(), weak=True))
        elif kind == "x":
            out.append(_Unit("X", m.start(), m.end(), weak=True))
        elif kind == "soft":
            out.append("soft")
        else:
            out.append(f"punct:{tok}")
    if pos < len(text):
        out.append("break")
    return out


@dataclass(frozen=True)
class _Group:
    digits: str
    start: int
    end: int
    sep: str  # how it joins the next group: "break" or the comma-like mark


def _plain(units: list[_Unit]) -> str:
    out, mult = "", 1
    for u in units:
        if u.value.startswith("*"):
            mult = len(u.value)
            continue
        out += u.value * mult
        mult = 1
    return out


def _close(units: list[_Unit], sep: str) -> _Group | None:
    """One chunk with multipliers applied; a dangling "double" is dropped, weak units alone are
    no number."""
    while units and units[-1].value.startswith("*"):
        units = units[:-1]
    if not units or all(u.weak for u in units):
        return None
    return _Group(_plain(units), units[0].start, units[-1].end, sep)


def _groups(text: str) -> list[_Group]:
    groups: list[_Group] = []
    current: list[_Unit] = []
    gap = ""  # between the last unit and what comes next: "", "soft", "punct:<c>" or "break"

    def close(sep: str) -> None:
        nonlocal current
        g = _close(current, sep)
        if g:
            groups.append(g)
        elif groups and groups[-1].sep != "break":
            groups[-1] = _Group(groups[-1].digits, groups[-1].start, groups[-1].end, "break")
        current = []

    for item in _units(text):
        if isinstance(item, _Unit):
            if item.value == "X":
                # An ID's check character: only right after its 17 digits, and it ends the number.
                if current and gap in ("", "soft") and len(_plain(current)) == 17:
                    current.append(item)
                    close("break")
                gap = "break"
                continue
            if current and gap not in ("", "soft"):
                close(gap.removeprefix("punct:"))
            current.append(item)
            gap = ""
        elif item == "soft":
            gap = gap or "soft"
        elif item.startswith("punct:"):
            gap = item if gap in ("", "soft") else "break"
        else:
            gap = "break"
    close("break")
    return groups


def find_runs(text: str) -> list[Run]:
    """Every digit run in `text` (any length): chunks of 3+ digits joined by one comma-like mark
    are one run."""
    runs: list[Run] = []
    chunk: list[_Group] = []
    for g in _groups(text):
        prev = chunk[-1] if chunk else None
        if prev and not (prev.sep != "break" and len(prev.digits) >= 3 and len(g.digits) >= 3):
            runs.append(_run(chunk))
            chunk = []
        chunk.append(g)
    if chunk:
        runs.append(_run(chunk))
    return runs


def _run(chunk: list[_Group]) -> Run:
    return Run(
        "".join(g.digits for g in chunk),
        chunk[0].start,
        chunk[-1].end,
        tuple(len(g.digits) for g in chunk),
        "".join(g.sep for g in chunk[:-1]),
    )


def _is_thousands(run: Run) -> bool:
    return (
        bool(run.joiners)
        and set(run.joiners) <= {",", "，"}
        and run.groups[0] <= 3
        and all(n == 3 for n in run.groups[1:])
    )


def _looks_like_id(d: str) -> bool:
    if len(d) != 18 or not d[:17].isdigit():
        return False
    year, month, day = int(d[6:10]), int(d[10:12]), int(d[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def classify(run: Run) -> str | None:
    """PHONE, ID, CARD or NUMBER for a sensitive run; None for an ordinary number."""
    d = run.digits
    if len(d) < MIN_DIGITS or _is_thousands(run):
        return None
    if _looks_like_id(d):
        return "ID"
    if len(d) <= 12 or (len(d) == 13 and d.startswith("86")) or (len(d) == 15 and d.startswith("0086")):
        return "PHONE"
    if 16 <= len(d) <= 19 and d.isdigit():
        return "CARD"
    return "NUMBER"
