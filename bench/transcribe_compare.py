"""How far one path's words are from the full decode's: word error rate and word-time agreement.

Words are compared per leg as sequences (Levenshtein: substitutions, insertions, deletions over
the reference's length); the times of the words the alignment pairs as equal are compared too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TimedWord = tuple[str, float, float]


@dataclass(frozen=True)
class Agreement:
    ref_words: int
    errors: int
    matched: int  # words the alignment pairs as equal
    within: int  # ... whose start and end are both within the tolerance
    max_shift: float  # largest |start or end difference| of a matched word, seconds
    tolerance: float

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else 0.0


def align(ref: Sequence[str], hyp: Sequence[str]) -> tuple[int, list[tuple[int, int]]]:
    """Edit distance and the index pairs of equal words on one best alignment."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0 and j > 0:
        if ref[i - 1] == hyp[j - 1] and d[i][j] == d[i - 1][j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j - 1] + 1:
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return d[n][m], pairs[::-1]


def agreement(
    ref: Mapping[str, Sequence[TimedWord]], hyp: Mapping[str, Sequence[TimedWord]], tolerance: float
) -> Agreement:
    """`ref` and `hyp` map a leg (any key) to its words; a leg missing from `hyp` has no words."""
    total = errors = matched = within = 0
    shift = 0.0
    for leg, rwords in ref.items():
        hwords = hyp.get(leg, [])
        dist, pairs = align([w for w, _, _ in rwords], [w for w, _, _ in hwords])
        total, errors, matched = total + len(rwords), errors + dist, matched + len(pairs)
        for i, j in pairs:
            delta = max(abs(rwords[i][1] - hwords[j][1]), abs(rwords[i][2] - hwords[j][2]))
            shift = max(shift, delta)
            within += delta <= tolerance
    for leg, hwords in hyp.items():
        if leg not in ref:
            errors += len(hwords)
    return Agreement(total, errors, matched, within, shift, tolerance)
