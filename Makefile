# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint typecheck migrations-check pytest bench security clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Start the portal on the embedded default: SQLite, no other server, demo data.
run: $(VENV)/.runtime
	@VENV=$(VENV) exec scripts/run.sh

## Lint, type-check, migration check, then the tests on PostgreSQL and Redis.
test: $(VENV)/.dev
	@VENV=$(VENV) scripts/test.sh

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy

## Every benchmark, or ONLY="retention load" for the files whose names match.
bench: $(VENV)/.dev
	@VENV=$(VENV) scripts/test.sh --bench $(ONLY)

## Outside tools against the app on loopback with production settings.
security: $(VENV)/.dev
	@VENV=$(VENV) scripts/security.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
