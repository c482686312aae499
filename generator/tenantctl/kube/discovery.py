"""Which resource serves a kind, and whether it is namespaced: the API server's discovery.

Manifests name ``apiVersion`` and ``kind``; URLs need the plural resource name and whether the
path has a namespace segment. Each group version is fetched once, when first needed, so applying
tenantctl's dozen kinds costs a dozen small GETs, not a walk of every API the cluster serves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

from tenantctl.kube import errors
from tenantctl.kube.client import Client


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def _prefix(self) -> str:
        return f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """URL path of the collection (all namespaces if ``namespace`` is None) or one object."""
        parts = [self._prefix()]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
        return "/".join(parts)


class KindNotServed(errors.KubeError):
    """The cluster does not serve this apiVersion/kind (a CRD is not installed)."""


class Discovery:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._group_versions: dict[str, dict[str, Resource] | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _load(self, api_version: str) -> dict[str, Resource] | None:
        lock = self._locks.setdefault(api_version, asyncio.Lock())
        async with lock:
            if api_version in self._group_versions:
                return self._group_versions[api_version]
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            try:
                body = await self._client.get(path)
            except errors.NotFound:
                self._group_versions[api_version] = None
                return None
            resources = {
                entry["kind"]: Resource(
                    api_version,
                    entry["kind"],
                    entry["name"],
                    bool(entry.get("namespaced")),
                    tuple(entry.get("verbs") or ()),
                )
                for entry in body.get("resources") or []
                if "/" not in entry["name"]  # subresources such as pods/log
            }
            self._group_versions[api_version] = resources
            return resources

    async def find(self, api_version: str, kind: str) -> Resource | None:
        resources = await self._load(api_version)
        return None if resources is None else resources.get(kind)

    async def resource(self, api_version: str, kind: str) -> Resource:
        found = await self.find(api_version, kind)
        if found is None:
            raise KindNotServed(
                f"the cluster does not serve {kind} ({api_version}): is its CRD installed?"
            )
        return found

    async def all_listable_namespaced(self) -> list[Resource]:
        """Every namespaced resource that can be listed, preferred version of each group."""
        core = await self._client.get("/api")
        versions = [f"{v}" for v in core.get("versions") or []]
        groups = await self._client.get("/apis")
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                versions.append(preferred)
        found: list[Resource] = []
        for loaded in await asyncio.gather(*(self._load(v) for v in versions)):
            for resource in (loaded or {}).values():
                if resource.namespaced and "list" in resource.verbs:
                    found.append(resource)
        return found
