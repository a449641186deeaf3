# Convenience wrappers; the README's two commands are scripts/run and scripts/test (they need only bash).
.DEFAULT_GOAL := help

help: ## Show the available targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## Install, migrate, seed three demo towns and serve on http://127.0.0.1:8000
	./scripts/run

test: ## Install test tools, lint, type-check and run the whole suite (SQLite + PostgreSQL)
	./scripts/test

clean: ## Remove the virtualenv and local data (with the demo towns' audit signing keys)
	rm -rf .venv var var.audit-keys

.PHONY: help run test clean
