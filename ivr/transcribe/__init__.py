"""Recorded calls -> dialogue transcripts with Vosk, on an RQ queue (see docs/transcription.md)."""
