"""Read a flow file: YAML with line numbers -> checked, immutable Flow, or every problem found.

Which YAML files in the flows directory are flows: those with a top-level `nodes:` key, other than
the data files queues.yaml and schedules.yaml (DATA_FILES), which sit in the same directory.
(A textual test, so a flow with a YAML syntax error is still recognised and reported.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from ivr.callflow.checks import check_flow
from ivr.callflow.issues import FlowInvalid, FlowIssue, Locator, errors_only
from ivr.callflow.model import (
    SUPPORTED_LANGUAGES,
    Flow,
    FlowHeader,
    PromptSpec,
    strip_audio_extension,
)
from ivr.callflow.nodes import NodeSpec, NodeTypes
from ivr.callflow.safety import audio_path_problem
from ivr.yamlpos import YamlShapeError, load_admin_yaml

# Seconds one flow's check may take (the flow editor's, `ivr flows check`'s): a real flow checks in
# well under one; past it the check is stopped (ivr.bounded) and the file refused.
CHECK_TIMEOUT_S = 10.0
# Largest flow file checked at all (the flow editor's, the hot reload's): real flows are a few kB;
# a file past it is refused unread rather than parsed for seconds.
MAX_FLOW_BYTES = 512 * 1024

_FLOW_MARKER = re.compile(r"^nodes\s*:", re.MULTILINE)
# The data files that share the flows directory, by file name (the service loads them by that name).
DATA_FILES = {"queues.yaml": "queues", "schedules.yaml": "schedules"}


def is_flow_file(path: Path) -> bool:
    if path.name in DATA_FILES:
        return False
    try:
        return bool(_FLOW_MARKER.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def flow_files(flows_dir: Path) -> list[Path]:
    return sorted(p for p in flows_dir.glob("*.yaml") if is_flow_file(p))


def file_kind(path: Path) -> str:
    """"queues", "schedules" or "flow": how `ivr flows check` and the flow editor treat a file."""
    return DATA_FILES.get(path.name, "flow")


def load_flow(path: Path, node_types: NodeTypes, schedules: Collection[str]) -> Flow:
    """The checked flow; FlowInvalid (with every issue) if it has any error."""
    flow, issues = check_flow_file(path, node_types, schedules)
    if flow is None:
        raise FlowInvalid(str(path), issues)
    return flow


def check_flow_file(
    path: Path, node_types: NodeTypes, schedules: Collection[str]
) -> tuple[Flow | None, list[FlowIssue]]:
    """(flow or None when there is an error, all issues including warnings)."""
    file = str(path)
    try:
        raw = path.read_bytes()
        data = _parse(raw.decode("utf-8"))
    except OSError as exc:
        return None, [FlowIssue(file, None, None, None, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, [FlowIssue(file, None, None, None, f"not UTF-8 text (byte {exc.start})")]
    except _YamlSyntax as exc:
        return None, [FlowIssue(file, None, None, exc.line, f"YAML syntax error: {exc}")]
    except YamlShapeError as exc:
        return None, [FlowIssue(file, None, None, exc.line, str(exc))]
    if not isinstance(data, dict):
        return None, [FlowIssue(file, None, None, 1, "a flow is a mapping with name, start, prompts, nodes")]
    loc = Locator(file, data)
    header, issues = _header(data, loc)
    if header is None:
        return None, issues
    issues += _header_semantics(header, path, loc)
    prompts, prompt_issues = _prompts(header.prompts, path.parent, loc)
    nodes, node_issues = _nodes(header.nodes, node_types, loc)
    flow = Flow(
        name=header.name, description=header.description, default_language=header.default_language,
        languages=tuple(header.languages), start=header.start, prompts=prompts, nodes=nodes,
        version=hashlib.sha256(raw).hexdigest()[:12], path=path.resolve(),
    )
    issues += prompt_issues + node_issues
    declared = {str(k) for k in header.nodes}
    issues += check_flow(flow, declared=declared, schedules=schedules, loc=loc, complete=not node_issues)
    issues.sort(key=lambda i: (i.line or 0, i.severity))
    return (None if errors_only(issues) else flow), issues


class _YamlSyntax(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _parse(text: str) -> Any:
    """The round-trip data; YamlShapeError for anchors, aliases, deep nesting (ivr/yamlpos.py)."""
    try:
        return load_admin_yaml(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise _YamlSyntax(message, mark.line + 1 if mark else None) from exc
    except YAMLError as exc:
        raise _YamlSyntax(str(exc).splitlines()[0], None) from exc


def plain(value: Any) -> Any:
    """ruamel's round-trip types -> plain Python (ScalarBoolean is an int, not a bool)."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, ScalarBoolean | bool):
        return bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _message(err: Any) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


def _pydantic_issues(
    exc: ValidationError, loc: Locator, node: str | None, base: list[str]
) -> list[FlowIssue]:
    issues = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"] if p != "[key]"]  # a bad dict key: name the key itself
        field = ".".join(parts) or None
        line = loc.line([*base, *parts])
        issues.append(FlowIssue(loc.file, node, field, line, _message(err)))
    return issues


def _header(data: dict[Any, Any], loc: Locator) -> tuple[FlowHeader | None, list[FlowIssue]]:
    top = {k: plain(v) for k, v in data.items()}
    for section in ("prompts", "nodes"):
        if isinstance(top.get(section), dict):
            top[section] = {str(k): v for k, v in top[section].items()}
    try:
        return FlowHeader.model_validate(top), []
    except ValidationError as exc:
        return None, _pydantic_issues(exc, loc, None, [])


def _header_semantics(header: FlowHeader, path: Path, loc: Locator) -> list[FlowIssue]:
    issues = []
    if header.name != path.stem:
        issues.append(loc.top_issue(
            "name", f"name {header.name!r} must match the file name {path.stem!r} (the FastAGI path)"))
    for i, language in enumerate(header.languages):
        if language not in SUPPORTED_LANGUAGES:
            issues.append(FlowIssue(loc.file, None, f"languages.{i}", loc.line(["languages", i]),
                                    f"unsupported language {language!r}; supported: {SUPPORTED_LANGUAGES}"))
    if header.default_language not in header.languages:
        issues.append(loc.top_issue(
            "default_language", f"{header.default_language!r} is not in languages {header.languages}"))
    return issues


def _prompts(
    raw: dict[str, Any], base_dir: Path, loc: Locator
) -> tuple[dict[str, PromptSpec], list[FlowIssue]]:
    prompts: dict[str, PromptSpec] = {}
    issues: list[FlowIssue] = []
    for pid, body in raw.items():
        field = f"prompts.{pid}"
        if not isinstance(body, dict) or not body:
            issues.append(loc.top_issue(field, "a prompt is a mapping language -> text, or {file: path}"))
        elif "file" in body:
            if len(body) != 1 or not isinstance(body["file"], str) or not body["file"]:
                issues.append(loc.top_issue(field, "a file prompt has exactly one key, `file: <path>`"))
                continue
            file = Path(body["file"])
            file = strip_audio_extension((file if file.is_absolute() else base_dir / file).resolve())
            problem = audio_path_problem(str(file))
            if problem:
                issues.append(loc.top_issue(f"{field}.file", problem))
                continue
            prompts[pid] = PromptSpec(file=file)
        else:
            bad = [str(k) for k, v in body.items() if not isinstance(v, str) or not v.strip()]
            for language in bad:
                issues.append(loc.top_issue(f"{field}.{language}", "prompt text must be a non-empty string"))
            if not bad:
                prompts[pid] = PromptSpec(texts={str(k): str(v).strip() for k, v in body.items()})
    return prompts, issues


def _nodes(
    raw: dict[str, Any], node_types: NodeTypes, loc: Locator
) -> tuple[dict[str, NodeSpec], list[FlowIssue]]:
    nodes: dict[str, NodeSpec] = {}
    issues: list[FlowIssue] = []
    known = ", ".join(node_types.names())
    for node_id, body in raw.items():
        if not isinstance(body, dict):
            issues.append(loc.node_issue(node_id, None, f"a node is a mapping with a `type` ({known})"))
            continue
        model = node_types.get(str(body.get("type")))
        if model is None:
            what = "missing `type`" if "type" not in body else f"unknown node type {body['type']!r}"
            issues.append(loc.node_issue(node_id, "type", f"{what} (known: {known})"))
            continue
        try:
            nodes[node_id] = model.model_validate(body)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(exc, loc, node_id, ["nodes", node_id]))
            partial = _without_unknown_fields(model, body, exc)
            if partial is not None:  # still check its targets and prompts: one pass, all errors
                nodes[node_id] = partial
    return nodes, issues


def _without_unknown_fields(
    model: type[NodeSpec], body: dict[str, Any], exc: ValidationError
) -> NodeSpec | None:
    """The node validated without its misspelt fields, when those were its only problem."""
    unknown = {e["loc"][0] for e in exc.errors() if e["type"] == "extra_forbidden" and len(e["loc"]) == 1}
    if not unknown:
        return None
    try:
        return model.model_validate({k: v for k, v in body.items() if k not in unknown})
    except ValidationError:
        return None
