"""Redis writes as plain values: the code that decides what to write builds them, tests can compare
them, and one function puts them on a pipeline.

Two paths apply them: the live queue state (ivr.queueing.live) lands in one MULTI/EXEC per AMI event
(`apply_ops`); call records go through the buffered RecordWriter (ivr.state.writer), which adds each
touched record key's TTL in the same transaction. Values are JSON text, made by `dumps` when the op is
built, so a value changed later by its owner is written as it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT


def dumps(value: Any) -> str:
    """The JSON of every value we store. default=str: an odd value (a Path, a datetime) must not break a call."""
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class HSet:
    """HSET key field value ...: `fields` maps each field to its JSON text."""

    key: str
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HDel:
    key: str
    field: str


@dataclass(frozen=True, slots=True)
class HIncr:
    """A counter: the RecordWriter gives its key no TTL (a counter must not go back)."""

    key: str
    field: str
    amount: int = 1


@dataclass(frozen=True, slots=True)
class HIncrFloat:
    key: str
    field: str
    amount: float


@dataclass(frozen=True, slots=True)
class RPush:
    """Append JSON text to a list (a call's events, in order)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class PushCapped:
    """LPUSH then LTRIM: a list of the newest `keep` values (JSON text)."""

    key: str
    value: str
    keep: int


@dataclass(frozen=True, slots=True)
class ZAdd:
    key: str
    member: str
    score: float


@dataclass(frozen=True, slots=True)
class Del:
    key: str


@dataclass(frozen=True, slots=True)
class Expire:
    key: str
    seconds: int


Op = HSet | HDel | HIncr | HIncrFloat | RPush | PushCapped | ZAdd | Del | Expire


def add_to(pipe: Pipeline, op: Op) -> None:
    """Queue one op on a pipeline (MULTI/EXEC or not: the caller's choice)."""
    if isinstance(op, HSet):
        mapping: dict[FieldT, EncodableT] = {k: v for k, v in op.fields.items()}  # redis-py wants its own key type
        pipe.hset(op.key, mapping=mapping)
    elif isinstance(op, HDel):
        pipe.hdel(op.key, op.field)
    elif isinstance(op, HIncr):
        pipe.hincrby(op.key, op.field, op.amount)
    elif isinstance(op, HIncrFloat):
        pipe.hincrbyfloat(op.key, op.field, op.amount)
    elif isinstance(op, RPush):
        pipe.rpush(op.key, op.value)
    elif isinstance(op, PushCapped):
        pipe.lpush(op.key, op.value)
        pipe.ltrim(op.key, 0, op.keep - 1)
    elif isinstance(op, ZAdd):
        pipe.zadd(op.key, {op.member: op.score})
    elif isinstance(op, Del):
        pipe.delete(op.key)
    else:
        pipe.expire(op.key, op.seconds)


async def apply_ops(redis: redis.asyncio.Redis, ops: list[Op]) -> None:
    """All of `ops` in one MULTI/EXEC."""
    if not ops:
        return
    pipe = redis.pipeline(transaction=True)
    for op in ops:
        add_to(pipe, op)
    await pipe.execute()
