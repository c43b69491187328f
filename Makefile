# A newcomer types `make run` or `make test` first: both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The modules setup.py compiles (Cython) are compiled again whenever a source changes.
COMPILED_STAMP := $(VENV)/.compiled-stamp

.PHONY: install run test test-unit lint bench clean stop-db

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(COMPILED_STAMP): $(STAMP) setup.py $(wildcard costsvc/*/*.py)
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch $(COMPILED_STAMP)

install: $(COMPILED_STAMP)

## Start the API with demo data (embedded PostgreSQL unless DATABASE_URL is set);
## readable log lines unless COSTSVC_LOG_FORMAT says otherwise.
run: $(COMPILED_STAMP)
	COSTSVC_LOG_FORMAT=$${COSTSVC_LOG_FORMAT:-text} $(BIN)/costsvc serve

## The whole suite (embedded PostgreSQL unless TEST_DATABASE_URL is set).
test: $(COMPILED_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

test-unit: $(COMPILED_STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(COMPILED_STAMP)
	$(BIN)/ruff check costsvc tariffs jobs tests bench
	$(BIN)/lint-imports --no-cache

bench: $(COMPILED_STAMP)
	$(BIN)/python bench/http_bench.py

stop-db: $(STAMP)
	$(BIN)/costsvc embedded-stop

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build
	find costsvc \( -name "*.so" -o -name "*.c" \) -delete
