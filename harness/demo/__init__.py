"""`ivr demo`: the live hotline (live.py, what `make demo` runs) and the scripted five calls
(scripted.py, `ivr demo --calls-only`)."""
