"""Classic per-call AGI scripts (pyst2 over stdin/stdout): `python -m agi.classic <name> [args]`.

They run when the FastAGI server cannot (fallback, then the voicemail check); the benchmark's
classic `dialogue` is not product: harness/classic_dialogue.py adds it to a registry of its own.
Scripts are registered explicitly in `registry.build_registry()`; nothing happens at import."""
