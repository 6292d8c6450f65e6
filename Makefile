# Potluck: `make run` serves the app, `make test` runs every check. Both set up what they lack.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
CLIENT_STAMP := $(VENV)/.client-installed-$(shell cat client/pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PORT ?= 8000
export PORT

.PHONY: run test lint format test-sqlite test-postgres test-client bench soak bench-topology clean up down

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(CLIENT_STAMP): $(STAMP) client/pyproject.toml
	$(BIN)/python -m pip install --quiet -c constraints.txt -e client
	@rm -f $(VENV)/.client-installed-* && touch $@

run: $(STAMP)
	POTLUCK_ENV=$${POTLUCK_ENV:-development} $(BIN)/potluck setup
	POTLUCK_ENV=$${POTLUCK_ENV:-development} $(BIN)/potluck serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy client/src --strict
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests (tests/browser, Debian's chromium) run in this pass only.
test-sqlite: $(STAMP)
	scripts/ensure-chromium.sh
	$(BIN)/pytest --cov --cov-report=term:skip-covered

test-postgres: $(STAMP)
	scripts/with-postgres.sh scripts/with-redis.sh $(BIN)/pytest --ignore=tests/browser

test-client: $(CLIENT_STAMP)
	$(BIN)/pytest client/tests -p no:cacheprovider

test: lint test-sqlite test-client test-postgres

bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/run.py

# Through the scaled-out topology (deploy/up.sh on free ports, a throwaway database): a long
# mixed load over HTTP/2 (bench/soak.py, SOAK_SECONDS), and the bench's PostgreSQL rows at one
# and two instances against a hello-world of the same shape (bench/topology.py).
soak: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/soak.py

bench-topology: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/topology.py

# The scaled-out topology on this machine (docs/deploy.md); DEPLOY_DIR, ports and INSTANCES
# come from the environment.
up: $(STAMP)
	deploy/up.sh

down:
	deploy/down.sh

clean:
	rm -rf $(VENV) .tmp
