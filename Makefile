# The two commands: `make run` starts the whole product locally, `make test` runs every check.
.DEFAULT_GOAL := help
.PHONY: help run test lint types bootstrap bench

help: ## Show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

run: ## Install what is missing, start everything (moto, Genesys stand-in, clamd, workers, app) on :8000
	@scripts/bootstrap.sh run
	@.venv/bin/python -m devstack

test: ## Install what is missing, then lint, type-check and run the whole suite on SQLite and PostgreSQL
	@scripts/bootstrap.sh test
	@scripts/test.sh

lint: ## ruff (lint and format check) and ESLint (the browser code)
	@scripts/bootstrap.sh lint
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && node_modules/.bin/eslint .

types: ## mypy
	@.venv/bin/mypy

bench: ## Run every benchmark under bench/ (prints ratios against references measured in the same run)
	@for b in bench/*.py; do .venv/bin/python $$b || exit 1; done
