"""The `ivr` command. Each concern lives in its own module under ivr/cli/ and is
mounted here explicitly, when the command starts (nothing happens at import)."""

from __future__ import annotations

import typer


def build_app() -> typer.Typer:
    from ivr.cli import asterisk, demo, flows, prompts, serve

    app = typer.Typer(help="Hotline IVR: call flows, FastAGI server, private Asterisk, QA.", no_args_is_help=True)
    app.add_typer(flows.app, name="flows")
    app.add_typer(prompts.app, name="prompts")
    app.add_typer(asterisk.app, name="asterisk")
    app.command(name="serve")(serve.serve)
    app.command(name="demo")(demo.demo)
    from ivr.cli import dashboard as dashboard_cli
    from ivr.cli import users

    app.add_typer(users.app, name="users")
    app.command(name="dashboard")(dashboard_cli.run)
    from ivr.cli import qa, retention, transcribe

    app.add_typer(qa.app, name="qa")
    app.add_typer(transcribe.app, name="transcribe")
    app.add_typer(retention.app, name="retention")
    app.command(name="redact")(qa.redact)
    from ivr.cli import agents

    app.add_typer(agents.app, name="agents")
    from ivr.cli import doctor, services

    app.add_typer(services.app, name="services")
    app.command(name="doctor")(doctor.doctor)
    from ivr.cli import db

    app.add_typer(db.app, name="db")
    from ivr.cli import liveqa

    app.command(name="liveqa")(liveqa.liveqa)
    return app


def main() -> None:
    build_app()()


if __name__ == "__main__":
    main()
