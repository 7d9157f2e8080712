"""Classic per-call AGI scripts (pyst2 over stdin/stdout): `python -m agi.classic <name> [args]`.

They run when the FastAGI server cannot (fallback) and for the FastAGI-vs-classic benchmark.
Scripts are registered explicitly in `registry.build_registry()`; nothing happens at import."""
