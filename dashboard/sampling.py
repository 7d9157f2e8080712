"""Weekly QA sample: for each agent at least N of their recorded calls drawn at random, plus random
spot checks across all recorded calls, assigned round-robin to the supervisors.

The draw is a pure function of (seed, the week's recorded calls): the seed and a digest of the
population are stored with the sample, so anyone can redo the draw and get the same calls.
A week is always named in its one canonical form (2026-W10; 2026-W010 is the same week), so a
week has exactly one sample.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Connection

from dashboard.call_list import pending_records
from dashboard.records_db import RecordsDb
from ivr import keys
from ivr.clock import zone
from ivr.records import samples as sql_samples

WEEK = re.compile(r"^([0-9]{4})-W([0-9]{1,3})$")


@dataclass(frozen=True)
class Candidate:
    call_id: str
    agent: str


@dataclass(frozen=True)
class SampleItem:
    call_id: str
    agent: str
    kind: str  # "agent": the agent's weekly quota; "spot": unannounced spot check
    reviewer: str


@dataclass
class Sample:
    week: str
    seed: int
    drawn_at: float
    per_agent: int
    spot_checks: int
    population: int
    population_digest: str
    reviewers: list[str] = field(default_factory=list)
    items: list[SampleItem] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Sample:
        data = json.loads(raw)
        data["items"] = [SampleItem(**i) for i in data["items"]]
        return cls(**data)


def _monday(week: str) -> datetime:
    m = WEEK.match(week)
    try:
        if m is None:
            raise ValueError(week)
        return datetime.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as exc:
        raise ValueError(f"week {week[:20]!r}: want an ISO week like 2026-W10") from exc


def normalize_week(week: str) -> str:
    """'2026-W010' -> '2026-W10'; ValueError names a week that is not an ISO week of that year."""
    return week_of(_monday(week))


def week_bounds(week: str, tz: str) -> tuple[datetime, datetime]:
    """Local Monday 00:00 of ISO week '2026-W10' and the next Monday; ValueError names a bad week."""
    start = _monday(week).replace(tzinfo=zone(tz))
    return start, start + timedelta(days=7)


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(now: datetime) -> str:
    return week_of(now - timedelta(days=7))


# The pool is kept as call_id -> agent (a dict of strings), not as Candidate objects: a week is tens of
# thousands of calls, and that many live objects made the collector's full passes, which stop every thread,
# stall the event loop for 70-100 ms while the draw ran in its worker thread.
Pool = dict[str, str]


def pool_digest(pool: Pool) -> str:
    text = "\n".join(f"{cid}\t{pool[cid]}" for cid in sorted(pool))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest(candidates: list[Candidate]) -> str:
    return pool_digest({c.call_id: c.agent for c in candidates})


def draw_pool(pool: Pool, seed: int, per_agent: int, spot_checks: int, reviewers: list[str]) -> list[SampleItem]:
    """Deterministic for the same pool: calls in call_id order, each agent's quota drawn in agent order,
    then the spot checks, shuffled and dealt round-robin to the sorted reviewers."""
    rng = random.Random(seed)
    ids = sorted(pool)
    by_agent: dict[str, list[str]] = {}
    for cid in ids:
        by_agent.setdefault(pool[cid], []).append(cid)
    chosen: list[tuple[str, str]] = []
    for agent in sorted(by_agent):
        calls = by_agent[agent]
        chosen += [(c, "agent") for c in rng.sample(calls, min(per_agent, len(calls)))]
    taken = {c for c, _ in chosen}
    rest = [c for c in ids if c not in taken]
    chosen += [(c, "spot") for c in rng.sample(rest, min(spot_checks, len(rest)))]
    order = sorted(reviewers) or ["(unassigned)"]
    rng.shuffle(chosen)
    items = [SampleItem(c, pool[c], kind, order[i % len(order)]) for i, (c, kind) in enumerate(chosen)]
    return sorted(items, key=lambda i: (i.reviewer, i.agent, i.call_id))


def draw(candidates: list[Candidate], seed: int, per_agent: int, spot_checks: int,
         reviewers: list[str]) -> list[SampleItem]:
    """Deterministic for the same inputs, whatever order the candidates come in."""
    return draw_pool({c.call_id: c.agent for c in candidates}, seed, per_agent, spot_checks, reviewers)


def _range(week: str, tz: str) -> tuple[float, float]:
    start, end = week_bounds(week, tz)
    return start.timestamp(), end.timestamp() - 0.001


async def _unmoved_pool(redis: Redis, since: float, until: float) -> Pool:
    """call_id -> agent of the week's recorded calls not moved into the records database yet."""
    return {str(r["call_id"]): str(r["agent"]) for r in await pending_records(redis)
            if r.get("agent") and isinstance(r.get("recording"), dict) and since <= _start_of(r) <= until}


def _pool(conn: Connection, since: float, until: float, unmoved: Pool) -> Pool:
    pool = sql_samples.pool(conn, since, until)
    pool.update(unmoved)
    return pool


async def candidates_of_week(redis: Redis, db: RecordsDb, week: str, tz: str) -> list[Candidate]:
    """Calls of the week that an agent took and that have a recording: an index-only query of the records
    database, plus the calls not moved there yet; built in a worker thread (the wallboard keeps streaming)."""
    since, until = _range(week, tz)
    unmoved = await _unmoved_pool(redis, since, until)
    pool = await db.read(lambda conn: _pool(conn, since, until, unmoved))
    return [Candidate(cid, agent) for cid, agent in pool.items()]


async def calls_so_far(redis: Redis, db: RecordsDb, week: str, tz: str) -> int:
    """How many calls the week's pool has now, counted in SQL (the index alone) plus those not moved yet."""
    since, until = _range(week, tz)
    unmoved = await _unmoved_pool(redis, since, until)

    def count(conn: Connection) -> int:
        stored = sql_samples.pool_fingerprint(conn, since, until)[0]
        return stored + len(set(unmoved) - sql_samples.in_pool(conn, since, until, list(unmoved)))

    return await db.read(count)


def _start_of(record: dict[str, Any]) -> float:
    start = record.get("start")
    return float(start) if isinstance(start, int | float) else -1.0


async def stored_sample(redis: Redis, db: RecordsDb, week: str) -> Sample | None:
    """The week's sample if it was drawn (the records database; a sample drawn before it, in Redis); never draws."""
    week = normalize_week(week)
    raw = await db.read(lambda conn: sql_samples.get(conn, week)) or await redis.get(keys.qa_sample(week))
    return None if raw is None else Sample.from_json(raw)


async def ensure_sample(redis: Redis, db: RecordsDb, week: str, tz: str, per_agent: int, spot_checks: int,
                        reviewers: list[str], now: float, seed: int | None = None) -> tuple[Sample, bool]:
    """The week's sample, drawn now if there is none yet. (sample, drawn_now). Only the weekly job
    and an explicit draw request call this (dashboard.routes.review_queue): reading a sample never draws it."""
    week = normalize_week(week)
    existing = await stored_sample(redis, db, week)
    if existing is not None:
        return existing, False
    seed = secrets.randbits(63) if seed is None else seed
    since, until = _range(week, tz)
    unmoved = await _unmoved_pool(redis, since, until)

    def drawn(conn: Connection) -> Sample:  # the pool and the draw in the worker thread, off the loop
        pool = _pool(conn, since, until, unmoved)
        return Sample(week=week, seed=seed, drawn_at=now, per_agent=per_agent, spot_checks=spot_checks,
                      population=len(pool), population_digest=pool_digest(pool), reviewers=sorted(reviewers),
                      items=draw_pool(pool, seed, per_agent, spot_checks, reviewers))

    sample = await db.read(drawn)
    end = week_bounds(week, tz)[1].timestamp()
    if not await db.write(lambda conn: sql_samples.insert_once(conn, week, end, now, sample.to_json())):
        # Another process drew it between our read and write: theirs stands.
        again = await db.read(lambda conn: sql_samples.get(conn, week))
        return Sample.from_json(again or sample.to_json()), False
    return sample, True


async def verify(redis: Redis, db: RecordsDb, sample: Sample, tz: str) -> dict[str, Any]:
    """Redo the draw from the stored seed; equal when the week's recorded calls are unchanged. Redone only
    when the pool's fingerprint (ivr.records.samples.pool_fingerprint, from the index alone) or the calls
    not moved yet changed since the last check in this process; else that check's answer stands."""
    since, until = _range(sample.week, tz)
    unmoved = await _unmoved_pool(redis, since, until)
    key = (await db.read(lambda conn: sql_samples.pool_fingerprint(conn, since, until)), sorted(unmoved.items()))
    memo_key = f"sample-check:{sample.week}:{sample.seed}"
    known = db.memo.get(memo_key)
    if known is not None and known[0] == key:
        return dict(known[1])

    def check(conn: Connection) -> dict[str, Any]:
        pool = _pool(conn, since, until, unmoved)
        redo = draw_pool(pool, sample.seed, sample.per_agent, sample.spot_checks, sample.reviewers)
        return {"population_unchanged": pool_digest(pool) == sample.population_digest,
                "same_draw": redo == sample.items}

    result = await db.read(check)
    db.memo[memo_key] = (key, result)
    return dict(result)
