"""`ivr flows`: check flow files and show a flow's node graph.

Which files are flows: YAML files in the flows directory with a top-level `nodes:` key
(schedules.yaml and queues.yaml have none and are skipped).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Annotated

import typer

from ivr.callflow.issues import errors_only

app = typer.Typer(help="Call flows: check them, show their node graph.", no_args_is_help=True)

FlowsDir = Annotated[
    Path | None, typer.Option("--flows-dir", help="Directory of flows and schedules.yaml [IVR_FLOWS_DIR]")
]


def _flows_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    from ivr.settings import load_settings

    return load_settings().flows_dir


def _schedule_names(flows_dir: Path) -> list[str]:
    """Schedule names from <flows_dir>/schedules.yaml; exits 1 if that file is broken."""
    from ivr.schedule import ScheduleError, load_schedules

    path = flows_dir / "schedules.yaml"
    if not path.exists():
        typer.echo(f"warning: {path} not found: every schedule node will be reported unknown", err=True)
        return []
    try:
        return sorted(load_schedules(path))
    except ScheduleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command("check")
def check(
    files: Annotated[list[Path] | None, typer.Argument(help="Flow files (default: every flow)")] = None,
    flows_dir: FlowsDir = None,
) -> None:
    """Check flow files; print every problem with file, line, node and field. Exit 1 on errors."""
    from ivr.callflow.loader import check_flow_file, flow_files
    from ivr.callflow.nodes import build_node_registry

    directory = _flows_dir(flows_dir)
    paths = files or flow_files(directory)
    if not paths:
        typer.echo(f"no flow files in {directory}", err=True)
        raise typer.Exit(1)
    node_types, schedules = build_node_registry(), _schedule_names(directory)
    failed = 0
    for path in paths:
        flow, issues = check_flow_file(path, node_types, schedules)
        for issue in issues:
            typer.echo(str(issue), err=issue.severity == "error")
        warnings = len(issues) - len(errors_only(issues))
        if flow is None:
            failed += 1
            typer.echo(f"{path}: FAILED, {len(errors_only(issues))} error(s), {warnings} warning(s)")
        else:
            typer.echo(f"{path}: ok, version {flow.version}, {len(flow.nodes)} nodes, {warnings} warning(s)")
    if failed:
        raise typer.Exit(1)


@app.command("show")
def show(name: str, flows_dir: FlowsDir = None) -> None:
    """Print flow NAME as text: each node with its branches, in the order a caller meets them."""
    from ivr.callflow.issues import FlowInvalid
    from ivr.callflow.loader import load_flow
    from ivr.callflow.nodes import build_node_registry

    directory = _flows_dir(flows_dir)
    try:
        flow = load_flow(directory / f"{name}.yaml", build_node_registry(), _schedule_names(directory))
    except FlowInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{flow.name} (version {flow.version}): {flow.description}")
    languages = ", ".join(flow.languages)
    typer.echo(f"languages: {languages} (default {flow.default_language}); start: {flow.start}")
    order: list[str] = []
    todo = deque([flow.start])
    while todo:
        node_id = todo.popleft()
        if node_id in order:
            continue
        order.append(node_id)
        todo.extend(t for _, t in flow.nodes[node_id].targets())
    order += [n for n in flow.nodes if n not in order]
    for node_id in order:
        node = flow.nodes[node_id]
        prompts = [r.value for r in node.refs() if r.kind == "prompt"]
        extra = f"  prompt: {', '.join(prompts)}" if prompts else ""
        typer.echo(f"\n{node_id} [{node.type}]{extra}")
        for field, target in node.targets():
            typer.echo(f"  {field:<14} -> {target}")
