# consent_service — two commands on a fresh machine:
#   make run    set up (virtualenv, install, keys, migrations, demo data) and serve on 127.0.0.1:8000
#   make test   set up and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 2

.PHONY: run setup init test test-fast bench lint clean help

help:
	@echo "make run    - set up and serve the API on http://$(HOST):$(PORT) (SQLite, no other server)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make bench  - run the benchmarks and write docs/benchmarks.md"
	@echo "make lint   - ruff, import contracts and mypy"

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

init: setup
	$(BIN)/consent-service keys init
	$(BIN)/consent-service db upgrade
	$(BIN)/consent-service demo

run: init
	@echo "serving on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	$(BIN)/consent-service serve --bind $(HOST):$(PORT) --workers $(WORKERS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest tests/unit -q

bench: setup
	$(BIN)/python -m bench.run

lint: setup
	$(BIN)/ruff check consent_service tests bench migrations
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .hypothesis .ruff_cache
