# consent_service — two commands on a fresh machine:
#   make run    set up (virtualenv, runtime install, keys, migrations, demo data) and serve on 127.0.0.1:8000
#   make test   set up (runtime + test tools) and run the whole test suite
# Two install stamps: serving needs only the runtime dependencies; the test tools (pytest, mypy,
# ruff, selenium, schemathesis, ...) are installed only for test and lint.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-stamp
TEST_STAMP    := $(VENV)/.test-stamp
# the front-end tools from the npm registry (esbuild for the banner, axe-core for the browser
# tests), installed from the committed lock
FRONTEND_STAMP := frontend/node_modules/.package-lock.json
PIP_INSTALL   := $(BIN)/python -m pip install --quiet --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 2

.PHONY: run setup-run setup frontend banner chartjs init test test-fast bench bench-segments bench-stats bench-proofs bench-writes lint catalogs clean help

help:
	@echo "make run    - set up and serve the API on http://$(HOST):$(PORT) (SQLite, no other server)"
	@echo "make test   - set up (with the test tools) and run the whole test suite"
	@echo "make bench  - run the benchmarks and write docs/benchmarks.md"
	@echo "make bench-segments - time a whole segment export (its own section of docs/benchmarks.md)"
	@echo "make bench-stats - the statistics over 10 million events and the counts' write cost (EVENTS=..., its own section)"
	@echo "make bench-proofs - the log's proofs from a tree of 10 million leaves and the ledger's verification rate (LEAVES=..., its own section)"
	@echo "make bench-writes - durable consent writes: SQLite consents ÷ health, PostgreSQL writes by workers, kill -9 (its own section)"
	@echo "make lint   - ruff, import contracts and mypy"
	@echo "make setup  - the development set-up: runtime and test tools (make run installs the runtime only)"
	@echo "make frontend - the npm tools (esbuild, axe-core, Chart.js) from frontend/package-lock.json"
	@echo "make banner - build the banner (frontend/banner/src) into consent_service/api/static/banner.js"
	@echo "make chartjs - copy Chart.js (frontend/node_modules) into consent_service/web/static/chart.js"
	@echo "make catalogs - refresh the console's translation catalogs after changing a text (then translate the new German ids)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

# The test extras include the runtime: one install, after which the runtime stamp is fresh too.
# The integrators' client (clients/python) is installed with the test tools: its tests run it
# against the service.
$(TEST_STAMP): setup.cfg pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[test]' -e clients/python
	@touch $(RUNTIME_STAMP) $@

setup-run: $(RUNTIME_STAMP)

setup: $(TEST_STAMP)

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --ignore-scripts --no-audit --no-fund
	@touch $@

frontend: $(FRONTEND_STAMP)

# The served banner is built from its modules and committed (make run needs no npm); a test
# checks that a fresh build gives the committed bytes.
banner: $(FRONTEND_STAMP)
	node frontend/banner/build.mjs

# The console's charts: Chart.js's built file from the npm registry (frontend/package-lock.json),
# copied and committed like the banner; a test checks that a fresh copy gives the committed bytes.
chartjs: $(FRONTEND_STAMP)
	cp frontend/node_modules/chart.js/dist/chart.umd.min.js consent_service/web/static/chart.js

# The console's catalogs: sorted, without line numbers, so that a change of code moves no entry.
catalogs: $(TEST_STAMP)
	$(BIN)/pybabel -q extract -F consent_service/web/babel.cfg -k _l --no-location --sort-output \
	  -o $(VENV)/console.pot consent_service/web
	$(BIN)/pybabel -q update -i $(VENV)/console.pot -d consent_service/web/translations \
	  --no-fuzzy-matching --ignore-obsolete

# The demo site allows the origin the service is served on, so /demo works on any HOST:PORT;
# links in e-mails point there too unless CONSENT_PUBLIC_URL says otherwise.
init: setup-run
	$(BIN)/consent-service keys init
	$(BIN)/consent-service db upgrade
	$(BIN)/consent-service demo --origin http://$(HOST):$(PORT) --origin http://localhost:$(PORT)

run: init
	@echo "serving on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs, console: http://$(HOST):$(PORT)/console/)"
	CONSENT_PUBLIC_URL=$${CONSENT_PUBLIC_URL:-http://$(HOST):$(PORT)} \
	  $(BIN)/consent-service serve --bind $(HOST):$(PORT) --workers $(WORKERS)

# The suite runs in TEST_WORKERS processes (pytest-xdist; 0 runs it in this one). The browser
# tests form one group, run one after another by a single worker, while the other takes the rest.
TEST_WORKERS ?= 2
test: setup frontend
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest tests/unit -q

bench: setup
	$(BIN)/python -m bench.run

bench-segments: setup
	$(BIN)/python -m bench.segments

EVENTS ?= 10000000
bench-stats: setup
	$(BIN)/python -m bench.stats --events $(EVENTS)

LEAVES ?= 10000000
bench-proofs: setup
	$(BIN)/python -m bench.proofs --leaves $(LEAVES) --backend both

bench-writes: setup
	$(BIN)/python -m bench.writes

lint: setup
	$(BIN)/ruff check consent_service consent_verify tests bench migrations clients
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build frontend/node_modules *.egg-info .pytest_cache .hypothesis .ruff_cache
