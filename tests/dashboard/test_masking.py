"""Supervisors never see a raw customer number: every JSON answer and page a supervisor can open
about a call is scanned for the numbers written into its record (caller, callback number, dial
strings of callback attempts, keyed-in digits, call variables); admins see them raw."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from ivr import keys
from ivr.privacy.masking import mask_text
from ivr.settings import Settings
from tests.dashboard_support import (
    dashboard_settings,
    login,
    with_shipped_queues,
    write_call,
    write_recording,
)

pytestmark = pytest.mark.timeout(60)
CALL = "1700000000.5"
NUMBERS = ("13812345678", "13900001111", "13922223333", "13944445555", "13955556666")
PHONE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    settings = with_shipped_queues(dashboard_settings(redis_url, tmp_path))
    fields = write_recording(settings.recordings_dir, CALL)
    now = time.time()
    write_call(redis_url, CALL, now - 60, agent="1001", queue="support", outcome="callback",
               callback_number="13900001111", callback={"id": "5f1234567abc", "number": "13900001111"}, **fields)
    r = redis.Redis.from_url(redis_url)
    for event in (
        {"t": now - 50, "kind": "dtmf", "digits": "13900001111", "during": "callback_number"},
        {"t": now - 49, "kind": "callback", "id": "5f1234567abc", "callback_number": 13900001111},
        {"t": now - 48, "kind": "set", "call": {"vip_line": "+8613922223333"}},
        {"t": now - 40, "kind": "callback_attempt", "callback": "5f1234567abc", "outcome": "customer_no_answer",
         "agent": "1001", "dial": "PJSIP/13900001111@trunk", "reason": "no answer from 13900001111"},
        {"t": now - 30, "kind": "transfer", "to": "PJSIP/13944445555@trunk"},
    ):
        r.rpush(keys.call_events(CALL), json.dumps(event))
    r.hset(keys.queue_callers("support"), "u1", json.dumps({"caller": "13955556666", "since": now - 5}))
    return settings


def supervisor_views(client: TestClient) -> dict[str, str]:
    html = {"accept": "text/html"}
    return {
        "/api/calls": client.get("/api/calls").text,
        f"/api/calls/{CALL}": client.get(f"/api/calls/{CALL}").text,
        f"/api/calls/{CALL}/transcript": client.get(f"/api/calls/{CALL}/transcript").text,
        "/calls": client.get("/calls", headers=html).text,
        f"/calls/{CALL}": client.get(f"/calls/{CALL}", headers=html).text,
        "/api/queues": client.get("/api/queues").text,
        "/wallboard": client.get("/wallboard", headers=html).text,
        "/api/live/calls": client.get("/api/live/calls").text,
    }


def test_no_raw_customer_number_reaches_a_supervisor(client: TestClient) -> None:
    login(client, "sup")
    for where, text in supervisor_views(client).items():
        decoded = json.dumps(json.loads(text), ensure_ascii=False) if where.startswith("/api/") else text
        assert not PHONE.search(decoded), (where, PHONE.findall(decoded))
        assert not any(n in decoded for n in NUMBERS), where
    record = client.get(f"/api/calls/{CALL}").json()
    attempt = next(e for e in record["events"] if e["kind"] == "callback_attempt")
    assert attempt["dial"] == "PJSIP/139****1111@trunk" and attempt["callback"] == "5f1234567abc"
    assert record["caller"] == "138****5678" and record["call_id"] == CALL  # ids stay usable for links
    assert CALL in record["recording"]["mixed"]


def test_admins_see_numbers_raw(client: TestClient) -> None:
    login(client, "boss")
    record = client.get(f"/api/calls/{CALL}").json()
    attempt = next(e for e in record["events"] if e["kind"] == "callback_attempt")
    assert attempt["dial"] == "PJSIP/13900001111@trunk" and record["caller"] == "13812345678"


def test_digit_runs_are_masked_but_not_ids_or_decimals() -> None:
    assert mask_text("PJSIP/13812345678@trunk") == "PJSIP/138****5678@trunk"
    assert mask_text("我的电话是13812345678，谢谢") == "我的电话是138****5678，谢谢"
    assert mask_text("+8613812345678") == "+86*******5678"
    assert mask_text("recordings/2026/03/02/1700000000.5.wav") == "recordings/2026/03/02/1700000000.5.wav"
    assert mask_text("agent 1001, 5 rings, 180 s") == "agent 1001, 5 rings, 180 s"
