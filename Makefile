# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
NPM ?= npm
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# libsodium.js for the reporter pages, exactly as pinned in package-lock.json.
NODE_STAMP := node_modules/.installed

.PHONY: demo test setup lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP)

demo: setup
	$(BIN)/safevoice demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest
