"""The queues.yaml model: queues, agents, announcements, callbacks, overflow rules, priorities.

The callback numbering plan is `ivr.queueing.numbers.NumberingPlan`, the callback texts
`ivr.queueing.callback_texts.CallbackTexts`; both are required once any queue offers callbacks.

Every model forbids unknown fields so a typo in queues.yaml is an error with its line, not a
silently ignored setting.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ivr.queueing import texts
from ivr.queueing.numbers import NumberingPlan
from ivr.queueing.texts import AnnouncementTexts, CallbackTexts

LANGUAGES = texts.LANGUAGES  # the languages callers are served in: every text needs each one

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")  # safe as a queues.conf/pjsip.conf section name
Strategy = Literal[
    "ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered", "linear", "wrandom"
]
TargetKind = Literal["queue", "number", "voicemail", "callback"]
Phase = Literal["arrival", "waiting"]


def check_name(value: str, what: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{what} {value!r}: use letters, digits, '_' or '-' (max 40, no leading '-' or '_')")
    return value


Name = Annotated[str, AfterValidator(lambda v: check_name(v, "name"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Announce(_Strict):
    """Position/estimate announcements at first_delay_s, then every interval_s; the hint halfway between."""

    first_delay_s: float = Field(default=30, ge=0)
    interval_s: float = Field(default=60, ge=10)
    self_service_hint: bool = True


class CallbackOffer(_Strict):
    enabled: bool = True
    key: str = Field(default="1", pattern=r"^[0-9*#]$")
    schedule: str = "callback"  # schedules.yaml name: callbacks are dialled only while it is open
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_delay_s: float = Field(default=600, ge=30)
    confirm_key: str = Field(default="1", pattern=r"^[0-9*#]$")  # the number read back is right
    other_key: str = Field(default="2", pattern=r"^[0-9*#]$")  # key in another number
    tries: int = Field(default=3, ge=1, le=5)  # no key / a wrong key / a refused number, then keep waiting
    input_timeout_s: float = Field(default=6, ge=2, le=30)

    @model_validator(mode="after")
    def _keys(self) -> CallbackOffer:
        if self.confirm_key == self.other_key:
            raise ValueError(f"confirm_key and other_key are both {self.confirm_key!r}")
        return self


class OverflowTarget(_Strict):
    kind: TargetKind
    value: str | None = None  # queue name, number or voicemail box; None for callback

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        # Admins write `to: callback` or `to: {queue: sales}`; both become {kind, value}.
        if data == "callback":
            return {"kind": "callback"}
        if isinstance(data, dict) and len(data) == 1 and "kind" not in data:
            ((kind, value),) = data.items()
            return {"kind": kind, "value": None if value in (True, None, {}) else str(value)}
        return data

    @model_validator(mode="after")
    def _value(self) -> OverflowTarget:
        if self.kind == "callback":
            if self.value is not None:
                raise ValueError("callback takes no value: write `to: callback`")
        elif not self.value:
            raise ValueError(f"{self.kind} needs a value, e.g. `to: {{{self.kind}: ...}}`")
        return self


class OverflowWhen(_Strict):
    """Triggers of one rule; any one that holds fires the rule (checked in this order)."""

    no_agent_logged_in: bool = False
    no_agent_staffed: bool = False  # everyone logged in is paused, or nobody is logged in
    estimated_wait_over_s: float | None = Field(default=None, gt=0)
    callers_waiting_over: int | None = Field(default=None, ge=0)
    callers_per_agent_over: float | None = Field(default=None, gt=0)
    waited_over_s: float | None = Field(default=None, gt=0)  # the max wait: only while waiting

    @model_validator(mode="after")
    def _something(self) -> OverflowWhen:
        if not any(v not in (None, False) for v in self.model_dump().values()):
            raise ValueError("give at least one trigger (e.g. estimated_wait_over_s: 600)")
        return self


class OverflowRule(_Strict):
    name: str
    during: str | None = None  # schedules.yaml name; the rule applies only while it is open
    phases: tuple[Phase, ...] = ("arrival", "waiting")
    when: OverflowWhen
    to: OverflowTarget

    _n = field_validator("name")(lambda v: check_name(v, "rule"))


class QueueDef(_Strict):
    title: dict[str, str] = Field(default_factory=dict)  # language -> name read to callers
    strategy: Strategy = "rrmemory"
    retry_s: int = Field(default=1, ge=0, le=60)
    wrapup_s: int = Field(default=0, ge=0, le=600)
    weight: int = Field(default=0, ge=0)
    musicclass: str = "default"
    announce: Announce = Field(default_factory=Announce)
    callback: CallbackOffer = Field(default_factory=CallbackOffer)
    overflow: list[OverflowRule] = Field(default_factory=list)
    record: bool = True  # record answered calls (app_queue starts MixMonitor; docs/transcription.md)
    live_qa: bool = False  # stream answered calls to `ivr liveqa` while they are on (docs/liveqa.md)

    @field_validator("title")
    @classmethod
    def _langs(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(v) - set(LANGUAGES))
        if bad:
            raise ValueError(f"unknown language(s) {bad}; known: {list(LANGUAGES)}")
        return v


class AgentDef(_Strict):
    name: str = Field(min_length=1, max_length=40)  # MemberName in Asterisk, shown on the dashboard
    queues: dict[str, int] = Field(min_length=1)  # queue -> default penalty (lower rings first)

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if any(c in v for c in "\r\n;\"<>,"):
            raise ValueError(f"name {v!r} may not contain newlines or ; \" < > ,")
        return v


class Priorities(_Strict):
    """Queue priority (QUEUE_PRIO): higher is answered first; what callers hear does not change."""

    vip: int = Field(default=10, ge=0)
    categories: dict[str, int] = Field(default_factory=dict)  # e.g. complaint: 5, complaint_urgent: 20


class SelfService(_Strict):
    url: str | None = None
    text: dict[str, str] = Field(default_factory=dict)  # language -> hint; {url} is filled in


class QueueConfig(_Strict):
    ring_cycle_s: float = Field(default=5.0, gt=0, le=15)  # one ring cadence: China 5 s, US 6 s
    rings: int = Field(default=3, ge=1, le=20)  # policy: a person answers within 3 rings
    autopause_after_misses: int = Field(default=2, ge=0)  # 0 = never auto-pause
    country_code: str = Field(default="86", pattern=r"^[0-9]{1,3}$")
    default_handle_s: float = Field(default=180, gt=0)  # wait estimate before enough calls were measured
    priorities: Priorities = Field(default_factory=Priorities)
    vip_numbers: list[str] = Field(default_factory=list)
    self_service: SelfService = Field(default_factory=SelfService)
    queues: dict[Name, QueueDef] = Field(min_length=1)
    agents: dict[Name, AgentDef] = Field(default_factory=dict)
    callback_numbers: NumberingPlan | None = None  # which numbers a callback may dial
    callback_texts: CallbackTexts | None = None
    announcement_texts: AnnouncementTexts  # what a waiting caller hears (position, estimate, hint, offer)

    @model_validator(mode="after")
    def _callbacks_need_plan_and_texts(self) -> QueueConfig:
        offering = sorted(n for n, q in self.queues.items() if q.callback.enabled)
        missing = [f for f in ("callback_numbers", "callback_texts") if getattr(self, f) is None]
        if offering and missing:
            raise ValueError(f"queue(s) {offering} offer callbacks: add {' and '.join(missing)} "
                             "(or set callback.enabled: false)")
        return self

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> QueueConfig:
        # The loader asks to skip this and reports each problem at its own YAML line instead.
        if not (info.context or {}).get("skip_references"):
            problems = reference_problems(self)
            if problems:
                raise ValueError("; ".join(msg for _, msg in problems))
        return self

    def ring_timeout_s(self, ring_cycle_s: float | None = None) -> int:
        """Seconds a member rings: `rings` ring cycles, rounded DOWN (queues.conf wants whole seconds).

        Never more than the policy's rings: rounding up (1.5 s cycle -> 5 s for 4.5 s) let an agent
        answer after the 3rd ring, a call the policy then counted as late though we let it ring."""
        limit = (ring_cycle_s or self.ring_cycle_s) * self.rings
        if limit < 1:
            raise ValueError(f"{self.rings} rings of {ring_cycle_s or self.ring_cycle_s} s is under 1 s: "
                             "queues.conf cannot ring a member that briefly")
        return math.floor(limit + 1e-9)

    def schedule_names(self) -> set[str]:
        names = {q.callback.schedule for q in self.queues.values() if q.callback.enabled}
        return names | {r.during for q in self.queues.values() for r in q.overflow if r.during}


Loc = tuple[str | int, ...]


def reference_problems(cfg: QueueConfig) -> list[tuple[Loc, str]]:
    """Names that point nowhere: (location in queues.yaml, message)."""
    out: list[tuple[Loc, str]] = []
    for agent_id, agent in cfg.agents.items():
        for q in agent.queues:
            if q not in cfg.queues:
                out.append((("agents", agent_id, "queues", q), f"agent {agent_id!r}: unknown queue {q!r}"))
    for qname, queue in cfg.queues.items():
        for i, rule in enumerate(queue.overflow):
            loc: Loc = ("queues", qname, "overflow", i, "to")
            if rule.to.kind == "queue" and rule.to.value not in cfg.queues:
                out.append((loc, f"queue {qname!r} rule {rule.name!r}: unknown queue {rule.to.value!r}"))
            elif rule.to.kind == "queue" and rule.to.value == qname:
                out.append((loc, f"queue {qname!r} rule {rule.name!r}: overflows into itself"))
    return out
