from __future__ import annotations

import pytest

from ivr.queueing.misses import MissCounter, agent_from_interface
from ivr.queueing.timing import answer_timing, answered_within_rings, rings_heard

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("delay", "cycle", "within"),
    [(0.0, 5, True), (14.9, 5, True), (15.0, 5, True), (15.1, 5, False), (17.5, 6, True), (18.5, 6, False)],
)
def test_within_three_rings_depends_on_the_deployment_cycle(delay: float, cycle: float, within: bool) -> None:
    assert answered_within_rings(1000.0, 1000.0 + delay, cycle) is within


def test_ring_count_and_bad_input() -> None:
    assert [rings_heard(0, t, 5) for t in (0.0, 0.5, 5.0, 5.5, 14.0, 16.0)] == [1, 1, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="before first_ring_at"):
        answered_within_rings(10, 5, 5)
    with pytest.raises(ValueError, match="ring_cycle_s"):
        answered_within_rings(0, 5, 0)


def test_answer_timing_from_queue_entry_and_first_ring() -> None:
    t = answer_timing(entered_at=100, first_ring_at=130, answered_at=142, left_at=None, ring_cycle_s=5)
    assert (t.answered, t.wait_s, t.ring_s, t.rings, t.within_rings) == (True, 42, 12, 3, True)
    late = answer_timing(entered_at=100, first_ring_at=101, answered_at=118, left_at=None, ring_cycle_s=5)
    assert (late.rings, late.within_rings) == (4, False)
    gone = answer_timing(entered_at=100, first_ring_at=None, answered_at=None, left_at=160, ring_cycle_s=5)
    assert (gone.answered, gone.wait_s, gone.ring_s, gone.within_rings) == (False, 60, None, False)
    with pytest.raises(ValueError, match="first ring"):
        answer_timing(entered_at=100, first_ring_at=None, answered_at=120, left_at=None, ring_cycle_s=5)


def test_pause_after_n_misses_in_a_row() -> None:
    c = MissCounter(threshold=3)
    assert c.missed("1001") is None and c.missed("1001") is None
    c.answered("1001")  # the run is broken
    assert c.misses("1001") == 0
    assert [c.missed("1001") for _ in range(2)] == [None, None]
    order = c.missed("1001")
    assert order is not None and (order.agent, order.misses) == ("1001", 3)
    assert order.reason == "auto: missed 3 calls in a row"
    assert c.misses("1001") == 0  # after an unpause the agent gets the full N chances again
    assert c.missed("1002") is None  # counted per agent


def test_threshold_one_and_never() -> None:
    assert MissCounter(threshold=1).missed("a") is not None
    never = MissCounter(threshold=0)
    assert all(never.missed("a") is None for _ in range(50))
    with pytest.raises(ValueError):
        MissCounter(threshold=-1)


def test_agent_from_interface_and_channel() -> None:
    assert agent_from_interface("PJSIP/1001") == "1001"
    assert agent_from_interface("PJSIP/1001-0000002a") == "1001"
    assert agent_from_interface("PJSIP/desk-7") == "desk-7"
    with pytest.raises(ValueError):
        agent_from_interface("Local/1001@ctx")
