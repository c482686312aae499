"""Several TenantSets meant for one cluster: what they claim must not overlap.

Each spec owns its objects by its id (prune, the admission policies' names and parameters), its
namespaces and its tenants' identities. Two specs with the same id would prune each other's
objects; a namespace in two specs would be rendered, labelled and pruned by both; a group or
user that is a tenant subject in two specs gets both tenants' rights, and neither spec's
admission policies can stop it (each knows only its own tenants). And the gateway ClusterRoles
every spec renders alike (tenantctl.render.rbac) differ between gateway flavors, so the specs
must agree on the flavor. So ``validate`` and
``verify`` given several specs refuse any of these, each problem located in the later file and
naming where the earlier claim was written.

Each spec must be valid on its own first (``tenantctl.spec.reading``); this module only compares.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from tenantctl.spec.loading import Locations, SpecSource, locate_spec, parse_spec, read_source
from tenantctl.spec.paths import Path, format_path
from tenantctl.spec.problems import Problem


@dataclass(frozen=True)
class Claim:
    what: str  # "spec id", "namespace", "group", "user", "tenant gateway account"
    name: str
    path: Path


def claims(data: dict[str, Any]) -> Iterator[Claim]:
    """What one spec (as parsed data) claims on a cluster, with where each claim is written."""
    yield Claim("spec id", str(data["metadata"]["name"]), ("metadata", "name"))
    for t_index, tenant in enumerate(data["spec"]["tenants"]):
        t_path: Path = ("spec", "tenants", t_index)
        for n_index, namespace in enumerate(tenant.get("namespaces", [])):
            yield Claim("namespace", namespace["name"], (*t_path, "namespaces", n_index, "name"))
        account = (tenant.get("gateway") or {}).get("serviceAccount")
        if account:
            yield Claim("tenant gateway account", account, (*t_path, "gateway", "serviceAccount"))
        for role, subjects in (tenant.get("roles") or {}).items():
            for kind, what in (("groups", "group"), ("users", "user")):
                for index, name in enumerate(subjects.get(kind, [])):
                    yield Claim(what, name, (*t_path, "roles", role, kind, index))


@dataclass
class _Spec:
    source: SpecSource
    data: dict[str, Any]
    # Worked out only when there is a problem to place.
    locations: Locations | None = None

    @property
    def file(self) -> str:
        return self.source.file

    def where(self, path: Path) -> tuple[int, int]:
        if self.locations is None:
            self.locations = locate_spec(self.source.text, self.source.file)
        return self.locations.value_of(path)


def check_together(paths: Sequence[FsPath | str]) -> list[Problem]:
    """Every claim of a later spec that an earlier one already made, located in the later file."""
    specs = []
    for path in paths:
        source = read_source(path)
        specs.append(_Spec(source, parse_spec(source)))
    first: dict[tuple[str, str], tuple[_Spec, Claim]] = {}
    problems = _flavor_problems(specs)
    for spec in specs:
        own: set[tuple[str, str]] = set()
        for claim in claims(spec.data):
            key = (claim.what, claim.name)
            earlier = first.get(key)
            if earlier is not None and earlier[0] is not spec:
                other, other_claim = earlier
                line, column = spec.where(claim.path)
                other_line, other_column = other.where(other_claim.path)
                problems.append(
                    Problem(
                        spec.file,
                        line,
                        column,
                        format_path(claim.path),
                        f"{claim.what} {claim.name!r} is also claimed by "
                        f"{other.file}:{other_line}:{other_column}",
                        _HINTS[claim.what],
                    )
                )
            elif key not in own:
                first.setdefault(key, (spec, claim))
            own.add(key)
    return sorted(problems)


FLAVOR_PATH: Path = ("spec", "platform", "gateway", "flavor")


def _flavor(data: dict[str, Any]) -> str:
    return str((data["spec"]["platform"].get("gateway") or {}).get("flavor", "tenantctl"))


def _flavor_problems(specs: list[_Spec]) -> list[Problem]:
    first = specs[0]
    problems = []
    for spec in specs[1:]:
        if _flavor(spec.data) != _flavor(first.data):
            line, column = spec.where(FLAVOR_PATH)
            problems.append(
                Problem(
                    spec.file,
                    line,
                    column,
                    format_path(FLAVOR_PATH),
                    f"gateway flavor {_flavor(spec.data)!r} differs from {_flavor(first.data)!r} "
                    f"in {first.file}, and the gateway's ClusterRoles are shared",
                    "use one gateway flavor for every TenantSet on a cluster",
                )
            )
    return problems


_HINTS = {
    "spec id": "give each TenantSet on a cluster its own metadata.name",
    "namespace": "keep the namespace in one of the specs only",
    "group": "give each spec's tenants their own groups",
    "user": "give each spec's tenants their own users",
    "tenant gateway account": "give each tenant gateway its own ServiceAccount name",
}
