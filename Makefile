# GSLTS — the two commands: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.gslts-installed
PY_PROJECTS := pyproject.toml uv.lock backend/kiwoom/pyproject.toml backend/pyproject.toml \
	backend/common/pyproject.toml backend/cli/pyproject.toml database/pyproject.toml \
	sub-server/pyproject.toml

.PHONY: setup run test test-unit lint format bench soak sim clean help

help:
	@echo "make run    set up and start the whole system on the simulator"
	@echo "make test   set up and run every test"
	@echo "make lint   ruff + mypy (strict)"
	@echo "make bench  benchmarks (writes tests/bench/results/latest.json)"
	@echo "make soak   the hub through a whole simulated KRX day with faults (root, ~30 min)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# One .venv holds every package of the repo, installed editable (uv workspace, locked).
$(STAMP): $(PY_PROJECTS) | $(BIN)/uv
	$(BIN)/uv sync --frozen --inexact --all-packages --python $(BIN)/python
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/gslts run

# The layering contracts first (pyproject.toml [tool.importlinter]): a forbidden import
# fails the build before any test runs.
test: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m tests.bench

# The full day: >= 10M trades, every fault on a schedule (tests/bench/soak.py; root for the
# journal's tmpfs). Knobs: SOAK_* variables or `python -m tests.bench.soak --help`.
soak: setup
	$(BIN)/python -m tests.bench.soak

sim: setup
	$(BIN)/gslts sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
