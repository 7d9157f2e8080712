"""The test, demo and benchmark harness: SIPp callers and agents, a private Redis, the service in a
thread, a scripted Channel, synthetic speech, the benchmark's AGI dialogue, the demo.

Not part of the product: the wheel ships `ivr`, `agi` and `dashboard` only (tests/test_packaging.py
checks it). The harness may import the product; the product never imports the harness (`ivr demo`
loads harness.demo lazily from a checkout and says so when it is not there)."""
