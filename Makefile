# The two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
AGENT := $(wildcard agent/pyproject.toml)

.PHONY: run test lint setup deps lock services assets migrate browser prometheus otel-node oidc-provider demo faults deploy-test clean

# Settings default to production (DEBUG off, a SECRET_KEY required); what runs from here is
# local development unless the environment says otherwise.
export DEBUG ?= true

# Web and worker processes: one of each per two cores. Here they share the cores with
# Postgres and Redis, and more processes cost more CPU per payload (bench/ingest.py on
# 2 cores: one web + one worker process used about 15 % less than two of each).
HALF_CORES := $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 3 ? n / 2 : 1 )))

# honcho hands each process a PORT counting up from 5000 unless told where to start.
run: setup
	PATH="$(abspath $(BIN)):$$PATH" WEB_CONCURRENCY=$${WEB_CONCURRENCY:-$(HALF_CORES)} \
	  WORKER_CONCURRENCY=$${WORKER_CONCURRENCY:-$(HALF_CORES)} \
	  $(BIN)/honcho -f deploy/local/Procfile -d . start -p $${PORT:-8000}

test: lint setup browser prometheus otel-node oidc-provider
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The house plan (docs/architecture.md): style, layers that point down, typed public surface.
lint: deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

setup: deps services assets migrate

deps: $(VENV)/.deps-stamp

# Every package, direct or not, at the version and with the hashes the lock file names.
$(VENV)/.deps-stamp: requirements-dev.lock $(AGENT)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	$(if $(AGENT),$(BIN)/python -m pip install -q --no-deps -e ./agent)
	touch $@

# After changing a pin in requirements.txt or requirements-dev.txt: resolve both lock files
# again (the development one within the runtime one, so both install the same versions).
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock: deps
	SSL_CERT_FILE=$${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt} $(LOCK) -o requirements.lock requirements.txt
	SSL_CERT_FILE=$${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt} $(LOCK) -c requirements.lock \
	  -o requirements-dev.lock requirements-dev.txt

services: deps
	$(BIN)/python deploy/local/ensure_services.py

assets:
	deploy/local/build_assets.sh

migrate: deps services
	$(BIN)/python manage.py migrate --noinput -v 0

browser:
	deploy/local/ensure_chromium.sh

# The scrape tests (tests/prometheus/) start Debian's Prometheus server.
prometheus:
	deploy/local/ensure_prometheus.sh

# The Node.js service under the OpenTelemetry SDK that the OTLP tests start.
otel-node:
	deploy/local/ensure_otel_node.sh

# The OpenID provider the SSO tests run (tests/oidc_provider/, from npm).
oidc-provider:
	deploy/local/ensure_oidc_provider.sh

DEMO_PORT ?= 8000
DEMO_SHOP_PORT ?= 8001

# The platform, a sample Django shop run under the agent, and traffic for it (deploy/demo/).
demo: setup
	$(BIN)/python manage.py seed_demo --key-file $(VENV)/demo-ingest-key --url http://127.0.0.1:$(DEMO_PORT)
	PULSE_PORT=$(DEMO_PORT) SHOP_PORT=$(DEMO_SHOP_PORT) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho -f deploy/demo/Procfile -d . start

# bench/faults.py: the platform on a PostgreSQL and a Redis of its own, under faults (a few minutes).
FAULTS_ARGS ?=
faults: deps
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

# The image built from a clean clone of HEAD, the compose stack up, deploy/smoke.py against
# it, the stack down (deploy/deploy_test.sh; installs and starts Docker when missing, as root;
# a few minutes the first time).
deploy-test: deps
	deploy/local/ensure_docker.sh
	PYTHON=$(abspath $(BIN))/python deploy/deploy_test.sh

clean:
	rm -rf $(VENV) frontend/node_modules frontend/staticfiles tests/otel_node/node_modules tests/oidc_provider/node_modules
