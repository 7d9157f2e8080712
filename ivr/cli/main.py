"""The `ivr` command. Each concern lives in its own module under ivr/cli/ and is
mounted here explicitly, when the command starts (nothing happens at import)."""

from __future__ import annotations

import typer


def build_app() -> typer.Typer:
    from ivr.cli import flows, prompts

    app = typer.Typer(help="Hotline IVR: call flows, FastAGI server, private Asterisk, QA.", no_args_is_help=True)
    app.add_typer(flows.app, name="flows")
    app.add_typer(prompts.app, name="prompts")
    return app


def main() -> None:
    build_app()()
