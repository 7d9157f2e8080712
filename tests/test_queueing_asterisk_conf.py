from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.asterisk.queues_conf import (
    AgentEndpointError,
    agent_secrets_from_env,
    render_agent_endpoints,
    render_queues_conf,
)
from ivr.queueing.config import parse_queue_config
from ivr.queueing.model import QueueConfig
from ivr.queueing.pbx import interface
from ivr.settings import load_settings
from tests.test_queueing_config import CALLBACK_SECTIONS

pytestmark = pytest.mark.timeout(10)

YAML = """\
ring_cycle_s: 5
rings: 3
queues:
  support: {strategy: linear, retry_s: 2, wrapup_s: 7}
  complaints: {}
agents:
  "1001": {name: 张敏, queues: {support: 0}}
  "1002": {name: Li Wei, queues: {support: 1, complaints: 0}}
"""


def cfg(text: str = YAML) -> QueueConfig:
    return parse_queue_config(textwrap.dedent(text) + CALLBACK_SECTIONS, Path("queues.yaml"))


def sections(conf: str) -> list[tuple[str, dict[str, str]]]:
    """Asterisk's config syntax as app_queue/res_pjsip read it: ';' starts a comment anywhere."""
    out: list[tuple[str, dict[str, str]]] = []
    for raw in conf.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            assert line.endswith("]"), raw
            out.append((line[1:-1], {}))
            continue
        key, sep, value = line.partition("=")
        assert sep and out, f"stray line {raw!r}"
        assert key.strip() not in out[-1][1], f"duplicate {key} in [{out[-1][0]}]"
        out[-1][1][key.strip()] = value.strip()
    return out


def test_queues_conf_rings_three_cycles_and_leaves_announcing_to_us() -> None:
    parsed = dict(sections(render_queues_conf(cfg())))
    assert parsed["general"]["persistentmembers"] == "yes"
    support = parsed["support"]
    assert support["timeout"] == "15" and support["servicelevel"] == "15"
    assert (support["strategy"], support["retry"], support["wrapuptime"]) == ("linear", "2", "7")
    assert support["ringinuse"] == "no"
    assert (support["joinempty"], support["leavewhenempty"]) == ("yes", "no")
    for off in ("announce-position", "announce-holdtime", "autopause", "reportholdtime"):
        assert support[off] == "no", off
    assert support["periodic-announce-frequency"] == "0" and support["announce-frequency"] == "0"
    assert support["timeoutpriority"] == "conf"
    assert support["context"] == "ivr-queue-exit"
    assert parsed["complaints"]["strategy"] == "rrmemory"


def test_deployment_ring_cycle_overrides_the_yaml() -> None:
    us = load_settings(ring_cycle_s=6.0)
    parsed = dict(sections(render_queues_conf(cfg(), us)))
    assert parsed["support"]["timeout"] == "18"
    assert dict(sections(render_queues_conf(cfg(), load_settings())))["support"]["timeout"] == "15"


def test_agent_endpoints_with_passwords() -> None:
    conf = render_agent_endpoints(cfg(), secrets={"1001": "s3cret", "1002": "pw2"})
    parsed = sections(conf)
    names = [(name, body["type"]) for name, body in parsed]
    assert names == [("1001", "endpoint"), ("1001", "aor"), ("1001-auth", "auth"),
                     ("1002", "endpoint"), ("1002", "aor"), ("1002-auth", "auth")]
    endpoint, aor, auth = (body for _, body in parsed[:3])
    assert endpoint["dtmf_mode"] == "rfc4733"
    assert (endpoint["disallow"], endpoint["allow"]) == ("all", "ulaw,alaw")
    assert endpoint["auth"] == "1001-auth" and endpoint["aors"] == "1001"
    assert endpoint["callerid"] == '"张敏" <1001>'
    assert aor["max_contacts"] == "1" and "contact" not in aor
    assert (auth["username"], auth["password"]) == ("1001", "s3cret")
    assert interface("1001") == "PJSIP/1001"


def test_static_contacts_overlay_for_test_agents() -> None:
    conf = render_agent_endpoints(cfg(), contacts={"1001": "sip:agent@127.0.0.1:5071"}, secrets={"1002": "x"})
    parsed = sections(conf)
    first = [body for name, body in parsed if name == "1001"]
    assert first[1]["contact"] == "sip:agent@127.0.0.1:5071"
    assert first[1]["qualify_frequency"] == "0"
    assert "auth" not in first[0]
    assert "1001-auth" not in [name for name, _ in parsed]


def test_agent_without_password_or_contact_is_refused() -> None:
    with pytest.raises(AgentEndpointError, match=r"'1002': no SIP password \(set IVR_AGENT_SECRET_1002\)"):
        render_agent_endpoints(cfg(), secrets={"1001": "x"})
    with pytest.raises(AgentEndpointError, match="unknown agent"):
        render_agent_endpoints(cfg(), contacts={"9999": "sip:a@h"}, secrets={"1001": "x", "1002": "y"})
    with pytest.raises(AgentEndpointError, match="one sip: URI"):
        render_agent_endpoints(cfg(), contacts={"1001": "sip:a@h;transport=tcp", "1002": "sip:b@h"})
    with pytest.raises(AgentEndpointError, match="password"):
        render_agent_endpoints(cfg(), secrets={"1001": "a;b", "1002": "y"})


def test_secrets_come_from_the_environment() -> None:
    env = {"IVR_AGENT_SECRET_1001": "one", "IVR_AGENT_SECRET_1002": "", "OTHER": "x"}
    assert agent_secrets_from_env(cfg(), env) == {"1001": "one"}


@pytest.mark.parametrize(("cycle", "want"), [(1.5, 4), (5.0, 15), (6.0, 18), (4.5, 13), (0.4, 1), (2.2, 6)])
def test_a_member_never_rings_past_the_third_ring(cycle: float, want: int) -> None:
    """1.5 s cycle: "3 rings" is 4.5 s, so a member rings 4 s, not 5 (an answer at 4.8 s was late)."""
    settings = load_settings(ring_cycle_s=cycle)
    parsed = dict(sections(render_queues_conf(cfg(), settings)))
    for queue in ("support", "complaints"):
        timeout = int(parsed[queue]["timeout"])
        assert timeout == want and int(parsed[queue]["servicelevel"]) == want
        assert timeout <= 3 * cycle


def test_a_ring_limit_under_one_second_is_refused() -> None:
    with pytest.raises(ValueError, match="under 1 s"):
        render_queues_conf(cfg(), load_settings(ring_cycle_s=0.3))
