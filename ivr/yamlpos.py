"""Where a value sits in a YAML file: line numbers for error messages that admins can act on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def line_of(node: Any, loc: Iterable[str | int]) -> int | None:
    """1-based line of the deepest YAML node along a location (e.g. a pydantic error's `loc`);
    ruamel.yaml round-trip nodes carry the positions in `.lc`. None when nothing matched."""
    line: int | None = None
    for part in loc:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            if isinstance(node, list) and isinstance(part, int):
                line, node = lc.item(part)[0] + 1, node[part]
            elif isinstance(node, dict) and part in node:
                line, node = lc.key(part)[0] + 1, node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line
