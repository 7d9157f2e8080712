"""`ivr asterisk build|start|stop|status|cli`: the private Asterisk instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ivr.settings import load_settings

if TYPE_CHECKING:
    from ivr.asterisk.process import AsteriskInstance

app = typer.Typer(help="Build and run the project's private Asterisk (own config dir and ports).",
                  no_args_is_help=True)


def _instance() -> AsteriskInstance:
    from ivr.asterisk.process import AsteriskInstance

    settings = load_settings()
    return AsteriskInstance(settings, settings.state_dir / "asterisk")


@app.command()
def build() -> None:
    """Build Asterisk from Debian's source package into the cache (reused when present)."""
    from ivr.asterisk.build import build as do_build

    typer.echo(do_build())


@app.command()
def start(timeout: float = typer.Option(60.0, help="seconds to wait for a full boot")) -> None:
    """Render asterisk-config/ into the runtime dir and start Asterisk in the background."""
    from ivr.asterisk.private import InsecureSecret
    from ivr.asterisk.recording_conf import RecordingConfigError

    inst = _instance()
    try:
        inst.start(timeout=timeout, detach=True)
    except (InsecureSecret, RecordingConfigError) as exc:  # a setting to fix: no traceback
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Asterisk running (pid {inst.pid()}), SIP 127.0.0.1:{inst.settings.sip_port}, "
               f"AMI {inst.settings.ami_host}:{inst.settings.ami_port}, runtime {inst.runtime}")


@app.command()
def stop() -> None:
    """Stop the instance cleanly (core stop now)."""
    inst = _instance()
    if not inst.is_running():
        typer.echo("Asterisk is not running")
        return
    inst.stop()
    typer.echo("Asterisk stopped")


@app.command()
def status() -> None:
    """Say whether the instance runs, and its uptime."""
    inst = _instance()
    state = inst.status()
    typer.echo(state)
    raise typer.Exit(0 if inst.is_running() else 3)


@app.command()
def cli(command: str) -> None:
    """Run an Asterisk CLI command on the instance (e.g. "queue show")."""
    typer.echo(_instance().cli(command))
