"""Problems found in a flow file, each naming the file, node, field and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ivr.yamlpos import line_of

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class FlowIssue:
    file: str
    node: str | None
    field: str | None
    line: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        parts = []
        if self.node is not None:
            parts.append(f"node {self.node!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        subject = " ".join(parts)
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{subject + ': ' if subject else ''}{self.message}"


def errors_only(issues: list[FlowIssue]) -> list[FlowIssue]:
    return [i for i in issues if i.severity == "error"]


class FlowInvalid(ValueError):
    """A flow file has errors; `issues` holds all of them (warnings included)."""

    def __init__(self, file: str, issues: list[FlowIssue]) -> None:
        self.file = file
        self.issues = issues
        errors = errors_only(issues)
        super().__init__(f"{file}: {len(errors)} error(s)\n" + "\n".join(f"  {i}" for i in errors))


class Locator:
    """Turns a path inside the flow file into a line (ivr.yamlpos.line_of) and builds issues with it."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root

    def line(self, path: Sequence[str | int]) -> int | None:
        """1-based line of the deepest key found along `path` (a missing key: its parent's line)."""
        return line_of(self.root, path)

    def node_issue(
        self, node: str, field: str | None, message: str, severity: Severity = "error"
    ) -> FlowIssue:
        path: list[str | int] = ["nodes", node, *(field.split(".") if field else [])]
        return FlowIssue(self.file, node, field, self.line(path), message, severity)

    def top_issue(self, field: str, message: str, severity: Severity = "error") -> FlowIssue:
        return FlowIssue(self.file, None, field, self.line(field.split(".")), message, severity)
