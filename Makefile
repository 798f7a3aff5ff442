# The two commands of the README: `make demo` and `make test`.
# Everything else here is what those two are made of.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATA ?= var/demo
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/hubbub
PYTEST_ARGS ?=

.PHONY: demo test test-sqlite test-postgres check lint typecheck format bench-web clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-app

## Install, migrate, load the Brightwave demo, serve on 127.0.0.1:8000.
demo: $(VENV)/.installed-app
	HUBBUB_DATA_DIR=$${HUBBUB_DATA_DIR:-$(DEMO_DATA)} $(BIN)/hubbub demo

## Install what the tests need and run every test on SQLite, then PostgreSQL.
test: $(VENV)/.installed-test
	bash scripts/install-test-deps.sh
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(VENV)/.installed-test
	@echo "== tests on SQLite =="
	env -u HUBBUB_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-test
	@echo "== tests on PostgreSQL =="
	@$(BIN)/python -c "import psycopg,sys; psycopg.connect('$(POSTGRES_URL)'.rsplit('/',1)[0] + '/postgres', connect_timeout=3).close()" \
	  || { echo "PostgreSQL at $(POSTGRES_URL) is not reachable: start it, or set POSTGRES_URL."; exit 1; }
	HUBBUB_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest $(PYTEST_ARGS)

## Lint, type-check and test: what a change must pass.
check: lint typecheck test

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy src/hubbub

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-web: $(VENV)/.installed-app
	$(BIN)/hubbub bench web

clean:
	rm -rf $(VENV) var node_modules test-artifacts
