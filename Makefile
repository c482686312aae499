# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else here is a step of those two.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := demo-out

.PHONY: demo test venv tools lint overlays check-overlays clean

$(BIN)/tenantctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/tenantctl

tools: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" tools/install

## demo: generate the bundled example into demo-out/ and validate it with kubeconform
demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" tools/install kubeconform schemas
	$(BIN)/tenantctl generate examples/tenants.yaml -o $(DEMO_OUT)
	@echo "Generated $(DEMO_OUT)/ from examples/tenants.yaml; build it with: kubectl kustomize $(DEMO_OUT)"

## test: build the pinned toolchain, then run lint and every test, integration included
test: tools
	$(BIN)/ruff check generator gateway tests tools bench
	$(BIN)/pytest

## overlays: regenerate everything committed that is generated from examples/tenants.yaml
overlays: venv
	$(BIN)/tenantctl generate examples/tenants.yaml -o .
	$(BIN)/python -m tenantctl.emit.policy_folders examples/tenants.yaml policies
	$(BIN)/python -m tenantctl.spec.reference > docs/spec.md
	$(BIN)/pytest -q tests/unit/test_golden.py --update-golden

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
