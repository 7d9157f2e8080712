"""The node types of a call flow, as pydantic models (extra fields forbidden).

Each model lists what it refers to (`refs()`: other nodes, prompts, schedules, languages) so
the checks can find dangling targets, missing prompts and unknown schedules without knowing
the node types. `ends_call` marks the nodes a caller can leave the flow through (the loop
check needs at least one reachable from every node). What a node *does* lives in ivr/engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ivr.callflow.safety import (
    SAFE_NAME,
    Scalar,
    check_call_variable,
    check_channel_value,
    check_channel_variable,
    check_dial_target,
)
from ivr.registry import Registry

RefKind = Literal["node", "prompt", "schedule", "language"]
DTMF_KEYS = frozenset("0123456789*#")
@dataclass(frozen=True)
class Ref:
    kind: RefKind
    field: str
    value: str


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    ends_call: ClassVar[bool] = False

    def refs(self) -> list[Ref]:
        return []

    def targets(self) -> list[tuple[str, str]]:
        return [(r.field, r.value) for r in self.refs() if r.kind == "node"]


def _optional(kind: RefKind, field: str, value: str | None) -> list[Ref]:
    return [] if value is None else [Ref(kind, field, value)]


class PlayNode(NodeSpec):
    type: Literal["play"]
    prompt: str
    interruptible: bool = False  # a digit pressed while playing is handed to the next menu
    next: str

    def refs(self) -> list[Ref]:
        return [Ref("prompt", "prompt", self.prompt), Ref("node", "next", self.next)]


class MenuFailure(BaseModel):
    """What happens on an invalid digit / no input: play `prompt` and ask again, or `goto` a node."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: str | None = None
    goto: str | None = None


class MenuNode(NodeSpec):
    type: Literal["menu"]
    prompt: str
    choices: dict[str, str] = Field(min_length=1)
    timeout: float = Field(5.0, gt=0, le=60, description="seconds to wait for a digit")
    retries: int = Field(2, ge=0, le=10, description="times the menu is asked again after a failure")
    invalid: MenuFailure = MenuFailure()
    no_input: MenuFailure = MenuFailure()
    exhausted: str  # after the last failed attempt
    silent: str | None = None  # instead of `exhausted` when no attempt got any digit (silent line)

    @field_validator("choices", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        # YAML reads `1:` as an int key; admins mean the digit.
        if not isinstance(value, dict):
            return value
        out = {}
        for key, target in value.items():
            k = str(key)
            if k not in DTMF_KEYS:
                raise ValueError(f"choice {k!r} is not a single DTMF key (0-9, *, #; quote * and #)")
            out[k] = target
        return out

    def refs(self) -> list[Ref]:
        refs = [Ref("prompt", "prompt", self.prompt), Ref("node", "exhausted", self.exhausted)]
        refs += [Ref("node", f"choices.{k}", v) for k, v in self.choices.items()]
        refs += _optional("node", "silent", self.silent)
        for name, failure in (("invalid", self.invalid), ("no_input", self.no_input)):
            refs += _optional("prompt", f"{name}.prompt", failure.prompt)
            refs += _optional("node", f"{name}.goto", failure.goto)
        return refs


class ScheduleNode(NodeSpec):
    type: Literal["schedule"]
    schedule: str
    open: str
    closed: str
    holiday: str | None = None  # default: same as closed

    def refs(self) -> list[Ref]:
        return [Ref("schedule", "schedule", self.schedule), Ref("node", "open", self.open),
                Ref("node", "closed", self.closed), *_optional("node", "holiday", self.holiday)]


class IncidentNode(NodeSpec):
    type: Literal["incident"]
    next: str

    def refs(self) -> list[Ref]:
        return [Ref("node", "next", self.next)]


class LanguageNode(NodeSpec):
    type: Literal["language"]
    language: str
    next: str

    def refs(self) -> list[Ref]:
        return [Ref("language", "language", self.language), Ref("node", "next", self.next)]


class QueueBranches(BaseModel):
    """QUEUESTATUS (lower case) -> node; a status not listed goes to the node's `otherwise`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timeout: str | None = None
    full: str | None = None
    joinempty: str | None = None
    leaveempty: str | None = None
    joinunavail: str | None = None
    leaveunavail: str | None = None


class QueueNode(NodeSpec):
    type: Literal["queue"]
    ends_call: ClassVar[bool] = True
    queue: str = Field(pattern=SAFE_NAME)
    timeout: int = Field(300, gt=0, le=7200, description="seconds the caller may wait")
    priority: int | None = Field(None, ge=0, le=100)
    prompt: str | None = None
    on: QueueBranches = QueueBranches()
    otherwise: str
    answered: str | None = None  # after the agent hangs up (Queue option c), e.g. a survey; None: call ends

    def refs(self) -> list[Ref]:
        refs = [*_optional("prompt", "prompt", self.prompt), Ref("node", "otherwise", self.otherwise)]
        refs += _optional("node", "answered", self.answered)
        return refs + [Ref("node", f"on.{k}", v) for k, v in self.on.model_dump().items() if v]


class TransferBranches(BaseModel):
    """DIALSTATUS (lower case) -> node; a status not listed goes to the node's `otherwise`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    busy: str | None = None
    noanswer: str | None = None
    congestion: str | None = None
    chanunavail: str | None = None


class TransferNode(NodeSpec):
    type: Literal["transfer"]
    ends_call: ClassVar[bool] = True
    to: Annotated[str | None, AfterValidator(check_dial_target)] = None  # e.g. PJSIP/100
    number: str | None = Field(None, pattern=r"^\+?[0-9]{2,20}$")  # external, dialled via `trunk`
    trunk: str | None = Field(None, pattern=SAFE_NAME)
    timeout: int = Field(30, gt=0, le=600)
    prompt: str | None = None
    on: TransferBranches = TransferBranches()
    otherwise: str

    @model_validator(mode="after")
    def _target(self) -> TransferNode:
        if (self.to is None) == (self.number is None):
            raise ValueError("give exactly one of `to` (e.g. PJSIP/100) or `number` (with `trunk`)")
        if self.number is not None and self.trunk is None:
            raise ValueError("an external `number` needs the `trunk` to dial it through")
        if self.to is not None and self.trunk is not None:
            raise ValueError("`trunk` only applies to an external `number`")
        return self

    def dial_string(self) -> str:
        return self.to if self.to is not None else f"PJSIP/{self.number}@{self.trunk}"

    def refs(self) -> list[Ref]:
        refs = [*_optional("prompt", "prompt", self.prompt), Ref("node", "otherwise", self.otherwise)]
        return refs + [Ref("node", f"on.{k}", v) for k, v in self.on.model_dump().items() if v]


class VoicemailNode(NodeSpec):
    """Record a message. `failed` (a prompt id, default `voicemail_failed`, so every flow with a
    voicemail node carries that apology in its catalogue) plays when no message could be kept."""

    type: Literal["voicemail"]
    ends_call: ClassVar[bool] = True
    prompt: str | None = None
    failed: str = "voicemail_failed"
    max_seconds: int = Field(120, gt=0, le=600)
    silence_seconds: int = Field(5, ge=0, le=60, description="stop after this much silence; 0 = never")
    beep: bool = True
    next: str

    def refs(self) -> list[Ref]:
        return [*_optional("prompt", "prompt", self.prompt), Ref("prompt", "failed", self.failed),
                Ref("node", "next", self.next)]


CallVariable = Annotated[str, AfterValidator(check_call_variable)]
ChannelVariable = Annotated[str, AfterValidator(check_channel_variable)]
ChannelValue = Annotated[Scalar, AfterValidator(check_channel_value)]


class SetNode(NodeSpec):
    """Variables on the call record (`call`) and on the Asterisk channel (`channel`). Channel names
    come from an allow-list and values may not carry `$`, brackets, braces, quotes or control
    characters: SET VARIABLE stores them literally, but a later evaluation would not
    (ivr/callflow/safety.py says why, and what else is refused)."""

    type: Literal["set"]
    call: dict[CallVariable, Scalar] = {}  # written to the call record (e.g. category for QA)
    # Asterisk channel variables / functions, allow-listed in ivr/callflow/safety.py, e.g. CDR(userfield)
    channel: dict[ChannelVariable, ChannelValue] = {}
    next: str

    @model_validator(mode="after")
    def _something(self) -> SetNode:
        if not self.call and not self.channel:
            raise ValueError("set needs `call` and/or `channel` variables")
        return self

    def refs(self) -> list[Ref]:
        return [Ref("node", "next", self.next)]


class GotoNode(NodeSpec):
    type: Literal["goto"]
    next: str

    def refs(self) -> list[Ref]:
        return [Ref("node", "next", self.next)]


class HangupNode(NodeSpec):
    type: Literal["hangup"]
    ends_call: ClassVar[bool] = True
    prompt: str | None = None  # goodbye

    def refs(self) -> list[Ref]:
        return _optional("prompt", "prompt", self.prompt)


class SurveyNode(NodeSpec):
    """Post-call satisfaction survey: one DTMF key 1..scale, stored on the call record as `survey`."""

    type: Literal["survey"]
    prompt: str  # the question, e.g. "press 1 (very unsatisfied) to 5 (very satisfied)"
    scale: int = Field(5, ge=2, le=9, description="highest key; answers are 1..scale")
    timeout: float = Field(8.0, gt=0, le=60, description="seconds to wait for a key")
    retries: int = Field(1, ge=0, le=5)
    invalid: str | None = None  # prompt after a key outside 1..scale
    thanks: str | None = None  # prompt after an answer
    next: str

    def refs(self) -> list[Ref]:
        refs = [Ref("prompt", "prompt", self.prompt), Ref("node", "next", self.next)]
        return refs + _optional("prompt", "invalid", self.invalid) + _optional("prompt", "thanks", self.thanks)


NodeTypes = Registry[type[NodeSpec]]

BUILTIN_NODES: tuple[tuple[str, type[NodeSpec]], ...] = (
    ("play", PlayNode), ("menu", MenuNode), ("schedule", ScheduleNode), ("incident", IncidentNode),
    ("language", LanguageNode), ("queue", QueueNode), ("transfer", TransferNode),
    ("voicemail", VoicemailNode), ("set", SetNode), ("goto", GotoNode), ("hangup", HangupNode),
    ("survey", SurveyNode),
)


def build_node_registry() -> NodeTypes:
    """The node types flows may use; call once at start-up (a duplicate raises)."""
    registry: NodeTypes = Registry("node type")
    for name, model in BUILTIN_NODES:
        registry.register(name, model)
    return registry
