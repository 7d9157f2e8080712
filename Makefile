# The two commands of the README:
#   make demo   installs what is missing, then runs the whole hotline live until Ctrl-C: Redis, a private
#               Asterisk, ivr serve, a transcription worker, the dashboard, SIPp callers and agents (docs/demo.md).
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
