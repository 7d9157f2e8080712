"""/metrics says which `ivr serve` leads (the leader lease in Redis) and counts transcription jobs whose
recording a worker's host could not read (workers on nodes without the shared recordings storage)."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from ivr import keys

pytestmark = pytest.mark.timeout(60)


def test_metrics_name_the_leader_and_unreachable_recordings(client: TestClient, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    assert 'ivr_leader{node="' not in client.get("/metrics").text  # nobody leads: no sample
    r.set(keys.LEADER, "node-b", px=3000)  # as the lease holder writes it
    r.hincrby(keys.TRANSCRIBE_UNREACHABLE, "worker-3", 2)
    text = client.get("/metrics").text
    assert 'ivr_leader{node="node-b"} 1.0' in text
    assert 'ivr_transcribe_recording_unreachable_total{host="worker-3"} 2.0' in text
