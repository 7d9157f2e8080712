"""Load ivr/flows/queues.yaml: every problem is reported with the file, queue/agent, field and line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.error import YAMLError

from ivr.queueing.model import Loc, QueueConfig, reference_problems
from ivr.yamlpos import AdminFileError, YamlShapeError, line_of, load_admin_yaml


class QueueConfigError(AdminFileError):
    """Every problem found in a queues file, one per line of the message."""


def _where(loc: Loc) -> str:
    """'queue 'support', field overflow.0.when' rather than a bare pydantic path."""
    if len(loc) >= 2 and loc[0] in ("queues", "agents"):
        kind = "queue" if loc[0] == "queues" else "agent"
        rest = ".".join(str(p) for p in loc[2:]) or "(itself)"
        if rest == "[key]":
            return f"{kind} {loc[1]!r}"
        return f"{kind} {loc[1]!r}, field {rest}"
    return "field " + (".".join(str(p) for p in loc) or "(top level)")


def _issue(data: Any, loc: Loc, msg: str) -> str:
    line = line_of(data, loc) or 1
    return f"line {line}: {_where(loc)}: {msg}"


def parse_queue_config(text: str, path: Path, schedules: Iterable[str] | None = None) -> QueueConfig:
    """Parse queues.yaml text; `schedules` (names in schedules.yaml) also checks `during`/`schedule`."""
    try:
        data = load_admin_yaml(text)
    except YamlShapeError as exc:
        raise QueueConfigError(path, [f"line {exc.line}: {exc}"]) from None
    except YAMLError as exc:
        raise QueueConfigError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise QueueConfigError(path, ["line 1: top level must be a mapping (queues, agents, ...)"])
    try:
        cfg = QueueConfig.model_validate(data, context={"skip_references": True})
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
            issues.append(_issue(data, loc, err["msg"].removeprefix("Value error, ")))
        raise QueueConfigError(path, issues) from None
    problems = reference_problems(cfg)
    if schedules is not None:
        problems += _schedule_problems(cfg, set(schedules))
    if problems:
        raise QueueConfigError(path, [_issue(data, loc, msg) for loc, msg in problems])
    return cfg


def _schedule_problems(cfg: QueueConfig, known: set[str]) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    hint = f"known schedules: {', '.join(sorted(known)) or '(none)'}"
    for qname, queue in cfg.queues.items():
        if queue.callback.enabled and queue.callback.schedule not in known:
            out.append((("queues", qname, "callback", "schedule"),
                        f"unknown schedule {queue.callback.schedule!r}; {hint}"))
        for i, rule in enumerate(queue.overflow):
            if rule.during and rule.during not in known:
                loc: Loc = ("queues", qname, "overflow", i, "during")
                out.append((loc, f"unknown schedule {rule.during!r}; {hint}"))
    return out


def load_queue_config(path: Path, schedules: Iterable[str] | None = None) -> QueueConfig:
    """Read and check queues.yaml; QueueConfigError lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueueConfigError(path, [f"cannot read: {exc}"]) from exc
    return parse_queue_config(text, path, schedules)
