"""Line numbers of YAML keys (ruamel round-trip) for error messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ivr.callflow.issues import FlowIssue, Severity


def _step(node: Any, part: str | int) -> tuple[int, Any] | None:
    """(0-based line, child) of `part` inside a ruamel mapping/sequence, or None."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if isinstance(node, dict):
            for key in node:
                if str(key) == str(part):
                    return lc.key(key)[0], node[key]
            return None
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            return lc.item(part)[0], node[part]
    except (KeyError, IndexError, TypeError):  # ruamel keeps no position for some keys (e.g. `<<`)
        return None
    return None


class Locator:
    """Turns a path inside the flow file into a line and builds issues with it."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root

    def line(self, path: Sequence[str | int]) -> int | None:
        """1-based line of the deepest key found along `path` (a missing key: its parent's line)."""
        node, line = self.root, None
        for part in path:
            found = _step(node, part)
            if found is None:
                break
            line, node = found[0] + 1, found[1]
        return line

    def node_issue(
        self, node: str, field: str | None, message: str, severity: Severity = "error"
    ) -> FlowIssue:
        path: list[str | int] = ["nodes", node, *(field.split(".") if field else [])]
        return FlowIssue(self.file, node, field, self.line(path), message, severity)

    def top_issue(self, field: str, message: str, severity: Severity = "error") -> FlowIssue:
        return FlowIssue(self.file, None, field, self.line(field.split(".")), message, severity)
