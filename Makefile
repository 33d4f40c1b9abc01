# Switchyard: `make demo` runs the whole stack with demo traffic; `make test` passes the tests.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo up down reset status test lint bench

$(STAMP): pyproject.toml package.json tools/kafka/pom.xml tools/ensure_apt.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,bench]"
	npm ci --no-fund --no-audit --loglevel=error
	$(VENV)/bin/switchyard fetch
	bash tools/ensure_apt.sh 'chromium|chromium-browser' chromium 'the pipeline page test'
	bash tools/ensure_apt.sh haproxy haproxy "the local cluster's load balancer"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/switchyard demo

up: setup
	$(VENV)/bin/switchyard up

down:
	$(VENV)/bin/switchyard down

reset:
	$(VENV)/bin/switchyard reset

status:
	$(VENV)/bin/switchyard status

test: setup
	$(VENV)/bin/pytest

bench: setup  # the benchmark suite (docs/benchmarks.md); `make bench ARGS=--quick` in under 3 minutes
	$(VENV)/bin/switchyard bench $(ARGS)

lint: setup  # style, types, and the layers' import contract (docs/architecture.md)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
