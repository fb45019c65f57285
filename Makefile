# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
NPM ?= npm
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# libsodium.js for the reporter pages, exactly as pinned in package-lock.json.
NODE_STAMP := node_modules/.installed

.PHONY: demo test setup lint catalogues

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

# The reporter pages' languages: one gettext catalogue per language (docs/translating.md).
I18N := src/safevoice/i18n
PO_FILES := $(wildcard $(I18N)/locale/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

$(I18N)/locale/%/LC_MESSAGES/messages.mo: $(I18N)/locale/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

setup: $(STAMP) $(NODE_STAMP) $(MO_FILES)

# Extract every marked text into messages.pot, bring each language's .po up to date with it,
# and compile them.
catalogues: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t --add-location=file --sort-output \
		--no-wrap --project=SafeVoice --copyright-holder="the SafeVoice authors" \
		-o $(I18N)/messages.pot.new src/safevoice
	# Keep the old file (and its date) when no message changed.
	if diff -q -I '^"POT-Creation-Date' $(I18N)/messages.pot $(I18N)/messages.pot.new >/dev/null; \
	then rm $(I18N)/messages.pot.new; else mv $(I18N)/messages.pot.new $(I18N)/messages.pot; fi
	for po in $(PO_FILES); do \
		lang=$$(basename $$(dirname $$(dirname $$po))); \
		$(BIN)/pybabel update --no-wrap --ignore-obsolete -l $$lang -i $(I18N)/messages.pot -o $$po || exit 1; \
	done
	$(MAKE) $(MO_FILES)

demo: setup
	$(BIN)/safevoice demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two workers, one per database (tests/conftest.py keeps each database's tests together).
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup
