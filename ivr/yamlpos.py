"""YAML that admins edit: where a value sits (line numbers for error messages they can act on),
and the shapes we refuse before building anything from it.

Anchors and aliases (`&a`, `*a`, `<<: *a`) are refused in every admin file (flows, queues.yaml,
schedules.yaml): a few hundred bytes of nested aliases expand to billions of nodes once
converted to plain data (the "billion laughs" bomb), and none of our files needs them. Nesting
deeper than MAX_DEPTH is refused too, because composing YAML recurses once per level, and so are
explicit tags (`!!set`, `!x`): our files need none, and some crash ruamel's constructor.
The check reads the parser's event stream, which is linear in the text and never expands anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

MAX_DEPTH = 40  # our deepest legitimate file nests 6 levels


class AdminFileError(ValueError):
    """Every problem found in one admin file that is not a flow (queues.yaml, schedules.yaml), one per
    line of the message; `issues` keeps them apart for callers that count or show them one by one."""

    def __init__(self, path: Path, issues: list[str]) -> None:
        self.path = path
        self.issues = issues
        super().__init__(f"{path}: {len(issues)} problem(s)\n" + "\n".join(f"  {i}" for i in issues))


class YamlShapeError(ValueError):
    """An admin YAML file uses an anchor/alias or nests too deeply; `line` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def check_admin_yaml(text: str) -> None:
    """YamlShapeError at the first anchor, alias, explicit tag or too-deep nesting. A syntax error raises
    ruamel's own YAMLError (with its mark), which each loader already reports."""
    depth = 0
    for event in YAML(typ="rt").parse(text):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        anchor = getattr(event, "anchor", None)
        if isinstance(event, AliasEvent):
            raise YamlShapeError(f"alias *{anchor}: anchors and aliases are not allowed here; "
                                 "write the value out in full", line)
        if anchor is not None:
            raise YamlShapeError(f"anchor &{anchor}: anchors and aliases are not allowed here; "
                                 "write the value out in full", line)
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise YamlShapeError(f"tag {tag}: explicit YAML tags are not allowed here; write a plain value "
                                 "(quote it to make it text)", line)
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlShapeError(f"nested more than {MAX_DEPTH} levels deep", line)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def load_admin_yaml(text: str, yaml: YAML | None = None) -> Any:
    """check_admin_yaml, then the round-trip load (line numbers kept); `yaml`: a configured loader."""
    check_admin_yaml(text)
    return (yaml or YAML(typ="rt")).load(text)


def _step(node: Any, part: str | int) -> tuple[int, Any] | None:
    """(0-based line, child) of `part` inside a ruamel mapping/sequence, or None. A mapping key is
    matched by its text: YAML reads `1:` as an int, a pydantic location names it "1"."""
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


def line_of(node: Any, loc: Iterable[str | int]) -> int | None:
    """1-based line of the deepest YAML node along a location (e.g. a pydantic error's `loc`; a
    missing key: its parent's line); ruamel.yaml round-trip nodes carry the positions in `.lc`.
    None when nothing matched."""
    line: int | None = None
    for part in loc:
        found = _step(node, part)
        if found is None:
            break
        line, node = found[0] + 1, found[1]
    return line
