# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else here is a step of those two.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := demo-out

.PHONY: demo test unit venv tools lint typecheck overlays check-overlays clean

$(BIN)/tenantctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/tenantctl

# With TENANTCTL_SKIP_INTEGRATION=1 only what the non-cluster tests use is built.
tools: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" tools/install $(if $(filter 1,$(TENANTCTL_SKIP_INTEGRATION)),kubeconform schemas helm)

## demo: generate the bundled example into demo-out/ and validate it with kubeconform
demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" tools/install kubeconform schemas
	$(BIN)/tenantctl generate examples/tenants.yaml -o $(DEMO_OUT)
	@echo "Generated $(DEMO_OUT)/ from examples/tenants.yaml; build it with: kubectl kustomize $(DEMO_OUT)"

## test: build the pinned toolchain, then run lint, the type checker and every test
test: tools lint typecheck
	$(BIN)/pytest

## unit: the tests that need no built toolchain (no .tools/), in about a minute; tests that
## need kubeconform, helm or kubectl carry the `tools` marker and run in `make test`.
## TENANTCTL_TOOLS_DIR points at an empty folder and the three tools on PATH are replaced by
## scripts that fail, so a test that needs a tool and lacks the `tools` marker fails here
## instead of passing on a developer's machine.
HIDDEN_TOOLS := build/hidden-tools
unit: venv lint
	mkdir -p build/no-tools $(HIDDEN_TOOLS)
	for tool in kubectl helm kubeconform; do \
		printf '#!/bin/sh\necho "%s is hidden from make unit: mark the test tools" >&2\nexit 127\n' \
			$$tool >$(HIDDEN_TOOLS)/$$tool && chmod +x $(HIDDEN_TOOLS)/$$tool; \
	done
	PATH="$(CURDIR)/$(HIDDEN_TOOLS):$$PATH" TENANTCTL_TOOLS_DIR=$(CURDIR)/build/no-tools \
		TENANTCTL_SKIP_INTEGRATION=1 $(BIN)/pytest -m "not integration and not tools"

lint: venv
	# --no-cache: ruff's cache keeps an unchanged file's verdict when a new module changes how
	# its imports sort (first- or third-party), so a warm cache can pass what a clean CI fails.
	$(BIN)/ruff check --no-cache generator gateway tests tools bench

typecheck: venv
	$(BIN)/mypy

## overlays: regenerate everything committed that is generated from examples/tenants.yaml
overlays: venv
	# --force: the committed tree is in git, and branches regenerate it in parallel.
	$(BIN)/tenantctl generate examples/tenants.yaml -o . --force
	$(BIN)/python -m tenantctl.emit.policy_folders examples/tenants.yaml policies
	$(BIN)/python -m tenantctl.spec.reference > docs/spec.md
	$(BIN)/pytest -q tests/unit/test_golden.py --update-golden

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache .mypy_cache
