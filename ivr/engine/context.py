"""State of one call while the engine walks its flow, and what node runners share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ivr.callflow.model import Flow
from ivr.callflow.safety import Scalar
from ivr.clock import Clock
from ivr.engine.channel import Channel
from ivr.engine.recorder import Recorder
from ivr.prompts import ensure_prompt
from ivr.schedule import Schedule
from ivr.state.redis import RedisGetter

# (text, language) -> audio path without extension, synthesised if needed
Synthesizer = Callable[[str, str], Awaitable[Path]]
DTMF_ESCAPE = "0123456789*#"
# Asterisk's own sound lookups use short codes; our prompts are absolute paths either way.
ASTERISK_LANGUAGE = {"zh-CN": "zh", "en-US": "en"}


def asterisk_language(language: str) -> str:
    return ASTERISK_LANGUAGE.get(language, language.split("-")[0])


def ivr_prompts_synthesizer(prompts_dir: Path) -> Synthesizer:
    """Synthesis through ivr.prompts (espeak-ng, cached by content hash) in a worker thread."""

    async def synthesize(text: str, language: str) -> Path:
        return await asyncio.to_thread(ensure_prompt, text, language, prompts_dir)

    return synthesize


@dataclass(frozen=True)
class End:
    """The flow is over: `outcome` for the call record; `hang_up` = hang up the channel too."""

    outcome: str
    hang_up: bool = False


Step = str | End  # next node id, or the end
# QUEUESTATUS is not set (or CONTINUE) when an agent answered and the bridge ended.
QUEUE_ANSWERED = frozenset({"", "CONTINUE"})


def status_branch(branches: BaseModel, status: str) -> str | None:
    """The target for an application status (QUEUESTATUS, DIALSTATUS), if the node maps it."""
    name = status.lower()
    if name not in type(branches).model_fields:
        return None
    target = getattr(branches, name)
    return str(target) if target is not None else None


@dataclass
class Services:
    """Shared by every call of one engine."""

    schedules: dict[str, Schedule]
    clock: Clock
    redis: RedisGetter
    recordings_dir: Path
    synthesize: Synthesizer


@dataclass
class CallContext:
    flow: Flow
    channel: Channel
    recorder: Recorder
    services: Services
    call_id: str
    language: str
    node_id: str = ""
    typeahead: str | None = None  # digit pressed during an interruptible play, for the next menu
    vars: dict[str, Scalar] = field(default_factory=dict)
    # What the call amounts to if it ends now (e.g. "voicemail" once a message was recorded);
    # None: nothing yet, so a hangup is "caller_hangup" and a hangup node is "hangup".
    result: str | None = None

    def event(self, kind: str, **data: Any) -> None:
        self.recorder.event(kind, node=self.node_id, **data)

    async def prompt_path(self, prompt_id: str) -> str:
        spec = self.flow.prompts[prompt_id]
        if spec.file is not None:
            return str(spec.file)
        text, language = spec.text_for(self.language, self.flow.default_language)
        return str(await self.services.synthesize(text, language))

    async def play(self, prompt_id: str, *, interruptible: bool = False) -> str | None:
        """Play a catalogue prompt; the digit that interrupted it (interruptible only) or None."""
        path = await self.prompt_path(prompt_id)
        digit = await self.channel.stream_file(path, DTMF_ESCAPE if interruptible else "")
        return digit or None

    async def say(self, text: str, language: str) -> None:
        """Play text that is not in the catalogue (e.g. the incident statement)."""
        path = await self.services.synthesize(text, language)
        await self.channel.stream_file(str(path))


# What runs one node: each takes its own NodeSpec subclass, which a Callable type cannot say per entry.
Runner = Callable[[Any, CallContext], Awaitable[Step]]
