"""The README, every command's `--help` and the code agree on exit codes and on what tenantctl
will never do; commands only parse, call one action, print and exit.

Aspects: README's exit-code table is `tenantctl.exitcodes`; each command's `--help` ends with
it; command modules exit only through `ExitCode`; action modules print nothing; every item of
README's "What tenantctl will never do" list is matched by tests that exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tenantctl.cli import main
from tenantctl.exitcodes import table_rows

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
PACKAGE = REPO / "generator" / "tenantctl"
COMMANDS = ["validate", "generate", "verify", "apply", "diff"]
COMMAND_MODULES = ["cli.py", "commandline.py", "apply/command.py", "verify/command.py"]
ACTION_MODULES = ["emit/actions.py", "apply/actions.py", "verify/actions.py"]

# Each README promise, by its first words, and the tests that hold it.
PROMISES = {
    "Delete or overwrite a file it did not write": [
        "tests/unit/test_output_safety.py::test_a_file_tenantctl_did_not_write_stops_the_run_and_is_kept",
        "tests/unit/test_output_safety.py::test_a_generated_file_edited_since_stops_the_next_run",
        "tests/unit/test_output_safety.py::test_force_lists_the_files_it_takes_over_then_replaces_them",
        "tests/unit/test_output_safety_properties.py::test_generate_never_changes_or_removes_a_file_it_did_not_write",
    ],
    "Write into the filesystem root": [
        "tests/unit/test_output_safety.py::test_the_filesystem_root_is_refused",
        "tests/unit/test_output_safety.py::test_the_home_folder_is_refused",
        "tests/unit/test_output_safety.py::test_dash_is_refused_and_no_folder_named_dash_appears",
        "tests/unit/test_output_safety.py::test_helm_into_a_kustomize_tree_is_refused",
        "tests/unit/test_output_safety.py::test_kustomize_into_a_hand_made_helm_chart_is_refused",
    ],
    "Leave a half-written output or a staging folder behind": [
        "tests/unit/test_output_safety.py::test_a_signal_mid_run_leaves_the_previous_output_and_no_staging_folder",
        "tests/unit/test_output_safety.py::test_a_full_disk_is_one_line_and_exit_6_and_leaves_everything_as_it_was",
        "tests/unit/test_output_safety.py::test_a_read_only_output_folder_is_one_line_and_exit_6",
        "tests/unit/test_output_safety.py::test_a_staging_folder_left_by_a_killed_run_is_removed_by_the_next_run",
    ],
    "Prune an object that does not carry its ownership label": [
        "tests/unit/delivery/test_apply_plan.py::test_only_this_specs_labelled_objects_that_are_no_longer_rendered_are_pruned",
        "tests/unit/delivery/test_apply_plan.py::test_prune_never_trusts_a_caller_that_hands_in_unlabelled_objects",
    ],
    "Delete a Namespace without `--prune-namespaces`": [
        "tests/unit/delivery/test_apply_plan.py::test_a_namespace_no_longer_rendered_is_listed_apart_and_never_pruned_with_the_rest",
        "tests/integration/test_apply.py::test_a_removed_tenant_loses_its_objects_but_keeps_its_namespace_until_confirmed",
    ],
    "Take over an existing namespace it does not manage": [
        "tests/unit/delivery/test_apply_plan.py::test_an_existing_unmanaged_namespace_is_refused_without_adopt",
        "tests/integration/test_apply.py::test_an_existing_unmanaged_namespace_is_refused_without_adopt",
    ],
    "Set an ownerReference on a tenant Namespace": [
        "tests/unit/test_render.py::test_every_object_carries_the_ownership_labels_and_no_owner_references",
    ],
    "Change anything on the cluster while verifying": [
        "tests/unit/verify/test_verify_live_plan.py::test_every_request_that_could_write_is_a_server_side_dry_run",
        "tests/integration/test_verify_live.py::test_the_probes_leave_nothing_behind",
    ],
}


def _between(text: str, start: str, end: str) -> str:
    return text[text.index(start) + len(start) : text.index(end)]


def test_the_readme_exit_code_table_is_the_one_in_the_code() -> None:
    table = _between(README, "<!-- exit-codes:", "<!-- /exit-codes -->")
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", table, flags=re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == table_rows()


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_ends_with_the_exit_code_table(command: str | None) -> None:
    result = CliRunner().invoke(main, [*([command] if command else []), "--help"])
    assert result.exit_code == 0, result.output
    tail = result.output[
        result.output.index("Exit codes (the same for every tenantctl command):") :
    ]
    lines = [line.strip() for line in tail.splitlines()[1:] if line.strip()]
    assert lines == [f"{code}  {meaning}" for code, meaning in table_rows()]


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_commands_exit_only_with_codes_from_the_table(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("sys.exit", "ctx.exit"):
            argument = ast.unparse(node.args[0]) if node.args else ""
            assert not re.fullmatch(r"-?\d+", argument), f"{module}: exit({argument})"
        if isinstance(node, ast.Name):
            assert not node.id.startswith("EXIT_"), f"{module}: {node.id}"


@pytest.mark.parametrize("module", ACTION_MODULES)
def test_actions_print_nothing_and_know_no_command_line(module: str) -> None:
    source = (PACKAGE / module).read_text()
    tree = ast.parse(source)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "click" not in imported
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {"print", "sys.exit", "exit"}


def _test_exists(node_id: str) -> bool:
    path, name = node_id.split("::")
    tree = ast.parse((REPO / path).read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def test_every_promise_in_the_readme_is_held_by_tests_that_exist() -> None:
    listed = _between(README, "<!-- never:", "<!-- /never -->")
    items = [" ".join(item.split()) for item in re.split(r"\n- ", listed)[1:]]
    assert len(items) == len(PROMISES)
    for item, opening in zip(items, PROMISES, strict=True):
        assert item.startswith(opening), f"README item {item!r} is not {opening!r}"
    missing = [node for nodes in PROMISES.values() for node in nodes if not _test_exists(node)]
    assert missing == []
