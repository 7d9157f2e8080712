"""Review: recordings by range request (never outside recordings/), transcripts redacted for
supervisors, QA flags placed, scores that cannot be edited, only superseded; all audited."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from ivr import keys
from tests.dashboard_support import login, write_call, write_recording

pytestmark = pytest.mark.timeout(60)
KPI_FORM = {"kpi_answering": "80", "kpi_accuracy": "90", "kpi_handling": "70", "kpi_satisfaction": "100"}


@pytest.fixture
def call(redis_url: str, tmp_path: Path) -> str:
    fields = write_recording(tmp_path / "recordings", "1700000000.1")
    write_call(redis_url, "1700000000.1", time.time() - 60, agent="1001", queue="support", outcome="answered",
               survey={"satisfied": 5}, **fields)
    return "1700000000.1"


def audit_actions(redis_url: str) -> list[tuple[str, str, str]]:
    r = redis.Redis.from_url(redis_url)
    return [(e["user"], e["action"], e["target"]) for e in map(json.loads, r.lrange(keys.AUDIT_LOG, 0, -1))
            if e["action"] not in ("login", "logout", "sample_draw", "review")]


def test_recording_supports_range_requests_and_logs_one_listen_per_playback(client: TestClient, call: str,
                                                                redis_url: str) -> None:
    login(client, "sup")
    full = client.get(f"/calls/{call}/audio")
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert full.content[:4] == b"RIFF"
    first = client.get(f"/calls/{call}/audio", headers={"range": "bytes=0-99"})
    assert first.status_code == 206 and len(first.content) == 100
    assert first.headers["content-range"] == f"bytes 0-99/{len(full.content)}"
    seek = client.get(f"/calls/{call}/audio", headers={"range": "bytes=1000-"})
    assert seek.status_code == 206 and seek.content == full.content[1000:]
    assert client.get(f"/calls/{call}/audio", headers={"range": "bytes=999999-"}).status_code == 416
    dl = client.get(f"/calls/{call}/audio?download=1")
    assert "attachment" in dl.headers["content-disposition"]
    assert audit_actions(redis_url) == [("sup", "listen", call), ("sup", "download", call)]


def access_log(redis_url: str) -> list[tuple[str, str, str]]:
    r = redis.Redis.from_url(redis_url)
    entries = map(json.loads, r.lrange(keys.AUDIT_LOG, 0, -1))
    return [(e["user"], e["action"], e["detail"].get("via", "")) for e in entries
            if e["action"] in ("listen", "download", "transcript", "review")]


@pytest.mark.parametrize("first_range", ["Bytes=0-", "bytes=1-", "bytes = 500-999", "bytes=-100"])
def test_every_access_to_a_recording_or_transcript_is_audited(client: TestClient, call: str, redis_url: str,
                                                              first_range: str) -> None:
    login(client, "sup")
    client.get(f"/calls/{call}/audio", headers={"range": first_range})
    client.get(f"/calls/{call}/audio", headers={"range": "bytes=2000-"})  # the same playback seeking
    assert access_log(redis_url) == [("sup", "listen", "audio")]
    assert client.get(f"/api/calls/{call}/transcript").status_code == 200
    assert client.get(f"/calls/{call}", headers={"accept": "text/html"}).status_code == 200
    assert access_log(redis_url)[1:] == [("sup", "transcript", "api"), ("sup", "review", "page")]
    redis.Redis.from_url(redis_url).delete(keys.dashboard_access_seen("sup", call, "audio"))  # window over
    client.get(f"/calls/{call}/audio", headers={"range": "bytes=3000-"})
    assert access_log(redis_url)[3:] == [("sup", "listen", "audio")]  # a later listen is never lost
    client.cookies.clear()
    login(client, "sup2")
    client.get(f"/api/calls/{call}/transcript")
    assert access_log(redis_url)[4:] == [("sup2", "transcript", "api")]  # per user


def test_two_speaker_files_are_joined_into_stereo(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    fields = write_recording(tmp_path / "recordings", "c2", stereo_mixed=False)
    write_call(redis_url, "c2", time.time(), agent="1001", **fields)
    login(client, "sup")
    resp = client.get("/calls/c2/audio")
    assert resp.status_code == 200
    out = tmp_path / "got.wav"
    out.write_bytes(resp.content)
    channels = subprocess.run(["soxi", "-c", str(out)], capture_output=True, text=True, check=True).stdout
    assert channels.strip() == "2"
    # Left is the caller's file, right the agent's (the player can solo either side).
    left = subprocess.run(["sox", str(out), "-t", "raw", "-", "remix", "1"], capture_output=True, check=True).stdout
    right = subprocess.run(["sox", str(out), "-t", "raw", "-", "remix", "2"], capture_output=True, check=True).stdout
    caller = subprocess.run(["sox", fields["recording"]["caller"], "-t", "raw", "-"], capture_output=True,
                            check=True).stdout
    agent = subprocess.run(["sox", fields["recording"]["agent"], "-t", "raw", "-"], capture_output=True,
                           check=True).stdout
    assert left == caller and right == agent and left != right
    # Kept next to the recording with its age, so the retention purge removes it with the sources.
    stereo = Path(fields["recording"]["caller"]).with_name("c2.stereo.wav")
    assert stereo.is_file() and stereo.stat().st_mtime == Path(fields["recording"]["agent"]).stat().st_mtime


@pytest.mark.parametrize("evil", ["/etc/passwd", "../../../etc/passwd", "2026/../../outside.wav"])
def test_recording_outside_recordings_dir_is_refused(client: TestClient, redis_url: str, tmp_path: Path,
                                                     evil: str) -> None:
    (tmp_path / "outside.wav").write_bytes(b"RIFF-secret")
    write_call(redis_url, "c3", time.time(), agent="1001", recording={"mixed": evil})
    login(client, "sup")
    resp = client.get("/calls/c3/audio")
    assert resp.status_code == 403 and "outside the recordings directory" in resp.json()["detail"]
    assert b"secret" not in resp.content and b"root:" not in resp.content


def test_symlink_out_of_recordings_is_refused(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "outside.wav").write_bytes(b"RIFF-secret")
    link = tmp_path / "recordings" / "link.wav"
    link.symlink_to(tmp_path / "outside.wav")
    write_call(redis_url, "c4", time.time(), agent="1001", recording={"mixed": str(link)})
    login(client, "sup")
    assert client.get("/calls/c4/audio").status_code == 403


def test_call_id_with_a_path_is_refused(client: TestClient) -> None:
    login(client, "sup")
    assert client.get("/calls/..%2F..%2Fetc/audio").status_code in (400, 404)
    assert client.get("/api/calls/a%20b/transcript").status_code == 400


def test_transcript_is_redacted_for_supervisors_raw_for_admins(client: TestClient, call: str) -> None:
    login(client, "sup")
    body = client.get(f"/api/calls/{call}/transcript").json()
    assert body["redacted"] is True
    assert "13812345678" not in json.dumps(body, ensure_ascii=False)
    assert "[PHONE]" in body["lines"][1]["text"]
    assert [f["kind"] for f in body["lines"][1]["flags"]] == ["talk_over"]
    page = client.get(f"/calls/{call}", headers={"accept": "text/html"})
    assert "13812345678" not in page.text and "[PHONE]" in page.text and "talk-over" in page.text
    client.cookies.clear()
    login(client, "boss")
    assert "13812345678" in client.get(f"/api/calls/{call}/transcript").json()["lines"][1]["text"]


def test_score_needs_csrf_and_cannot_be_edited_only_superseded(client: TestClient, call: str,
                                                               redis_url: str) -> None:
    csrf = login(client, "sup")
    assert client.post(f"/calls/{call}/score", data=KPI_FORM).status_code == 403
    ok = client.post(f"/calls/{call}/score", data={**KPI_FORM, "csrf_token": csrf, "comment": "good"},
                     follow_redirects=False)
    assert ok.status_code == 303
    scores = client.get(f"/api/calls/{call}/scores").json()
    assert len(scores) == 1 and scores[0]["total"] == 0.2 * 80 + 0.2 * 90 + 0.3 * 70 + 0.3 * 100
    assert scores[0]["survey"] == {"satisfied": 5} and scores[0]["agent"] == "1001"
    first = scores[0]["id"]

    again = client.post(f"/calls/{call}/score", data={**KPI_FORM, "csrf_token": csrf})
    assert again.status_code == 409 and "cannot be edited" in again.text
    no_reason = client.post(f"/calls/{call}/score", data={**KPI_FORM, "csrf_token": csrf, "supersedes": first})
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    sup = client.post(f"/calls/{call}/score", data={**KPI_FORM, "kpi_handling": "40", "csrf_token": csrf,
                                                     "supersedes": first, "reason": "missed the callback"},
                      follow_redirects=False)
    assert sup.status_code == 303
    scores = client.get(f"/api/calls/{call}/scores").json()
    assert [s["superseded_by"] for s in scores] == [scores[1]["id"], None]
    assert scores[1]["supersedes"] == first and scores[1]["reason"] == "missed the callback"
    assert audit_actions(redis_url) == [("sup", "score", call), ("sup", "supersede", call)]


def test_json_score_api(client: TestClient, call: str) -> None:
    csrf = login(client, "sup")
    body = {"kpis": {"answering": 100, "accuracy": 100, "handling": 100, "satisfaction": 100}}
    assert client.post(f"/api/calls/{call}/scores", json=body).status_code == 403
    resp = client.post(f"/api/calls/{call}/scores", json=body, headers={"x-csrf-token": csrf})
    assert resp.status_code == 201 and resp.json()["total"] == 100
    bad = client.post(f"/api/calls/{call}/scores", json={"kpis": {"answering": 101}},
                      headers={"x-csrf-token": csrf})
    assert bad.status_code == 400 and "accuracy" in bad.json()["detail"] and "101" in bad.json()["detail"]
