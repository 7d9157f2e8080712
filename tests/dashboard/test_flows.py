"""Flow editor (admins): graph, checks before saving, diff, atomic save picked up by the FlowStore,
kept versions restorable, a broken flow never saved, audited."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from dashboard.flowfiles import FlowFiles, text_version
from ivr import keys
from ivr.callflow.store import FlowStore
from ivr.settings import Settings
from tests.dashboard_support import dashboard_settings, login
from tests.support.flowstore import big_flow

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]
BROKEN_GOTO = ("start: greeting", "start: no_such_node")


def copy_flows(flows: Path) -> None:
    for f in (REPO / "ivr" / "flows").glob("*.yaml"):
        shutil.copy(f, flows / f.name)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    copy_flows(d)
    return d


@pytest.fixture
def settings(redis_url: str, tmp_path: Path, flows: Path) -> Settings:
    return dashboard_settings(redis_url, tmp_path)  # on the copied flows


def form_value(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no {name} in page"
    return html.unescape(m.group(1))


def test_supervisors_cannot_open_flows(client: TestClient) -> None:
    csrf = login(client, "sup")
    assert client.get("/flows", headers={"accept": "text/html"}).status_code == 403
    assert client.get("/api/flows").status_code == 403
    assert client.post("/api/flows/hotline/check", json={"text": ""}, headers={"x-csrf-token": csrf}
                       ).status_code == 403


def test_flow_page_draws_the_graph(client: TestClient) -> None:
    login(client, "boss")
    assert "hotline" in client.get("/flows", headers={"accept": "text/html"}).text
    page = client.get("/flows/hotline", headers={"accept": "text/html"}).text
    assert "<svg" in page and 'data-node="greeting"' in page and "choices.1" in page
    assert client.get("/flows/nope", headers={"accept": "text/html"}).status_code == 404
    assert client.get("/flows/..%2Fqueues", headers={"accept": "text/html"}).status_code in (400, 404)


def test_broken_flow_is_never_saved(client: TestClient, flows: Path, redis_url: str) -> None:
    csrf = login(client, "boss")
    before = (flows / "hotline.yaml").read_text()
    broken = before.replace(*BROKEN_GOTO)
    for step in ("review", "save"):
        resp = client.post(f"/flows/hotline/{step}", data={"csrf_token": csrf, "text": broken,
                                                           "base_version": text_version(before)})
        assert resp.status_code == 400, step
        assert "Not saved" in resp.text and "no_such_node" in resp.text
        assert re.search(r"hotline\.yaml:\d+", resp.text), "the error names the file and line"
    yaml_error = client.post("/flows/hotline/save", data={"csrf_token": csrf, "text": "name: [unclosed\nnodes:",
                                                          "base_version": text_version(before)})
    assert yaml_error.status_code == 400 and "YAML syntax error" in yaml_error.text
    assert (flows / "hotline.yaml").read_text() == before
    assert not list(flows.glob(".*"))  # no temp file left behind
    api = client.post("/api/flows/hotline/check", json={"text": broken}, headers={"x-csrf-token": csrf}).json()
    assert api["ok"] is False and any("no_such_node" in i["text"] for i in api["issues"])
    assert not any(json.loads(e)["action"].startswith("flow") for e in
                   redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1))


def test_review_shows_diff_then_save_keeps_history_and_restore(client: TestClient, flows: Path,
                                                               redis_url: str) -> None:
    csrf = login(client, "boss")
    original = (flows / "hotline.yaml").read_text()
    edited = original.replace("description: Customer-service hotline", "description: Hotline (edited)")
    review = client.post("/flows/hotline/review", data={"csrf_token": csrf, "text": edited,
                                                        "base_version": text_version(original)})
    assert review.status_code == 200
    assert "+description: Hotline (edited)" in html.unescape(review.text)
    assert "-description: Customer-service hotline" in html.unescape(review.text)
    assert (flows / "hotline.yaml").read_text() == original  # reviewing saves nothing

    saved = client.post("/flows/hotline/save", data={"csrf_token": csrf, "text": edited,
                                                     "base_version": text_version(original)},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert (flows / "hotline.yaml").read_text() == edited

    stale = client.post("/flows/hotline/save", data={"csrf_token": csrf, "text": original,
                                                     "base_version": text_version(original)})
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    assert (flows / "hotline.yaml").read_text() == edited

    page = client.get("/flows/hotline", headers={"accept": "text/html"}).text
    entry = form_value(page, "entry")
    assert entry.endswith(text_version(original))
    restore = client.post("/flows/hotline/restore", data={"csrf_token": csrf, "entry": entry,
                                                          "base_version": text_version(edited)})
    assert restore.status_code == 200 and "restoring" in restore.text
    back = client.post("/flows/hotline/save", data={"csrf_token": csrf, "text": original, "restored_from": entry,
                                                    "base_version": text_version(edited)}, follow_redirects=False)
    assert back.status_code == 303 and (flows / "hotline.yaml").read_text() == original
    audit = [json.loads(e) for e in redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1)]
    flow_entries = [(e["user"], e["action"], e["target"]) for e in audit if e["action"].startswith("flow")]
    assert flow_entries == [("boss", "flow_save", "hotline"), ("boss", "flow_restore", "hotline")]


async def test_saved_flow_is_picked_up_by_the_flow_store(tmp_path: Path, flows: Path) -> None:
    store = FlowStore(flows)
    store.reload_all()
    old = store.get("hotline")
    assert old is not None
    stop = asyncio.Event()
    watcher = asyncio.create_task(store.watch(stop, debounce_ms=50))
    await asyncio.sleep(0.3)
    ff = FlowFiles(flows, tmp_path / "state")
    text = (flows / "hotline.yaml").read_text().replace("description: Customer-service hotline",
                                                         "description: reloaded")
    version, result = await ff.save("hotline", text, old.version)
    assert result.ok and version == text_version(text)
    for _ in range(60):
        served = store.get("hotline")
        if served is not None and served.version == version:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(watcher, 5)
    served = store.get("hotline")
    assert served is not None and served.version == version and served.description.startswith("reloaded")


def test_json_api_save_refuses_errors_and_keeps_versions(client: TestClient, flows: Path) -> None:
    csrf = login(client, "boss")
    got = client.get("/api/flows/hotline").json()
    assert got["ok"] is True and got["version"] == text_version(got["text"])
    headers = {"x-csrf-token": csrf}
    broken = got["text"].replace(*BROKEN_GOTO)
    bad = client.put("/api/flows/hotline", json={"text": broken, "base_version": got["version"]}, headers=headers)
    assert bad.status_code == 400 and bad.json()["saved"] is False
    assert any("no_such_node" in i["text"] and i["line"] for i in bad.json()["issues"])
    assert (flows / "hotline.yaml").read_text() == got["text"]
    assert client.put("/api/flows/hotline", json={"text": got["text"], "base_version": "x"}).status_code == 403
    edited = got["text"].replace("description: Customer-service hotline", "description: via API")
    ok = client.put("/api/flows/hotline", json={"text": edited, "base_version": got["version"]}, headers=headers)
    assert ok.status_code == 200 and ok.json()["version"] == text_version(edited)
    history = client.get("/api/flows/hotline").json()["history"]
    assert {h["version"] for h in history} == {got["version"], text_version(edited)}
    old = next(h for h in history if h["version"] == got["version"])
    assert client.get(f"/api/flows/hotline/versions/{old['id']}").json()["text"] == got["text"]
    assert client.get("/api/flows/hotline/versions/nope").status_code == 404


@pytest.mark.parametrize("name", ["queues", "schedules"])
def test_the_flow_editor_saves_flows_only(client: TestClient, flows: Path, name: str) -> None:
    """A valid flow named `queues` used to replace the queue configuration."""
    csrf = login(client, "boss")
    before = (flows / f"{name}.yaml").read_text()
    as_flow = (flows / "hotline.yaml").read_text().replace("name: hotline", f"name: {name}")
    put = client.put(f"/api/flows/{name}", json={"text": as_flow, "base_version": text_version(before)},
                     headers={"x-csrf-token": csrf})
    assert put.status_code == 403 and f"{name}.yaml is the {name} configuration, not a call flow" in put.text
    form = client.post(f"/flows/{name}/save", data={"csrf_token": csrf, "text": as_flow,
                                                    "base_version": text_version(before)})
    assert form.status_code == 403
    assert client.get(f"/api/flows/{name}").status_code == 403
    assert (flows / f"{name}.yaml").read_text() == before
    assert name not in [f["name"] for f in client.get("/api/flows").json()]


def test_a_check_that_overruns_is_refused_and_the_server_keeps_serving(
    client: TestClient, flows: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = login(client, "boss")
    text = (flows / "hotline.yaml").read_text()
    ff: FlowFiles = client.app.state.services.extra["flows"]  # type: ignore[attr-defined]
    ff.check_timeout = 0.2
    with caplog.at_level(logging.WARNING, logger="dashboard.flowfiles"):
        slow = client.post("/api/flows/hotline/check", json={"text": big_flow(text)},
                           headers={"x-csrf-token": csrf})
    assert slow.status_code == 422 and "took longer than 0.2 s: refused" in slow.text
    # The overrun ends at the limit: the check's process is killed, not left to finish its seconds.
    killed = re.search(r"checking hotline.yaml took longer than 0.2 s: stopped \(process (\d+) killed\)",
                       caplog.text)
    assert killed, caplog.text
    with pytest.raises(ProcessLookupError):
        os.kill(int(killed.group(1)), 0)
    put = client.put("/api/flows/hotline", json={"text": big_flow(text), "base_version": text_version(text)},
                     headers={"x-csrf-token": csrf})
    assert put.status_code == 422 and (flows / "hotline.yaml").read_text() == text
    ff.check_timeout = 60
    assert client.post("/api/flows/hotline/check", json={"text": text},
                       headers={"x-csrf-token": csrf}).json()["ok"] is True


def test_flow_checks_run_off_the_event_loop(client: TestClient, flows: Path) -> None:
    """While a multi-second check runs, other requests are answered. Counted, not timed: a check on
    the event loop would hold every request until it ended (one at most would finish inside it),
    however busy the machine; off the loop several are answered, however slow each one is."""
    csrf = login(client, "boss")
    big = big_flow((flows / "hotline.yaml").read_text())
    ff: FlowFiles = client.app.state.services.extra["flows"]  # type: ignore[attr-defined]
    ff.check_timeout = 60  # the limit is not what is tested here: a busy machine must not reach it
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        check = pool.submit(client.post, "/api/flows/hotline/check", json={"text": big},
                            headers={"x-csrf-token": csrf})
        answered_at: list[float] = []
        check.add_done_callback(lambda _: answered_at.append(time.monotonic()))
        while not (ff.scratch_dir.is_dir() and any(ff.scratch_dir.iterdir())):  # the server is checking
            assert not check.done() and time.monotonic() - started < 20, "the check never started"
            time.sleep(0.01)
        gets: list[float] = []
        while not check.done():
            assert client.get("/api/incident").status_code == 200  # a request that checks nothing
            gets.append(time.monotonic())
        assert check.result().status_code == 200, check.result().text
        assert check.result().json()["ok"] is True
    during = [t for t in gets if t < answered_at[0]]
    assert answered_at[0] - started > 1.0, "the check was too quick to tell"
    assert len(during) >= 3, (answered_at[0] - started, gets)
