"""Phrase lists and phrase matching the way recognizers write text.

A recognizer may write "你 问 我 ， 我 问 谁", "你问我,我问谁" or "你问我我问谁": spaces between
characters or not, full-width or ASCII punctuation or none. Text and phrases are therefore
compared as token sequences: NFKC (full-width -> ASCII), lower case, punctuation and spaces
dropped, every CJK character its own token and every Latin word one token (so "hey" never
matches inside "they").

Lists live in `Settings.qa_policy_dir` as `<kind>-phrases-<lang>.txt` (one phrase a line, `#`
comments); `zh-CN` falls back to `zh`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

KINDS = ("forbidden", "courtesy", "greeting")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PIECE = re.compile(rf"[{_CJK}]|[^{_CJK}]+")
_WORD = re.compile(r"[^\W_]+")


class PhraseListError(LookupError):
    """A phrase list is missing for a language, or has an entry that cannot match anything."""


def tokens(text: str) -> list[str]:
    """The comparable tokens of `text` (see the module docstring)."""
    norm = unicodedata.normalize("NFKC", text).casefold()
    return [piece for word in _WORD.findall(norm) for piece in _PIECE.findall(word)]


@dataclass(frozen=True)
class Phrase:
    text: str
    tokens: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class PhraseList:
    kind: str
    language: str
    path: Path
    phrases: tuple[Phrase, ...]
    digest: str  # changes when the list does; stored with QA results to spot stale analyses


def parse_list(text: str, path: Path, kind: str, language: str) -> PhraseList:
    phrases: list[Phrase] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        toks = tuple(tokens(line))
        if not toks:
            raise PhraseListError(f"{path}:{n}: phrase {line!r} has no letters or characters to match")
        phrases.append(Phrase(line, toks, n))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return PhraseList(kind, language, path, tuple(phrases), digest)


def list_path(policy_dir: Path, kind: str, language: str) -> Path:
    if kind not in KINDS:
        raise PhraseListError(f"unknown phrase list kind {kind!r}; expected one of {', '.join(KINDS)}")
    lang = language.lower().replace("_", "-")
    for candidate in dict.fromkeys([lang, lang.split("-")[0]]):
        path = Path(policy_dir) / f"{kind}-phrases-{candidate}.txt"
        if path.is_file():
            return path
    raise PhraseListError(
        f"no {kind} phrase list for language {language!r} in {policy_dir} "
        f"(expected {kind}-phrases-{lang.split('-')[0]}.txt)"
    )


def load_list(policy_dir: Path, kind: str, language: str) -> PhraseList:
    path = list_path(policy_dir, kind, language)
    return parse_list(path.read_text(encoding="utf-8"), path, kind, language)


@dataclass(frozen=True)
class Token:
    text: str
    t: float  # seconds into the call (start of the word it came from)


def find(stream: Sequence[Token | None], phrase: Phrase) -> list[float]:
    """Start times of every occurrence of `phrase` in `stream`; None entries are barriers
    (a long pause) that a phrase never spans."""
    n, hits = len(phrase.tokens), []
    for i in range(len(stream) - n + 1):
        window = stream[i : i + n]
        if all(tok is not None and tok.text == want for tok, want in zip(window, phrase.tokens, strict=True)):
            first = window[0]
            assert first is not None
            hits.append(first.t)
    return hits


def find_all(stream: Sequence[Token | None], phrases: Iterable[Phrase]) -> list[tuple[Phrase, float]]:
    return [(p, t) for p in phrases for t in find(stream, p)]


def text_stream(text: str, t: float = 0.0) -> list[Token | None]:
    """Tokens of plain text, all at time `t` (for matching text without timings)."""
    return [Token(tok, t) for tok in tokens(text)]
