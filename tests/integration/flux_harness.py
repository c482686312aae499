"""Driving a GitOps loop in the Flux tests: a git clone to commit generated output to, and the
waits that tell when Flux has synced a commit.

The repository is a bare one on the loopback git server of localcluster.flux; the tests clone it
over HTTP, commit the output of `tenantctl generate --gitops flux` and push, exactly as a platform
team's pipeline would. Syncing is asked for, never waited out: the GitRepository gets a
`reconcile.fluxcd.io/requestedAt` annotation (what `flux reconcile source git` sets), and the
waits end on status: the source's artifact revision, then every Kustomization Ready at it.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import ControlPlane
from localcluster.flux import NAMESPACE
from polling import wait_until

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
SYNC_TIMEOUT = 240.0
GIT_IDENTITY = ("-c", "user.name=tenantctl tests", "-c", "user.email=tests@tenantctl.invalid")


@dataclass
class Checkout:
    """A working clone of a repository on the loopback git server."""

    path: Path
    branch: str = "main"

    @classmethod
    def clone(cls, url: str, path: Path) -> Checkout:
        subprocess.run(["git", "clone", "--quiet", url, str(path)], check=True, capture_output=True)
        return cls(path)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *GIT_IDENTITY, "-C", str(self.path), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def commit_and_push(self, message: str) -> str:
        """Commit everything in the clone (additions, changes, deletions), push; the new sha."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        self.git("push", "--quiet", "origin", f"HEAD:{self.branch}")
        return self.git("rev-parse", "HEAD")


def kube_json(cluster: ControlPlane, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def condition(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in (item.get("status") or {}).get("conditions") or []:
        if entry["type"] == kind:
            result: dict[str, Any] = entry
            return result
    return None


def ready(item: dict[str, Any]) -> bool:
    entry = condition(item, "Ready")
    return entry is not None and entry["status"] == "True"


def describe_kustomizations(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        entry = condition(item, "Ready") or {}
        status = item.get("status") or {}
        lines.append(
            f"  {item['metadata']['name']}: Ready={entry.get('status')} "
            f"({entry.get('reason')}: {entry.get('message')}) "
            f"applied={status.get('lastAppliedRevision')}"
        )
    return "\n".join(lines)


@dataclass
class FluxSync:
    """The Flux objects of one spec in `flux-system`, selected by its spec-id label."""

    cluster: ControlPlane
    selector: str
    source: str

    def kustomizations(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kube_json(
            self.cluster, "get", "kustomizations", "-n", NAMESPACE, "-l", self.selector
        )["items"]
        return items

    def request(self, kind: str, name: str) -> str:
        """Ask Flux to reconcile one object now; the token it reports back when done."""
        token = f"{time.time_ns()}"
        self.cluster.kubectl(
            "annotate", "--overwrite", kind, name, "-n", NAMESPACE, f"{REQUESTED_AT}={token}"
        )
        return token

    def wait_for_revision(self, sha: str, expected: set[str]) -> list[dict[str, Any]]:
        """Fetch the source now; return once exactly the `expected` Kustomizations exist and
        every one is Ready with revision `sha` applied. Fails with their states if they do not."""
        self.request("gitrepository", self.source)
        revision = f"main@sha1:{sha}"

        def synced() -> list[dict[str, Any]] | None:
            items = self.kustomizations()
            names = {item["metadata"]["name"] for item in items}
            if names != expected:
                return None
            if all(
                ready(item)
                and item["status"].get("lastAppliedRevision") == revision
                and item["status"].get("observedGeneration") == item["metadata"]["generation"]
                for item in items
            ):
                return items
            return None

        result: list[dict[str, Any]] = wait_until(
            synced,
            SYNC_TIMEOUT,
            lambda: f"Flux to apply {revision}; Kustomizations now:\n"
            + describe_kustomizations(self.kustomizations()),
        )
        return result

    def reconcile_all_now(self) -> None:
        """Make every Kustomization apply again at its current revision, and wait until it has."""
        tokens = {
            item["metadata"]["name"]: self.request("kustomization", item["metadata"]["name"])
            for item in self.kustomizations()
        }

        def handled() -> bool:
            items = self.kustomizations()
            return all(
                ready(item)
                and (item.get("status") or {}).get("lastHandledReconcileAt")
                == tokens[item["metadata"]["name"]]
                for item in items
            )

        wait_until(
            handled,
            SYNC_TIMEOUT,
            lambda: "every Kustomization to reconcile again; Kustomizations now:\n"
            + describe_kustomizations(self.kustomizations()),
        )


def kustomization_names(gitops_folder: Path) -> set[str]:
    """The Kustomizations the generated gitops/flux/ folder declares."""
    documents = yaml.safe_load_all((gitops_folder / "kustomizations.yaml").read_text())
    return {doc["metadata"]["name"] for doc in documents if doc}
