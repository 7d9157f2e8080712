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
(agent, queue, both, a week's range, outcome), the week's sample (a drawn week's GET, the same after its
pool changed, the draw) with the event loop's longest stall meanwhile (what the wallboard would wait), a
quarter's QA report, a month's CSV export; and whether a filter returns every match. Results go to
bench/RESULTS.md (section "Records"; --no-write prints them only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Connection

from bench import records_baseline as old
from bench.records_data import (
    DAY,
    TZ,
    csv_size,
    db_size,
    expire_moved,
    generate,
    move_all,
    record,
    seed_scores_and_audit,
    used_memory,
)
from bench.records_results import SAMPLE_ROWS, StoreResult, Timing, save_section, write_results
from dashboard.call_list import list_calls, pending_records
from dashboard.records_db import RecordsDb
from dashboard.sampling import Candidate, digest, draw, ensure_sample, stored_sample, verify
from dashboard.score_store import SqlScoreStore
from dashboard.scoring import iso_week, report_rows
from harness.local_postgres import LocalPostgres
from harness.local_redis import LocalRedis
from ivr import keys
from ivr.records import db as records_db
from ivr.records import reports as sql_reports
from ivr.records import scores as sql_scores
from ivr.records.calls import CallFilter, Cursor, count_calls, csv_rows, to_row
from ivr.settings import Settings
from ivr.state.redis import RedisHub


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
        *[await timed(name, lambda: _sample_old(r, week_start, week_end), 5, True) for name in SAMPLE_ROWS],
        await timed("QA report, a quarter", lambda: _report_old(r, q_since), 10),
        await timed("CSV export, a month", lambda: _csv_old(r, now - 60 * DAY, now - 30 * DAY), 3, True),
    ]
    out[5].note = "outcome= ignored by the old list"
    for t in out[6:9]:
        t.note = "every request re-read the week"
    return out


async def _n(aw: Awaitable[list[Any]]) -> int:
    return len(await aw)


async def _sample_old(r: Redis, since: float, until: float) -> int:
    """Today's GET /api/samples and draw: the week's pool read from Redis, then the draw (on the loop)."""
    pool = [Candidate(cid, agent) for cid, agent in await old.candidates_of_week(r, since, until)]
    digest(pool)
    draw(pool, 7, 3, 2, ["sup", "sup2"])
    return len(pool)


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
        unmoved = [x for x in await pending_records(r) if x.get("outcome") is not None]  # as /reports does

        def measured(conn: Connection) -> int:
            rows = [to_row(x, []) for x in unmoved]
            kpi = sql_reports.kpi_by_agent(conn, since, now, rows)
            return len(kpi) + len(sql_reports.by_category(conn, since, now, rows))

        await db.read(measured)
        return len(scores)

    await ensure_sample(r, db, week, TZ, 3, 2, ["sup", "sup2"], now=now)  # the week the GETs read
    weeks = iter(iso_week(now - (90 - 7 * k) * DAY, TZ) for k in range(8))

    async def sample_get(memo: bool) -> int:  # GET /api/samples/<week> of a drawn week
        if not memo:
            db.memo.clear()  # as after a call of the week moved again: the check is redone
        sample = await stored_sample(r, db, week)
        assert sample is not None
        await verify(r, db, sample, TZ)
        return sample.population

    async def sample_draw() -> int:  # the weekly draw (each call a week not drawn yet)
        sample, fresh = await ensure_sample(r, db, next(weeks), TZ, 3, 2, ["sup", "sup2"], now=now)
        assert fresh
        return sample.population

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
        await timed(SAMPLE_ROWS[0], lambda: sample_get(True), 20, True),
        await timed(SAMPLE_ROWS[1], lambda: sample_get(False), 10, True),
        await timed(SAMPLE_ROWS[2], sample_draw, 5, True),
        await timed("QA report, a quarter", report, 10),
        await timed("CSV export, a month", export, 3, True),
    ]


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
        true_matches = [x for i in range(args.records) for x in [record(i, 0.0)]
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
