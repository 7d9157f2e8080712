"""`ivr dashboard`: serve the dashboard with uvicorn on IVR_DASHBOARD_HOST/IVR_DASHBOARD_PORT.

uvicorn and the app are imported when the command runs, like every CLI module's heavy imports, so
that `ivr --help` stays fast; the dashboard package itself imports nothing lazily."""

from __future__ import annotations

from typing import Annotated

import typer


def run(
    host: Annotated[str | None, typer.Option(help="default: IVR_DASHBOARD_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: IVR_DASHBOARD_PORT")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the supervisor/admin dashboard (wallboard, call review, incidents, flows, /docs, /metrics)."""
    import uvicorn

    from dashboard.app import create_app
    from ivr.settings import load_settings

    settings = load_settings()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.dashboard_host, port=port or settings.dashboard_port,
                log_level=log_level, proxy_headers=False, access_log=False)
