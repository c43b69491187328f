# A newcomer types `make run` or `make test` first: both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-unit lint bench clean stop-db

$(STAMP): pyproject.toml
	@# Compiled modules (and their C) left by the Cython build of 2026-12-02 (removed:
	@# docs/DECISIONS.md) would shadow their .py files: an edit would not run.
	find costsvc \( -name "*.cpython-*.so" -o -name "*.c" \) -delete
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the API with demo data (embedded PostgreSQL unless DATABASE_URL is set);
## readable log lines unless COSTSVC_LOG_FORMAT says otherwise.
run: $(STAMP)
	COSTSVC_LOG_FORMAT=$${COSTSVC_LOG_FORMAT:-text} $(BIN)/costsvc serve

## The whole suite (embedded PostgreSQL unless TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check costsvc tariffs jobs tests bench
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python bench/http_bench.py

stop-db: $(STAMP)
	$(BIN)/costsvc embedded-stop

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build
