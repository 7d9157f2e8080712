"""`ivr flows`: check flow files and show a flow's node graph.

`ivr flows check` checks each file by its kind: queues.yaml and schedules.yaml with their own
loaders, every other file as a flow. Without arguments: every *.yaml in the flows directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from pathlib import Path
from typing import Annotated

import typer

from ivr.callflow.issues import errors_only

app = typer.Typer(help="Call flows: check them, show their node graph.", no_args_is_help=True)

CheckTimeout = Annotated[float | None, typer.Option(
    "--timeout", help="seconds a flow's check may take, then it is stopped [default: the flow editor's limit]")]
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
    files: Annotated[list[Path] | None, typer.Argument(help="Files (default: every *.yaml in the flows dir)")] = None,
    flows_dir: FlowsDir = None,
    timeout: CheckTimeout = None,
) -> None:
    """Check flows, queues.yaml and schedules.yaml, each by its kind; print every problem with file,
    line (node, field). Exit 1 on errors. Each flow is checked in a child process stopped at --timeout
    (the dashboard's limit), so a pathological file fails instead of hanging."""
    directory = _flows_dir(flows_dir)
    paths = files or sorted(directory.glob("*.yaml"))
    if not paths:
        typer.echo(f"no YAML files in {directory}", err=True)
        raise typer.Exit(1)
    from ivr.callflow.loader import CHECK_TIMEOUT_S

    schedules = _schedule_names(directory)
    limit = CHECK_TIMEOUT_S if timeout is None else timeout
    failed = sum(not _check_one(path, schedules, limit) for path in paths)
    if failed:
        raise typer.Exit(1)


def _check_one(path: Path, schedules: list[str], timeout: float) -> bool:
    from ivr.callflow.loader import file_kind

    kind = file_kind(path)
    if kind == "queues":
        return _check_queues(path, schedules)
    if kind == "schedules":
        return _check_schedules(path)
    return _check_flow(path, schedules, timeout)


def _check_flow(path: Path, schedules: list[str], timeout: float) -> bool:
    from ivr.bounded import Aborted, run_bounded
    from ivr.callflow.loader import check_flow_file
    from ivr.callflow.nodes import build_node_registry

    try:
        flow, issues = run_bounded(check_flow_file, path, build_node_registry(), schedules, timeout=timeout,
                                   what=f"checking {path}")
    except Aborted as exc:  # killed at the limit, or its process died
        typer.echo(f"{exc} (is the file very large or deeply nested?)", err=True)
        typer.echo(f"{path}: FAILED, not checked")
        return False
    for issue in issues:
        typer.echo(str(issue), err=issue.severity == "error")
    warnings = len(issues) - len(errors_only(issues))
    if flow is None:
        typer.echo(f"{path}: FAILED, {len(errors_only(issues))} error(s), {warnings} warning(s)")
        return False
    typer.echo(f"{path}: ok, version {flow.version}, {len(flow.nodes)} nodes, {warnings} warning(s)")
    return True


def _check_queues(path: Path, schedules: list[str]) -> bool:
    from ivr.queueing.config import load_queue_config

    return _check_admin_file(path, "queues", lambda: load_queue_config(path, schedules).queues)


def _check_schedules(path: Path) -> bool:
    from ivr.schedule import load_schedules

    return _check_admin_file(path, "schedules", lambda: load_schedules(path))


def _check_admin_file(path: Path, kind: str, load: Callable[[], Sized]) -> bool:
    """queues.yaml or schedules.yaml: every problem with its line, or how many `kind` it defines."""
    from ivr.yamlpos import AdminFileError

    try:
        loaded = load()
    except AdminFileError as exc:
        typer.echo(str(exc), err=True)
        typer.echo(f"{path}: FAILED ({kind}), {len(exc.issues)} error(s)")
        return False
    typer.echo(f"{path}: ok ({kind}), {len(loaded)} {kind}")
    return True


@app.command("show")
def show(name: str, flows_dir: FlowsDir = None) -> None:
    """Print flow NAME as text: each node with its branches, in the order a caller meets them."""
    from ivr.callflow.issues import FlowInvalid
    from ivr.callflow.loader import load_flow
    from ivr.callflow.nodes import build_node_registry
    from ivr.callflow.walk import from_start

    directory = _flows_dir(flows_dir)
    try:
        flow = load_flow(directory / f"{name}.yaml", build_node_registry(), _schedule_names(directory))
    except FlowInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{flow.name} (version {flow.version}): {flow.description}")
    languages = ", ".join(flow.languages)
    typer.echo(f"languages: {languages} (default {flow.default_language}); start: {flow.start}")
    order = list(from_start(flow))
    order += [n for n in flow.nodes if n not in order]
    for node_id in order:
        node = flow.nodes[node_id]
        prompts = [r.value for r in node.refs() if r.kind == "prompt"]
        extra = f"  prompt: {', '.join(prompts)}" if prompts else ""
        typer.echo(f"\n{node_id} [{node.type}]{extra}")
        for field, target in node.targets():
            typer.echo(f"  {field:<14} -> {target}")
