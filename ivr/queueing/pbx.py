"""What the queue code and the Asterisk config rendered from queues.yaml (ivr.asterisk.queues_conf)
agree on: the member interface of an agent's phone, the dialplan context a caller who leaves a
queue lands in, and the ring cycle. Kept here, below both, so the queue code never imports the renderer."""

from __future__ import annotations

from ivr.queueing.model import QueueConfig
from ivr.settings import Settings

EXIT_CONTEXT = "ivr-queue-exit"  # single-digit exits from Queue() (the callback key) land here


def interface(agent_id: str) -> str:
    """The queue member interface of an agent's phone."""
    return f"PJSIP/{agent_id}"


def ring_cycle(cfg: QueueConfig, settings: Settings | None) -> float:
    """This deployment's ring cycle: IVR_RING_CYCLE_S wins over queues.yaml."""
    if settings is not None and settings.ring_cycle_s:
        return settings.ring_cycle_s
    return cfg.ring_cycle_s
