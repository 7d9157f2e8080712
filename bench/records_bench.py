"""Records benchmark: today's Redis-only store against the records database, in one run.

    .venv/bin/python -m bench.records_bench                       # 300,000 calls over 100 days, SQLite + PostgreSQL
    .venv/bin/python -m bench.records_bench --records 20000 --no-pg --no-write   # a quick look

A private Redis gets N call records written through CallRecorder/RecordWriter (the call path's own
writers; times spread over --days), QA scores (3 per agent and week, bench.records_baseline.ScoreStore) and
audit entries. Then, on the same data:
  - today's store: the read paths as they were (bench/records_baseline.py) on Redis;
  - the new store: the RecordMover moves every record into SQLite (the default) and PostgreSQL
    (a private server, initdb/pg_ctl), and the dashboard's read paths (dashboard/call_list.py,
    sampling.py, score_store.py, the CSV export) run against it.
Measured: Redis memory and database size per record; p50/p99 of the first page and of filtered pages
(agent, queue, both, a week's range, outcome), the week's sample pool with the event loop's longest
stall meanwhile (what the wallboard would wait), a quarter's QA report, a month's CSV export; and whether
a filter returns every match. Results go to bench/RESULTS.md (section "Records").
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Engine, text

from bench import records_baseline as old
from dashboard.call_list import list_calls
from dashboard.records_db import RecordsDb
from dashboard.sampling import candidates_of_week
from dashboard.score_store import SqlScoreStore
from dashboard.scoring import ScoreInput, iso_week, report_rows
from harness.local_postgres import LocalPostgres
from harness.local_redis import LocalRedis
from ivr import keys
from ivr.records import db as records_db
from ivr.records import reports as sql_reports
from ivr.records import scores as sql_scores
from ivr.records.calls import CallFilter, Cursor, count_calls, csv_rows
from ivr.records.mover import RecordMover
from ivr.settings import Settings
from ivr.state.callrecord import CallRecorder
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## Records (bench/records_bench.py)"
DAY = 86_400.0
AGENTS = [f"10{i:02d}" for i in range(20)]
QUEUES = ["support"] * 6 + ["complaints"] * 2 + ["repair"] * 2
OUTCOMES = ["answered"] * 14 + ["voicemail"] * 2 + ["caller_hangup"] * 3 + ["callback"]
CATEGORIES = {"support": "enquiry", "complaints": "complaint", "repair": "repair"}
TZ = "Asia/Shanghai"
KPIS = {"answering": 80, "accuracy": 90, "handling": 70, "satisfaction": 85}
LIVE_DAYS = 7


@dataclass
class Timing:
    name: str
    ms: list[float] = field(default_factory=list)
    rows: int = 0
    note: str = ""
    stall_ms: float | None = None

    def pct(self, p: float) -> float:
        s = sorted(self.ms)
        return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


async def timed(name: str, fn: Callable[[], Awaitable[int]], repeat: int, probe: bool = False) -> Timing:
    t = Timing(name)
    await fn()  # warm-up
    stalls: list[float] = []
    stop = asyncio.Event()

    async def lag() -> None:  # the event loop's stalls: what a wallboard request would wait
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.005)
            stalls.append((loop.time() - t0 - 0.005) * 1000)

    task = asyncio.create_task(lag()) if probe else None
    for _ in range(repeat):
        t0 = time.perf_counter()
        t.rows = await fn()
        t.ms.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.01)
    stop.set()
    if task is not None:
        await task
        t.stall_ms = max(stalls, default=0.0)
    return t


def _record(i: int, start: float) -> tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]], str]:
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
        call_id, fields, events, outcome = _record(i, start)
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


async def run_old(r: Redis, n: int, days: float, now: float) -> list[Timing]:
    week_start, week_end = now - 30 * DAY, now - 23 * DAY
    q_since = now - 91 * DAY
    out = [
        await timed("first page (100)", lambda: _n(old.list_calls(r, since=None, until=None, limit=100)), 100),
        await timed("agent=1001 (page of 100)", lambda: _n(old.list_calls(r, since=None, until=None, limit=100,
                                                                          agent="1001")), 20),
        await timed("queue=complaints (page of 100)", lambda: _n(old.list_calls(r, since=None, until=None,
                                                                                limit=100, queue="complaints")), 20),
        await timed("agent=1001 & queue=complaints (page of 100)", lambda: _n(old.list_calls(
            r, since=None, until=None, limit=100, agent="1001", queue="complaints")), 20),
        await timed("a week's range (page of 100)", lambda: _n(old.list_calls(r, since=week_start, until=week_end,
                                                                              limit=100)), 30),
        await timed("outcome=voicemail (page of 100)", lambda: _n(old.list_calls(r, since=None, until=None,
                                                                                 limit=100)), 30),
        await timed("the week's sample pool", lambda: _n(old.candidates_of_week(r, week_start, week_end)), 5, True),
        await timed("QA report, a quarter", lambda: _report_old(r, q_since), 10),
        await timed("CSV export, a month", lambda: _csv_old(r, now - 60 * DAY, now - 30 * DAY), 3, True),
    ]
    out[5].note = "outcome= ignored by the old list"
    return out


async def _n(aw: Awaitable[list[Any]]) -> int:
    return len(await aw)


async def _report_old(r: Redis, since: float) -> int:
    scores = await old.ScoreStore(r).all_current(since=since)
    report_rows(scores, "agent")
    report_rows(scores, "week")
    return len(scores)


async def _csv_old(r: Redis, since: float, until: float) -> int:
    rows = await old.month_rows(r, since, until)
    csv_size(rows)
    return len(rows)


async def all_pages(r: Redis, db: RecordsDb, f: CallFilter, limit: int) -> int:
    total, after = 0, None
    while True:
        rows, after = await list_calls(r, db, f, limit, after)
        total += len(rows)
        if after is None:
            return total


async def run_new(r: Redis, db: RecordsDb, now: float) -> list[Timing]:
    week_start, week_end = now - 30 * DAY, now - 23 * DAY
    week = iso_week(now - 27 * DAY, TZ)
    store = SqlScoreStore(db)

    async def page(f: CallFilter, limit: int = 100, after: Cursor | None = None) -> int:
        return len((await list_calls(r, db, f, limit, after))[0])

    async def report() -> int:  # what /reports?weeks=13 reads: scores, the KPI per agent, calls per category
        since = now - 91 * DAY
        scores = await store.all_current(since=since)
        report_rows(scores, "agent")
        report_rows(scores, "week")
        await db.read(lambda conn: sql_reports.kpi_by_agent(conn, since, now))
        await db.read(lambda conn: sql_reports.by_category(conn, since, now))
        return len(scores)

    async def export() -> int:
        f = CallFilter(since=now - 60 * DAY, until=now - 30 * DAY)

        def work() -> int:
            with db.engine.connect() as conn:
                rows = list(csv_rows(conn, f))
            csv_size(rows)
            return len(rows)

        return await asyncio.to_thread(work)

    return [
        await timed("first page (100)", lambda: page(CallFilter()), 100),
        await timed("agent=1001 (page of 100)", lambda: page(CallFilter(agent="1001")), 100),
        await timed("queue=complaints (page of 100)", lambda: page(CallFilter(queue="complaints")), 100),
        await timed("agent=1001 & queue=complaints (page of 100)",
                    lambda: page(CallFilter(agent="1001", queue="complaints")), 100),
        await timed("a week's range (page of 100)",
                    lambda: page(CallFilter(since=week_start, until=week_end)), 100),
        await timed("outcome=voicemail (page of 100)", lambda: page(CallFilter(outcome="voicemail")), 100),
        await timed("the week's sample pool", lambda: _n(candidates_of_week(r, db, week, TZ)), 5, True),
        await timed("QA report, a quarter", report, 10),
        await timed("CSV export, a month", export, 3, True),
    ]


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
    return moved, time.perf_counter() - t0


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


@dataclass
class StoreResult:
    name: str
    timings: list[Timing]
    bytes_per_record: float
    size_note: str
    complete: str
    move_rate: float = 0.0


async def bench(args: argparse.Namespace, root: Path) -> tuple[list[StoreResult], dict[str, Any]]:
    rs = LocalRedis(root / "redis")
    rs.start()
    pg = LocalPostgres() if args.pg else None
    facts: dict[str, Any] = {"records": args.records, "days": args.days}
    try:
        if pg is not None:
            pg.start()
        r = Redis.from_url(rs.url, decode_responses=True)  # as the dashboard's client
        hub = RedisHub(rs.url, socket_timeout=30)
        base = await used_memory(r)
        now = time.time()
        t0 = time.perf_counter()
        await generate(hub, args.records, args.days, now)
        facts["generate_s"] = time.perf_counter() - t0
        pending = await r.memory_usage(keys.RECORDS_PENDING) or 0  # the new store's marks: not in the old one
        old_mem = await used_memory(r) - base - pending
        scores = await seed_scores_and_audit(rs.url, args.records, args.days, now)
        facts["scores"] = len(scores)
        facts["audit"] = await r.llen(keys.AUDIT_LOG)
        true_matches = [x for i in range(args.records) for x in [_record(i, 0.0)]
                        if x[1]["agent"] == "1001" and x[1]["queue"] == "complaints"]
        facts["matches"] = len(true_matches)
        got_old = len(await old.list_calls(r, since=None, until=None, limit=1000, agent="1001", queue="complaints"))
        results = [StoreResult("Redis only (today)", await run_old(r, args.records, args.days, now),
                               old_mem / args.records, f"Redis {old_mem / 2**20:.0f} MiB",
                               f"{got_old} of {len(true_matches)}")]
        targets: list[tuple[str, str, Path | None]] = [("SQLite", f"sqlite:///{root / 'hotline.db'}",
                                                        root / "hotline.db")]
        if pg is not None:
            targets.append(("PostgreSQL", pg.url, None))
        for i, (name, url, path) in enumerate(targets):
            engine = records_db.make_engine(url)
            records_db.upgrade(engine)
            moved, secs = await move_all(hub, engine, mark=i > 0)
            with engine.begin() as conn:
                sql_scores.insert_ignoring_existing(conn, scores)
            size = db_size(engine, path)
            db = RecordsDb(Settings(database_url=url, state_dir=root), concurrency=4, timeout=60)
            with engine.connect() as conn:
                matches = count_calls(conn, CallFilter(agent="1001", queue="complaints"))
            paged = await all_pages(r, db, CallFilter(agent="1001", queue="complaints"), 1000)
            res = StoreResult(f"{name} + Redis", await run_new(r, db, now), size / args.records,
                              f"database {size / 2**20:.0f} MiB", f"{paged} of {matches} (paged)", moved / secs)
            results.append(res)
            db.close()
            engine.dispose()
        facts["expired"] = await expire_moved(r, now)
        new_mem = await used_memory(r) - base
        facts["new_redis_bytes"] = new_mem
        facts["new_redis_per_record"] = new_mem / args.records
        facts["live_records"] = await r.zcard(keys.CALLS_INDEX)
        await r.aclose()
        await hub.close()
    finally:
        if pg is not None:
            pg.stop()
        rs.stop()
    return results, facts


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


TARGETS = {"the week's sample pool": 100.0, "QA report, a quarter": 1000.0, "CSV export, a month": None}


def write_results(results: list[StoreResult], facts: dict[str, Any], load: float) -> str:
    lines = [SECTION, "", f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores "
             f"(shared with other work; load average {load:.1f} before the run). {facts['records']:,} call records "
             f"over {facts['days']:g} days written through CallRecorder/RecordWriter ({facts['generate_s']:.0f} s), "
             f"{facts['scores']:,} QA scores, {facts['audit']:,} audit entries. Latencies are of the dashboard's "
             "read functions called in-process (today's: bench/records_baseline.py; new: dashboard/call_list.py, "
             "sampling.py, score_store.py, the CSV rows), p50/p99 over repeated calls. The quarter's report of "
             "the new store also computes the KPI per agent and the calls per category over the quarter's calls "
             "(today's store had the score averages only).", "",
             "| store | size per record | filter agent=1001 & queue=complaints, limit 1000 | move rate |",
             "| --- | --- | --- | --- |"]
    for s in results:
        lines.append(f"| {s.name} | {s.bytes_per_record / 1024:.2f} KB ({s.size_note}) | {s.complete} | "
                     f"{f'{s.move_rate:,.0f} records/s' if s.move_rate else '-'} |")
    lines += ["", f"Redis of the new store once the live TTL ({LIVE_DAYS} days) has run out for older calls: "
              f"{facts['new_redis_bytes'] / 2**20:.0f} MiB for the {facts['live_records']:,} calls of the last "
              f"{LIVE_DAYS} days, {facts['new_redis_per_record']:.0f} bytes per record kept "
              f"({facts['new_redis_per_record'] / results[0].bytes_per_record:.1%} of today's), and it depends on "
              f"the calls of {LIVE_DAYS} days only, not on how many days are kept. "
              f"(Simulated: records older than {LIVE_DAYS} days deleted as their shortened TTL would.)", "",
              "| request | " + " | ".join(f"{s.name} p50 / p99 ms" for s in results)
              + " | target | new vs today (p99) |",
              "| --- | " + " | ".join("---" for _ in results) + " | --- | --- |"]
    for i, t in enumerate(results[0].timings):
        cells = []
        for s in results:
            x = s.timings[i]
            stall = f", loop stalled {x.stall_ms:.0f} ms" if x.stall_ms is not None else ""
            cells.append(f"{x.pct(50):.1f} / {x.pct(99):.1f} ({x.rows:,} rows{stall})")
        limit = TARGETS.get(t.name, 50.0)
        new = results[1:]
        if limit is None:
            target = "none set"
        else:
            target = f"p99 <= {limit:g}: " + ", ".join(f"{s.name.split()[0]} {verdict(s.timings[i].pct(99) <= limit)}"
                                                        for s in new)
        if t.name == "the week's sample pool":
            target += "; never blocking: " + ", ".join(
                f"{s.name.split()[0]} {verdict((s.timings[i].stall_ms or 0) <= 50)}" for s in new)
        ratio = ", ".join(f"{s.timings[i].pct(99) / t.pct(99):.2f}x" for s in new)
        note = f" ({t.note})" if t.note else ""
        lines.append(f"| {t.name}{note} | " + " | ".join(cells) + f" | {target} | {ratio} |")
    lines += ["", "A page of the new store is a keyset page (every match, page by page); today's list read at "
              "most 5,000 records and filtered them in Python, so its filtered lists were incomplete. "
              "\"loop stalled\" is the longest the event loop did not run while the request ran (a wallboard "
              "request in the same process waits that long); the new store's queries run in worker threads.", ""]
    return "\n".join(lines)


def save_section(text_: str) -> None:
    old_text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = old_text.find(SECTION)
    if start >= 0:
        nxt = old_text.find("\n## ", start + len(SECTION))
        old_text = old_text[:start] + (old_text[nxt + 1:] if nxt >= 0 else "")
    RESULTS.write_text(old_text.rstrip() + "\n\n" + text_, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--days", type=float, default=100.0)
    ap.add_argument("--no-pg", dest="pg", action="store_false", help="SQLite only")
    ap.add_argument("--no-write", action="store_true", help="print, do not update bench/RESULTS.md")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        results, facts = asyncio.run(bench(args, Path(tmp)))
    out = write_results(results, facts, load)
    print(out)
    if not args.no_write:
        save_section(out)


if __name__ == "__main__":
    main()
