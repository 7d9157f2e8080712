"""Live QA: both legs of a bridged queue call stream to Vosk while the call is on (docs/liveqa.md)."""
