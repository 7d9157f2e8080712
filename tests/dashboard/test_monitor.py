"""Live monitor: ChanSpy modes in the Originate action, checked input, AMI trouble named; audited."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from dashboard.monitor import MonitorError, agent_interface, spy_request
from ivr import keys
from ivr.settings import Settings
from tests.dashboard_support import dashboard_settings, login, with_shipped_queues
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(("mode", "options"), [("listen", "q"), ("whisper", "qw"), ("barge", "qB")])
def test_originate_rings_the_supervisor_into_chanspy(mode: str, options: str) -> None:
    action = spy_request(mode, agent_interface("1001", ["1001", "1002"]), "PJSIP/2001").action("sup")
    assert action["Action"] == "Originate" and action["Channel"] == "PJSIP/2001"
    # The "-" ends the prefix ChanSpy matches: PJSIP/1001-00000012, never PJSIP/10012-00000013.
    assert action["Application"] == "ChanSpy" and action["Data"] == f"PJSIP/1001-,{options}"
    assert action["Async"] == "true"


@pytest.mark.parametrize(("mode", "agent", "endpoint", "named"), [
    ("spy", "1001", "PJSIP/2001", "mode 'spy'"),
    ("listen", "1001,B", "PJSIP/2001", "agent '1001,B'"),
    ("listen", "PJSIP/1001)|System(rm", "PJSIP/2001", "agent"),
    ("listen", "1001", "", "supervisor phone ''"),
    ("listen", "100", "PJSIP/2001", "agent '100': not an agent of queues.yaml"),
    ("listen", "PJSIP/10012", "PJSIP/2001", "agent 'PJSIP/10012': not an agent"),
    ("listen", "PJSIP/1001-0000001", "PJSIP/2001", "agent 'PJSIP/1001-0000001'"),
    ("listen", "SIP/1001", "PJSIP/2001", "agent 'SIP/1001'"),
])
def test_bad_input_is_refused_before_any_ami_action(mode: str, agent: str, endpoint: str, named: str) -> None:
    with pytest.raises(MonitorError, match=named.replace("(", r"\(").replace("|", r"\|")) as err:
        spy_request(mode, agent_interface(agent, ["1001", "1002"]), endpoint)
    assert err.value.status == 400


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    # AMI on a free port: nothing listens there.
    return with_shipped_queues(dashboard_settings(redis_url, tmp_path, ami_port=free_port()))


def test_live_page_lists_agents_on_calls_and_ami_trouble_is_named(client: TestClient, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    r.hset(keys.queue_agents("support"), mapping={
        "1001": json.dumps({"state": "on_call", "since": time.time() - 42}),
        "1002": json.dumps({"state": "available", "since": time.time()})})
    csrf = login(client, "sup")
    calls = client.get("/api/live/calls").json()
    assert [(c["queue"], c["agent"], c["state"]) for c in calls] == [("support", "1001", "on_call")]
    page = client.get("/live", headers={"accept": "text/html"}).text
    assert "1001" in page and "1002" not in page and "whisper" in page

    assert client.post("/live/monitor", data={"agent": "1001", "mode": "barge"}).status_code == 403  # CSRF
    resp = client.post("/live/monitor", data={"agent": "1001", "mode": "barge", "csrf_token": csrf})
    assert resp.status_code == 503 and "Asterisk (AMI) cannot be reached" in resp.text and "cannot connect" in resp.text
    api = client.post("/api/live/monitor", json={"agent": "1001", "mode": "listen"}, headers={"x-csrf-token": csrf})
    assert api.status_code == 503 and "Asterisk" in api.json()["detail"]
    audit = [json.loads(e) for e in r.lrange(keys.AUDIT_LOG, 0, -1)]
    monitor = [(e["user"], e["target"], e["detail"]["mode"], e["detail"]["endpoint"], e["detail"]["ok"])
               for e in audit if e["action"] == "monitor"]
    assert monitor == [("sup", "1001", "barge", "PJSIP/sup-phone", False),
                       ("sup", "1001", "listen", "PJSIP/sup-phone", False)]


def test_only_a_configured_agent_is_spied_on_and_a_bad_value_names_the_field(client: TestClient,
                                                                              redis_url: str) -> None:
    csrf = login(client, "sup")
    for agent in ("10012", "PJSIP/10012", "PJSIP/1001-00000012", "1001,B"):
        api = client.post("/api/live/monitor", json={"agent": agent, "mode": "listen"},
                          headers={"x-csrf-token": csrf})
        assert api.status_code == 400 and api.json()["detail"].startswith(f"agent {agent!r}"), api.text
    page = client.post("/live/monitor", data={"agent": "10012", "mode": "listen", "csrf_token": csrf})
    assert page.status_code == 400 and "not an agent of queues.yaml" in page.text
    missing = client.post("/api/live/monitor", json={"mode": "listen"}, headers={"x-csrf-token": csrf})
    assert missing.status_code == 422 and "agent" in missing.text
    audit = [json.loads(e) for e in redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1)]
    refused = [(e["target"], e["detail"]["status"]) for e in audit if e["action"] == "monitor"]
    assert refused == [("10012", 400), ("PJSIP/10012", 400), ("PJSIP/1001-00000012", 400), ("1001,B", 400),
                       ("10012", 400)]
