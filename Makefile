# wifguard — developer commands. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# checkov pins versions that clash with the app's (pycep-parser): it gets a venv of its own.
CHECKOV_STAMP := .venv-checkov/.installed

.PHONY: setup demo test lint bench clean lock chromium

setup: $(STAMP) $(NPM_STAMP) $(CHECKOV_STAMP) chromium

# The rendering tests (tests/render) drive Debian's Chromium through the pinned npm playwright-core;
# no browser is downloaded.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "the rendering tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The locks are the full closures with hashes of requirements.txt / requirements-dev.txt (the
# top-level pins): `make lock` rewrites them, `make setup` installs only what they name.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

$(STAMP): requirements-pip.lock requirements.lock requirements-dev.lock pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-pip.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lock: $(STAMP)
	$(VENV)/bin/pip-compile $(LOCK_FLAGS) --output-file=requirements.lock requirements.txt
	$(VENV)/bin/pip-compile $(LOCK_FLAGS) --constraint=requirements.lock --output-file=requirements-dev.lock requirements-dev.txt

$(CHECKOV_STAMP): tests/infra/requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --upgrade pip
	.venv-checkov/bin/python -m pip install --quiet -r tests/infra/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

$(NPM_STAMP): package.json package-lock.json
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

demo: $(STAMP) $(NPM_STAMP)
	$(PY) -m wifguard.cli demo

test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist loadfile -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP) $(NPM_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-checkov node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
