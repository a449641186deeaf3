# jichitai-cloud — `make help` lists the targets. Everything installs itself into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help

help: ## Show the available targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "python3-venv が必要です: apt-get install -y python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run-installed

install: $(VENV)/.run-installed ## Install the product into ./.venv

run: $(VENV)/.run-installed ## Install, migrate, seed three demo towns and serve on http://127.0.0.1:8000
	$(BIN)/jichitai demo
	$(BIN)/jichitai serve

test: $(VENV)/.test-installed ## Install test tools, lint, type-check and run the whole suite (SQLite + PostgreSQL)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(VENV)/.test-installed ## Lint and type-check only
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var

.PHONY: help install run test lint clean
