# Parley: `make run` serves the product on its embedded defaults; `make test` checks everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Recursively expanded on purpose: after `install` bootstraps uv, later recipes find it.
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (each has its own Redis database; PostgreSQL databases are per test).
TEST_WORKERS ?= 3

.PHONY: help install run migrate test coverage test-live services lint format typecheck contracts unit bench clean \
	web web-client web-client-check web-dev web-test web-bench

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install uv if missing, then the locked dependencies into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		{ echo "uv not found: installing it with pip"; python3 -m pip install --quiet uv; }
	@uv=$$(command -v uv 2>/dev/null || echo "python3 -m uv"); $$uv sync --frozen --quiet
	@echo "dependencies installed in .venv"

migrate: install ## Upgrade the database to the latest migration
	@$(UV) run --frozen parley db upgrade

run: migrate web ## Install, migrate, build the web app and serve on http://127.0.0.1:8000 (embedded defaults)
	@$(UV) run --frozen parley serve || [ $$? -eq 130 ]  # Ctrl-C is a normal way to stop

# --- Web app (web/, see docs/WEB.md) ------------------------------------------------------------------
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/package.json \
	web/package-lock.json web/vite.config.ts web/tsconfig.json
HAVE_NODE := $(shell command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && echo yes)

web: ## Build the web app into web/dist when its sources changed (skipped, with one line, without Node.js)
ifeq ($(HAVE_NODE),yes)
	@$(MAKE) --no-print-directory web/dist/index.html
else
	@echo "Node.js/npm not found: serving the API alone (install Node.js 20+ for the web app)"
endif

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	@cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	@cd web && npm run --silent build

web-client: install web/node_modules/.package-lock.json ## Regenerate web/src/api/schema.d.ts from the app's OpenAPI document
	@$(UV) run --frozen python scripts/dump_openapi.py web/openapi.json
	@cd web && npx openapi-typescript openapi.json -o src/api/schema.d.ts --silent && rm -f openapi.json
	@echo "web/src/api/schema.d.ts regenerated"

web-client-check: install web/node_modules/.package-lock.json ## Fail when the generated client is stale
	@$(UV) run --frozen python scripts/dump_openapi.py web/openapi.json
	@cd web && npx openapi-typescript openapi.json -o .schema-check.d.ts --silent && rm -f openapi.json
	@if cmp -s web/.schema-check.d.ts web/src/api/schema.d.ts; then rm -f web/.schema-check.d.ts; \
		echo "web client is up to date"; \
	else rm -f web/.schema-check.d.ts; \
		echo "web/src/api/schema.d.ts is stale: the API changed; run 'make web-client' and commit it"; exit 1; fi

web-dev: install web/node_modules/.package-lock.json ## Vite dev server on :5173, proxying the API to PARLEY_API (default :8000)
	@cd web && npx vite

web-test: web ## Vitest component tests, then Playwright e2e (Debian Chromium) against a real parley serve
	@bash scripts/ensure-chromium.sh
	@cd web && npx vitest run
	@cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --project=e2e

web-bench: web ## Web budgets: chat JS size, Enter-to-first-token p50, 2,000-message scroll long tasks
	@bash scripts/ensure-chromium.sh
	@cd web && OFFLINE_TOKEN_DELAY_MS=0 npx playwright test --project=perf

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

test: install services lint typecheck ## Everything CI runs: lint, types, contracts, the whole suite, the web app
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
ifeq ($(HAVE_NODE),yes)
	@$(MAKE) --no-print-directory web-client-check web-test
else
	@echo "Node.js/npm not found: the web app's tests were skipped"
endif

coverage: install services ## The whole Python suite with line coverage of src/ (child processes included); ~1.7x slower
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

test-live: install ## Opt-in: tiny calls to the real providers whose keys are set (not part of `make test`)
	@PARLEY_LIVE_TESTS=1 $(UV) run --frozen pytest tests/live -m live $(PYTEST_ARGS)

unit: install ## Only the fast unit tests
	@$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)

bench: install services ## Run the benchmarks in bench/, print figures, write bench/results/*.json
	@$(UV) run --frozen python -m bench

clean: ## Remove caches (keeps var/ with the database and the dev secret)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
