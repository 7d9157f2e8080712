"""E-mail addresses, written ("zhang.san@qq.com") or as a recognizer writes them spoken:
"zhang san at gmail dot com", "john dot smith at company dot com dot cn",
"幺二三四五六艾特qq点com", "one two three at one six three dot com".

Repetitions are bounded (an address is short) so that long text cannot make matching quadratic.
"""

from __future__ import annotations

import re

_TLD = r"(?:com|cn|net|org|edu|gov|io|info|biz|co|uk|hk|tw|mo|me|us|de|jp|sg|mobi)"
_DIGIT = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|[0-9零〇一二三四五六七八九幺])"
_DIGITS = rf"{_DIGIT}(?:\s*{_DIGIT}){{0,30}}"
_SPELLED = r"[A-Za-z0-9](?:\s[A-Za-z0-9](?![A-Za-z0-9])){1,40}"  # "j o h n"
_ATOM = rf"(?:{_DIGITS}(?![A-Za-z])|{_SPELLED}|[A-Za-z0-9][A-Za-z0-9_%+-]{{0,63}})"
_JOIN = r"(?:\s*(?:\.|\bdot\b|点|點|_|\bunderscore\b|下划线|-|\bdash\b|\bhyphen\b|横杠|杠)\s*)"
_AT = r"(?:\s*[@＠]\s*|\s+at\s+|\s*艾特\s*|\s*at\s*(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])at\s+)"
_DOT = r"(?:\s*(?:\.|\bdot\b|点|點)\s*)"
_LABEL = rf"(?:{_DIGITS}(?![A-Za-z])|[A-Za-z0-9][A-Za-z0-9-]*)"

WRITTEN = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+){0,6}\.[A-Za-z]{2,}\b"
)
SPOKEN = re.compile(
    rf"(?<![A-Za-z0-9]){_ATOM}(?:{_JOIN}{_ATOM}){{0,8}}{_AT}{_LABEL}(?:{_DOT}{_LABEL}){{0,6}}{_DOT}{_TLD}\b",
    re.IGNORECASE,
)


def find_emails(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses, written or spoken, without overlaps."""
    spans = sorted({m.span() for rx in (WRITTEN, SPOKEN) for m in rx.finditer(text)})
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
