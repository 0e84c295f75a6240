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

.PHONY: setup run test test-unit lint format bench soak sim clean help frontend frontend-api \
	test-frontend

help:
	@echo "make run    set up and start the whole system on the simulator"
	@echo "make test   set up and run every test"
	@echo "make lint   ruff + mypy (strict)"
	@echo "make bench  benchmarks (writes tests/bench/results/latest.json)"
	@echo "make soak   the hub through a whole simulated KRX day with faults (root, ~30 min)"
	@echo "make frontend      build the dashboard (Node 20: npm ci + next build, stamped)"
	@echo "make frontend-api  regenerate the dashboard's typed API client from the backend"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# One .venv holds every package of the repo, installed editable (uv workspace, locked).
$(STAMP): $(PY_PROJECTS) | $(BIN)/uv
	$(BIN)/uv sync --frozen --inexact --all-packages --python $(BIN)/python
	@touch $(STAMP)

setup: $(STAMP)

# --- the dashboard: frontend/ (Next.js static export in frontend/out, served at / by the
# backend). Node 20.19+ builds it; the stamps skip npm ci and the build when nothing changed.
# Without Node the step says what to install and the backend serves the API only.
NPM ?= npm
FRONTEND_DEPS := frontend/node_modules/.gslts-installed
FRONTEND_BUILT := frontend/out/.gslts-built
FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/next.config.ts frontend/tsconfig.json
# Node 20.19+ (Vite 8, Next 16); an older Node is treated as none
HAVE_NODE := $(shell node -e 'const [a, b] = process.versions.node.split(".").map(Number); \
	process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null && echo yes)

$(FRONTEND_DEPS): frontend/package.json frontend/package-lock.json
	cd frontend && $(NPM) ci --no-audit --no-fund
	@touch $@

$(FRONTEND_BUILT): $(FRONTEND_DEPS) $(FRONTEND_SRC)
	cd frontend && $(NPM) run build
	@touch $@

ifeq ($(HAVE_NODE),yes)
frontend: $(FRONTEND_BUILT)
test-frontend: $(FRONTEND_DEPS)
	cd frontend && ./node_modules/.bin/vitest run
else
frontend test-frontend:
	@echo "!! Node.js 20.19+ not found: the dashboard is not built (install Node 20.19 or newer," \
	  "e.g. from nodejs.org or your distribution's nodejs 20 package; see README 'Dashboard')"
endif

# After a backend API change: regenerate frontend/src/api/{openapi.json,schema.d.ts} (a
# unit test fails while they are stale), then `make frontend` type-checks the dashboard.
frontend-api: $(STAMP) $(FRONTEND_DEPS)
	cd frontend && $(NPM) run gen:api

run: setup frontend
	$(BIN)/gslts run

# The layering contracts first (pyproject.toml [tool.importlinter]): a forbidden import
# fails the build before any test runs.
test: setup frontend test-frontend
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

bench: setup frontend
	$(BIN)/python -m tests.bench

# The full day: >= 10M trades, every fault on a schedule (tests/bench/soak.py; root for the
# journal's tmpfs). Knobs: SOAK_* variables or `python -m tests.bench.soak --help`.
soak: setup
	$(BIN)/python -m tests.bench.soak

sim: setup
	$(BIN)/gslts sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache frontend/node_modules frontend/.next \
	  frontend/out
