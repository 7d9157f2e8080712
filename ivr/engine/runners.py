"""Node type name -> the coroutine that runs it. Filled at start-up; a duplicate raises.

The runner modules never import this one (the Runner type lives in ivr.engine.context), so the
registry can import them all at the top.
"""

from __future__ import annotations

from ivr.engine.basic import run_goto, run_hangup, run_language, run_play, run_set
from ivr.engine.context import Runner
from ivr.engine.handoff import queue_runner, run_survey, run_transfer, run_voicemail
from ivr.engine.menu import run_menu
from ivr.engine.queue_wait import QueueRuntime
from ivr.engine.routing import run_incident, run_schedule
from ivr.registry import Registry

__all__ = ["Runner", "Runners", "build_runner_registry"]

Runners = Registry[Runner]


def build_runner_registry(queues: QueueRuntime | None = None) -> Runners:
    """`queues`: live queue nodes (announcements, overflow, callbacks); None = a plain Queue()."""
    registry: Runners = Registry("node runner")
    for name, runner in (
        ("play", run_play), ("menu", run_menu), ("schedule", run_schedule), ("incident", run_incident),
        ("language", run_language), ("queue", queue_runner(queues)), ("transfer", run_transfer),
        ("voicemail", run_voicemail), ("set", run_set), ("goto", run_goto), ("hangup", run_hangup),
        ("survey", run_survey),
    ):
        registry.register(name, runner)
    return registry
