"""Benchmarks, each run by a documented command; figures go to bench/RESULTS.md.

    python -m bench.agi_bench    FastAGI vs classic AGI vs a bare asyncio floor (make bench)
"""
