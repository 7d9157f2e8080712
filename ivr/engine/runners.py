"""Node type name -> the coroutine that runs it. Filled at start-up; a duplicate raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ivr.callflow.registry import Registry
from ivr.engine.context import CallContext, Step

# Each runner takes its own NodeSpec subclass; the registry cannot express that per entry.
Runner = Callable[[Any, CallContext], Awaitable[Step]]
Runners = Registry[Runner]


def build_runner_registry() -> Runners:
    from ivr.engine.basic import run_goto, run_hangup, run_language, run_play, run_set
    from ivr.engine.handoff import run_queue, run_transfer, run_voicemail
    from ivr.engine.menu import run_menu
    from ivr.engine.routing import run_incident, run_schedule

    registry: Runners = Registry("node runner")
    for name, runner in (
        ("play", run_play), ("menu", run_menu), ("schedule", run_schedule), ("incident", run_incident),
        ("language", run_language), ("queue", run_queue), ("transfer", run_transfer),
        ("voicemail", run_voicemail), ("set", run_set), ("goto", run_goto), ("hangup", run_hangup),
    ):
        registry.register(name, runner)
    return registry
