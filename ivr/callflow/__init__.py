"""Call flows: the pydantic model of a flow, its YAML loader (with line numbers), checks,
the node-type registry and the hot-reload store. Nothing is registered at import time."""
