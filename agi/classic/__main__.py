"""`python -m agi.classic <script> [args...]`: run one classic AGI script over stdin/stdout.

Exit codes: 0 done or caller hung up; 1 script failed; 2 unknown script. On failure a `FAILURE`
line goes to Asterisk so AGISTATUS=FAILURE and the dialplan can fall back.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from asterisk.agi import AGIHangup

from agi.classic.pyst import ClassicAgi, open_stdio
from agi.classic.registry import ScriptRegistry, build_registry
from agi.protocol import AgiHangup

log = logging.getLogger("agi.classic")


def main(argv: Sequence[str] | None = None, registry: ScriptRegistry | None = None) -> int:
    """Run the script named by argv[0]; `registry` defaults to the product's scripts (the
    benchmark's entry point, harness/classic_dialogue.py, passes one with its dialogue added)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # stderr of an AGI script goes to Asterisk's own stderr (its console); stdout is the protocol.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="agi.classic %(levelname)s: %(message)s")
    registry = registry if registry is not None else build_registry()
    stdin, stdout = open_stdio()
    if not args or args[0] not in registry:
        log.error("unknown classic AGI script %r; known: %s", args[0] if args else "", ", ".join(registry.names()))
        _fail(stdout)
        return 2
    name, script = args[0], registry[args[0]]
    try:
        return script(ClassicAgi(stdin, stdout), args[1:])
    except (AgiHangup, AGIHangup) as e:
        log.info("%s: caller hung up (%s)", name, e)
        return 0
    except Exception:
        log.exception("classic AGI script %r failed", name)
        _fail(stdout)
        return 1


def _fail(stdout: TextIO) -> None:
    try:
        stdout.write("FAILURE\n")
        stdout.flush()
    except OSError:
        pass  # Asterisk already closed the pipe


if __name__ == "__main__":
    sys.exit(main())
