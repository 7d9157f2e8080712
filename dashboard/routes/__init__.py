"""The dashboard's HTTP routes: one module per URL area, each with `build_router()`, mounted in
dashboard.app. The work behind them lives in the service modules of `dashboard/`."""
