"""The records benchmark's data: the calls (written through the call path's own writers), QA scores and
audit entries of today's store, and the steps around it (moving into a database, sizes, what the live TTL
leaves in Redis). Used by bench/records_bench.py."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Engine, text

from bench import records_baseline as old
from dashboard.scoring import ScoreInput, iso_week
from ivr import keys
from ivr.records.mover import RecordMover
from ivr.state.callrecord import CallRecorder
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter

DAY = 86_400.0
AGENTS = [f"10{i:02d}" for i in range(20)]
QUEUES = ["support"] * 6 + ["complaints"] * 2 + ["repair"] * 2
OUTCOMES = ["answered"] * 14 + ["voicemail"] * 2 + ["caller_hangup"] * 3 + ["callback"]
CATEGORIES = {"support": "enquiry", "complaints": "complaint", "repair": "repair"}
TZ = "Asia/Shanghai"
KPIS = {"answering": 80, "accuracy": 90, "handling": 70, "satisfaction": 85}
LIVE_DAYS = 7


def record(i: int, start: float) -> tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]], str]:
    queue = QUEUES[i % len(QUEUES)]
    fields: dict[str, Any] = {
        "queue": queue, "category": CATEGORIES[queue], "agent": AGENTS[(i * 7 + i // 13) % len(AGENTS)],
        "answer_timing": {"answered": True, "wait_s": 12.5 + i % 40, "ring_s": 6.1, "rings": 2,
                          "since_first_ring_s": 6.1, "within_rings": i % 9 != 0, "ring_cycle_s": 5.0,
                          "ring_limit": 3},
        "answered_within_3_rings": i % 9 != 0,
        "survey": {"score": 1 + i % 5, "scale": 5, "attempt": 1, "node": "survey"},
        "recording": {"dir": f"/var/lib/hotline/recordings/2026/03/{i}", "caller": "caller.wav",
                      "agent": "agent.wav", "mixed": "mixed.wav", "finished_at": start + 200},
        "transcript": {"json": f"/var/lib/hotline/recordings/2026/03/{i}/transcript.json",
                       "text": "您好，请问有什么可以帮您？我的宽带从昨天开始就连不上了。", "language": "zh-CN",
                       "model": "vosk-model-small-cn-0.22", "at": start + 260},
        "qa": {"flags": [{"kind": "long_silence", "t": 42.0, "speaker": "agent", "detail": {"seconds": 9.1}}],
               "metrics": {"talk_s": 180.2, "silence_s": 20.4, "overlap_s": 1.2},
               "lists": {"forbidden": "a1b2c3", "courtesy": "d4e5f6", "greeting": "0718aa"}, "at": start + 270},
        "hangup_by": "caller",
    }
    events = [("node", {"node": n, "type": t}) for n, t in (("welcome", "play"), ("hours", "schedule"),
                                                             ("menu", "menu"), ("set_cat", "set"))]
    events += [("dtmf", {"digits": str(1 + i % 3)}), ("queue", {"queue": queue, "position": 1 + i % 4}),
               ("answered", {"agent": fields["agent"]}), ("node", {"node": "survey", "type": "survey"}),
               ("survey", {"score": 1 + i % 5, "scale": 5})]
    return f"bench-{i:07d}", fields, events, OUTCOMES[i % len(OUTCOMES)]


async def _drained(writer: RecordWriter, below: int) -> None:
    while writer.pending > below:  # noqa: ASYNC110 - the writer has no event for "below n"
        await asyncio.sleep(0.01)


async def generate(hub: RedisHub, n: int, days: float, now: float) -> None:
    """n calls through the call path's writers, evenly over `days` before `now`, oldest first."""
    writer = RecordWriter(hub, ttl_seconds=keys.DEFAULT_CALL_RECORD_TTL_S, queue_size=50_000)
    await writer.start()
    step = days * DAY / n
    for i in range(n):
        start = now - days * DAY + i * step
        clock = iter([start, *(start + 1 + k for k in range(30))])
        call_id, fields, events, outcome = record(i, start)
        rec = CallRecorder(writer, now=lambda c=clock: next(c))  # type: ignore[misc]
        rec.start(call_id, caller=f"138{i % 10**8:08d}", called="4008001234", flow="hotline", flow_version="7",
                  language="zh-CN", channel=f"PJSIP/trunk-{i:08x}")
        rec.set_many(fields)
        for kind, data in events:
            rec.event(kind, **data)
        rec.finish(outcome)
        if writer.pending > 40_000:  # let the writer catch up (its queue is bounded)
            await _drained(writer, 20_000)
    await writer.stop(flush_timeout=600)
    if writer.dropped:
        raise SystemExit(f"record writer dropped {writer.dropped} ops")


async def seed_scores_and_audit(redis_url: str, n: int, days: float, now: float) -> list[dict[str, Any]]:
    """3 scores per agent and week (Redis, as before), and an audit entry for each plus a listen per 10 calls."""
    r = Redis.from_url(redis_url, decode_responses=True)
    store = old.ScoreStore(r)
    made: list[dict[str, Any]] = []
    step = days * DAY / n
    weeks = int(days // 7)
    for w in range(weeks):
        for a, agent in enumerate(AGENTS):
            for k in range(3):
                i = int(w * 7 * DAY / step) + a * 3 + k  # a call of that week
                at = now - days * DAY + w * 7 * DAY + 6 * DAY
                score = await store.submit(f"bench-{i:07d}", agent, iso_week(at, TZ), "sup",
                                           ScoreInput(kpis=KPIS), at=at, survey={"score": 4})
                made.append(score.model_dump())
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 10):
        at = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(now - days * DAY + i * step + 8 * 3600))
        pipe.rpush(keys.AUDIT_LOG, f'{{"at": "{at}", "user": "sup", "role": "supervisor", "action": "listen", '
                                   f'"target": "bench-{i:07d}", "detail": {{"via": "listen"}}, "id": "a{i}"}}')
    await pipe.execute()
    await r.aclose()
    return made


async def used_memory(r: Redis) -> int:
    return int((await r.info("memory"))["used_memory"])


def csv_size(rows: list[dict[str, Any]] | list[tuple[Any, ...]]) -> int:
    buf = io.StringIO()
    out = csv.writer(buf)
    for row in rows:
        out.writerow(row.values() if isinstance(row, dict) else row)
    return len(buf.getvalue())


async def move_all(hub: RedisHub, engine: Engine, mark: bool) -> tuple[int, float]:
    r = await hub.client()
    assert r is not None
    if mark:  # the second database: every call marked again, as `ivr db migrate-redis` does
        start = 0
        while ids := await r.zrange(keys.CALLS_INDEX, start, start + 9999):
            await r.zadd(keys.RECORDS_PENDING, dict.fromkeys(ids, time.time() - 60))
            start += 10_000
    mover = RecordMover(hub, engine, live_ttl_s=LIVE_DAYS * int(DAY), batch=1000, settle_s=0)
    t0, moved = time.perf_counter(), 0
    while n := await mover.move_once():
        moved += n
    secs = time.perf_counter() - t0
    mover.analyze()  # the planner's statistics, as the mover's hourly refresh leaves them (SQLite)
    return moved, secs


def db_size(engine: Engine, path: Path | None) -> int:
    if path is not None:
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


async def expire_moved(r: Redis, now: float) -> int:
    """What the live TTL does over time: records started more than LIVE_DAYS ago leave Redis."""
    gone = 0
    while ids := await r.zrangebyscore(keys.CALLS_INDEX, "-inf", now - LIVE_DAYS * DAY, start=0, num=5000):
        pipe = r.pipeline(transaction=False)
        for cid in ids:
            c = str(cid)
            pipe.delete(keys.call(c), keys.call_events(c))
        pipe.zrem(keys.CALLS_INDEX, *ids)
        await pipe.execute()
        gone += len(ids)
    return gone


