"""Name -> classic AGI script. Filled by `build_registry()` when a script starts, never at import."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agi.classic import fallback, voicemail
from agi.classic.pyst import ClassicAgi
from ivr.registry import DuplicateRegistration, Registry

__all__ = ["ClassicScript", "DuplicateRegistration", "ScriptRegistry", "build_registry"]

# A script gets the AGI session and its arguments (after the name) and returns the exit code.
ClassicScript = Callable[[ClassicAgi, list[str]], int]


class ScriptRegistry(Registry[ClassicScript]):
    def __init__(self) -> None:
        super().__init__("classic AGI script")


def build_registry(extra: Mapping[str, ClassicScript] | None = None) -> ScriptRegistry:
    """The product's scripts, then `extra` (the benchmark adds its dialogue from harness/); a name
    taken twice raises DuplicateRegistration."""
    registry = ScriptRegistry()
    registry.register("fallback", fallback.run)
    registry.register("voicemail", voicemail.run)
    for name, script in (extra or {}).items():
        registry.register(name, script)
    return registry
