# The two commands of the README:
#   make demo   installs what is missing, starts Redis, a private Asterisk and the FastAGI server,
#               and places real SIP calls (SIPp) through the sample hotline flow.
#   make test   installs what the tests need and runs the whole suite (CI runs exactly this).
.PHONY: demo test lint bench bootstrap

PY := .venv/bin/python

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	@$(PY) -m ivr.cli.main demo

test: bootstrap
	@$(PY) -m pytest -q

lint: bootstrap
	@.venv/bin/ruff check ivr agi dashboard harness tests bench
	@.venv/bin/mypy

bench: bootstrap
	@$(PY) -m bench.agi_bench
