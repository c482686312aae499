"""Each shared contract is spelled in one module, and the policy catalogue agrees with it.

Covers: no Python code under generator/ or gateway/ spells the Sandbox API group or the gateway's
virtual API group in a string other than tenantctl/apigroups.py (docstrings, and the few strings
listed below with their reason, aside); the admission-policy catalogue's resource rules, which
are YAML the API server reads and cannot import, name exactly the groups apigroups.py declares.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from tenantctl import apigroups

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "generator" / "tenantctl" / "apigroups.py"
SPELLINGS = (apigroups.SANDBOX_GROUP, apigroups.GATEWAY_API_GROUP)

# Strings that contain a group name but are another contract, by file and the string's start.
OTHER_CONTRACTS = {
    # Label keys under agent-sandbox's prefix: label contracts, declared in labels.py.
    ("generator/tenantctl/labels.py", "agents.x-k8s.io/"),
    ("gateway/sandbox_gateway/sandboxes.py", "agents.x-k8s.io/"),
    # google.rpc.ErrorInfo's domain: what gRPC clients match errors on, named like the API.
    ("gateway/sandbox_gateway/grpc_api.py", "gateway.tenantctl.dev"),
    # Prose in the OpenAPI document, for people.
    ("gateway/sandbox_gateway/openapi.py", "The namespace is not a served tenant namespace"),
    ("gateway/sandbox_gateway/openapi.py", "Creates agent"),
}


def _docstrings(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_the_api_groups_are_spelled_only_in_apigroups_py() -> None:
    spelled = []
    for folder in ("generator", "gateway"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == HOME:
                continue
            tree = ast.parse(path.read_text(), str(path))
            docstrings = _docstrings(tree)
            where = str(path.relative_to(REPO))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    continue
                if id(node) in docstrings or not any(s in node.value for s in SPELLINGS):
                    continue
                if any(where == f and node.value.startswith(s) for f, s in OTHER_CONTRACTS):
                    continue
                spelled.append(f"{where}:{node.lineno}: {node.value!r}")
    assert spelled == [], "import these from tenantctl.apigroups:\n" + "\n".join(spelled)


def test_the_policy_catalogue_names_the_sandbox_groups_apigroups_declares() -> None:
    catalogue = REPO / "generator" / "tenantctl" / "policies"
    named: set[str] = set()
    for path in sorted(catalogue.glob("*.yaml")):
        policy = yaml.safe_load(path.read_text()) or {}
        constraints = (policy.get("matchConstraints") or {}).get("resourceRules") or []
        named |= {g for rule in constraints for g in rule.get("apiGroups") or [] if "agents" in g}
    assert named == {apigroups.SANDBOX_GROUP, apigroups.SANDBOX_EXTENSIONS_GROUP}
