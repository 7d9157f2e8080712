"""The call record's own period (IVR_CALL_RECORD_TTL_DAYS) is held to the policy's 3 months like the
other retention periods: a shorter one is refused at load, naming the setting, the value and the rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ivr import keys
from ivr.settings import load_settings

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("days", [1, 30, 89])
def test_call_record_ttl_under_90_days_is_refused(days: int) -> None:
    with pytest.raises(ValidationError, match=f"call_record_ttl_days={days}: call records are kept at least 90"):
        load_settings(call_record_ttl_days=days)


def test_call_record_ttl_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_CALL_RECORD_TTL_DAYS", "60")
    with pytest.raises(ValidationError, match="call_record_ttl_days=60"):
        load_settings()


def test_call_record_ttl_of_90_days_or_more_is_kept() -> None:
    settings = load_settings(call_record_ttl_days=90)
    assert settings.call_record_ttl_days == 90
    assert keys.call_record_ttl_s(settings) == 90 * keys.DAY_S
    assert load_settings().call_record_ttl_days >= 90
