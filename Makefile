# Parley: `make run` serves the product on its embedded defaults; `make test` checks everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Recursively expanded on purpose: after `install` bootstraps uv, later recipes find it.
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (each has its own Redis database; PostgreSQL databases are per test).
TEST_WORKERS ?= 3

.PHONY: help install run migrate test test-live services lint format typecheck contracts unit bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install uv if missing, then the locked dependencies into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		{ echo "uv not found: installing it with pip"; python3 -m pip install --quiet uv; }
	@uv=$$(command -v uv 2>/dev/null || echo "python3 -m uv"); $$uv sync --frozen --quiet
	@echo "dependencies installed in .venv"

migrate: install ## Upgrade the database to the latest migration
	@$(UV) run --frozen parley db upgrade

run: migrate ## Install, migrate and serve on http://127.0.0.1:8000 (embedded defaults)
	@$(UV) run --frozen parley serve || [ $$? -eq 130 ]  # Ctrl-C is a normal way to stop

services: ## Make sure PostgreSQL and Redis are reachable for the tests (starts local ones)
	@bash scripts/ensure-services.sh

lint: install ## ruff lint, format check and the import-linter layer contracts
	@$(UV) run --frozen ruff check src tests bench
	@$(UV) run --frozen ruff format --check src tests bench
	@$(UV) run --frozen lint-imports

format: install ## Format the code
	@$(UV) run --frozen ruff format src tests bench
	@$(UV) run --frozen ruff check --fix src tests bench

typecheck: install ## mypy (strict on domain and application)
	@$(UV) run --frozen mypy

contracts: install ## import-linter layer contracts
	@$(UV) run --frozen lint-imports

test: install services lint typecheck ## Everything CI runs: lint, types, contracts, the whole suite with coverage
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

test-live: install ## Opt-in: tiny calls to the real providers whose keys are set (not part of `make test`)
	@PARLEY_LIVE_TESTS=1 $(UV) run --frozen pytest tests/live -m live $(PYTEST_ARGS)

unit: install ## Only the fast unit tests
	@$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)

bench: install services ## Run the benchmarks in bench/, print figures, write bench/results/*.json
	@$(UV) run --frozen python -m bench

clean: ## Remove caches (keeps var/ with the database and the dev secret)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
