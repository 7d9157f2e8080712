"""Records that must last, in SQL (docs/storage.md): finished calls, QA scores and samples, the audit log,
finished callbacks.

SQLite in the state dir is the embedded default; PostgreSQL is for production and several nodes.
Redis keeps the live state and a call's record until the mover (`ivr.records.mover`) has put it here (a
finished callback: `ivr.records.callback_history`).
"""
