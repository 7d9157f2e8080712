"""Who ended a call that never reached an agent: the engine knows (the caller's hangup reaches it as
AgiHangup; a hangup node is the system) and says so on the record as `ended_by`."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scripted_channel import HANGUP
from tests.test_engine_calls import call, make_engine

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


async def test_caller_hanging_up_in_the_menu_is_ended_by_the_caller(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, _, rec = await call(make_engine(tmp_path, prompts_dir), ["", "7", HANGUP])
    assert outcome == "caller_hangup" and rec.fields["ended_by"] == "caller"


async def test_the_flow_hanging_up_is_ended_by_the_system(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, ch, rec = await call(make_engine(tmp_path, prompts_dir), ["", "", "", ""])
    assert outcome == "hangup" and ch.commands[-1] == ("hangup",) and rec.fields["ended_by"] == "system"


async def test_a_call_handed_to_the_dialplan_is_not_claimed(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, _, rec = await call(make_engine(tmp_path, prompts_dir), ["", "0"])
    assert outcome == "queued" and "ended_by" not in rec.fields  # the bridge's end is hangup_by's (hook)
