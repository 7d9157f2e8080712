"""`ivr services render`: the systemd units and the 0600 environment file of a production hotline."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Production services: systemd units rendered from the settings.", no_args_is_help=True)


def _default_ivr() -> Path:
    # The `ivr` script next to this interpreter: the venv the units must run (not resolved, so a
    # venv's python symlink to /usr/bin/python3 does not lead away from the venv).
    return Path(sys.executable).parent / "ivr"


@app.command()
def render(
    out: Annotated[Path, typer.Option(help="directory to write the units and hotline-ivr.env into")],
    ivr: Annotated[Path | None, typer.Option(help="the `ivr` executable the units run (default: this venv's)")] = None,
    workdir: Annotated[Path | None, typer.Option(help="the units' working directory (default: the checkout)")] = None,
) -> None:
    """Write hotline-*.service, hotline.target, sysusers/tmpfiles snippets and hotline-ivr.env (0600)."""
    from ivr.deploy.envfile import EnvFileError
    from ivr.deploy.units import UnitError, render_services
    from ivr.settings import REPO_ROOT, load_settings

    settings = load_settings()
    exe = (ivr or _default_ivr()).absolute()
    if not exe.is_file():
        typer.echo(f"--ivr {exe}: no such executable (the units' ExecStart= would fail)", err=True)
        raise typer.Exit(2)
    try:
        done = render_services(settings, os.environ, out.absolute(), exe, (workdir or REPO_ROOT).absolute())
    except (UnitError, EnvFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for path in done.units:
        typer.echo(str(path))
    typer.echo(f"{done.env_file} (0600; install it as {settings.service_env_file})")
    typer.echo(f"enable: systemctl enable --now hotline.target ({', '.join(done.worker_instances)})")
