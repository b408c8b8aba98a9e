# The two commands of the README: `make demo` and `make test`. Both create .venv and
# install what they need; `make test` also installs PostgreSQL and Chromium from Debian
# when they are missing and starts a throwaway PostgreSQL server for the tests.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := $(wildcard src tests benchmarks examples)

.PHONY: demo test lint typecheck system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable . --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/propledger demo --json

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

system-deps:
	scripts/system-deps.sh

test: $(STAMP) system-deps lint typecheck
	scripts/postgres.sh start
	PROPLEDGER_TEST_POSTGRESQL_URL="$$(scripts/postgres.sh url)" $(BIN)/pytest; \
	status=$$?; scripts/postgres.sh stop; exit $$status

clean:
	rm -rf $(VENV) .tmp .mypy_cache .ruff_cache .pytest_cache
