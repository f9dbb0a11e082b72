# lakectl: `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LAKECTL_CACHE_DIR ?= $(HOME)/.cache/lakectl
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip

.PHONY: install system-deps demo test test-unit test-integration lint bench clean

# Debian packages the native runtime uses (installed only when missing; needs root or sudo)
# (prometheus: without its recommended node exporter; lakectl runs the binary, never the package's service)
# (chromium + chromium-driver: the headless browser the Superset dashboard test drives through Selenium)
SYSTEM_PACKAGES := postgresql maven prometheus chromium chromium-driver
system-deps:
	@missing=""; \
	[ -x "$$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | head -1)" ] || missing="$$missing postgresql"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	[ -x /usr/bin/prometheus ] || missing="$$missing prometheus"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/lakectl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
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
	  $(BIN)/pip install -q 'maturin>=1.7,<2'; \
	  rm -rf "$$wheels.tmp"; \
	  CARGO_TARGET_DIR="$(LAKECTL_CACHE_DIR)/tradegen/target" $(BIN)/maturin build --release --locked --quiet \
	    -m $(TRADEGEN)/Cargo.toml -i $(BIN)/python -o "$$wheels.tmp"; \
	  mv "$$wheels.tmp" "$$wheels"; \
	fi; \
	$(BIN)/pip install -q --force-reinstall --no-deps "$$wheels"/*.whl; \
	touch $@

install: system-deps $(BIN)/lakectl $(VENV)/.tradegen

# The stock-trade pipeline end to end (lakectl demo): up -> schema -> topic -> bronze job -> produce
# 100,000 trades -> Bronze in Iceberg and Delta -> dbt build (Silver, Gold) -> Gold through Trino,
# then lakectl verify (Kafka vs Bronze). The stack stays up (`lakectl down` stops it).
demo: install
	$(BIN)/lakectl demo --count 100000 --keep
	$(BIN)/lakectl verify --topic trades

test: install
	$(BIN)/ruff check lakectl tests bench dags
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest tests/unit -q
	$(BIN)/pytest tests/integration tests/e2e -q

test-unit: install
	$(BIN)/pytest tests/unit -q

test-integration: install
	$(BIN)/pytest tests/integration tests/e2e -q

lint: install
	$(BIN)/ruff check lakectl tests bench dags
	$(BIN)/lint-imports --no-cache

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
