"""The benchmark's word agreement: word error rate over word sequences and word-time shifts."""

from __future__ import annotations

import pytest

from bench.transcribe_compare import agreement, align

pytestmark = pytest.mark.timeout(10)


def test_edit_distance_and_the_pairs_of_equal_words() -> None:
    assert align(list("abcd"), list("abcd")) == (0, [(0, 0), (1, 1), (2, 2), (3, 3)])
    dist, pairs = align(list("abcd"), list("axd"))  # one substitution, one deletion
    assert dist == 2 and (0, 0) in pairs and (3, 2) in pairs and len(pairs) == 2
    assert align([], list("ab")) == (2, [])


def test_agreement_counts_errors_over_reference_words_and_time_shifts() -> None:
    ref = {"c/agent": [("a", 0.0, 0.3), ("b", 0.3, 0.6)], "c/caller": [("x", 1.0, 1.2)]}
    same = agreement(ref, ref, 0.05)
    assert (same.wer, same.matched, same.within, same.max_shift) == (0.0, 3, 3, 0.0)
    hyp = {"c/agent": [("a", 0.02, 0.3), ("q", 0.3, 0.6)], "c/caller": [("x", 1.1, 1.2)], "d/agent": [("z", 0, 1)]}
    a = agreement(ref, hyp, 0.05)
    assert a.errors == 2 and a.wer == pytest.approx(2 / 3)  # b -> q, and a leg the reference lacks
    assert (a.matched, a.within) == (2, 1) and a.max_shift == pytest.approx(0.1)
    assert agreement(ref, {}, 0.05).wer == 1.0
