"""Where a connection comes from, decided as kubectl decides it: ``load(kubeconfig, context)``.

``--kubeconfig FILE``, else the files in ``$KUBECONFIG``, else ``~/.kube/config`` (merged by
``kubeconfigs``); when none of them holds anything and the process runs in a pod, the pod's
ServiceAccount (``incluster``). ``--context`` picks the context, else ``current-context``.

Own code, not the ``kubernetes`` / ``kubernetes_asyncio`` loaders: those write decoded client
keys to temporary files, their exec support lacks caching, client certificates,
``interactiveMode`` and ``provideClusterInfo``, and importing ``kubernetes_asyncio.config``
alone took 460 ms (best of 5, ``python -X importtime``) against 95 ms for all of
``tenantctl.kube`` (aiohttp included) on the same machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tenantctl.kube import incluster, kubeconfigs
from tenantctl.kube.connections import Connection
from tenantctl.kube.errors import ConfigError

__all__ = ["KUBECONFIG_ENV", "Connection", "load"]

KUBECONFIG_ENV = kubeconfigs.KUBECONFIG_ENV


def load(
    kubeconfig: Path | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """The connection kubectl would use with these flags in this environment."""
    env = os.environ if environ is None else environ
    paths = kubeconfigs.files(kubeconfig, env)
    merged = kubeconfigs.merge(paths, explicit=kubeconfig is not None)
    if merged.empty and kubeconfig is None:
        if incluster.possible(env):
            if context:
                raise ConfigError(
                    f"context {context!r} is not in the kubeconfig: there is none here, and the "
                    "in-cluster config has no contexts (drop --context)"
                )
            return incluster.connection(env)
        looked = ", ".join(str(path) for path in paths)
        raise ConfigError(
            f"no kubeconfig found (looked at {looked}) and not running in a pod: pass "
            f"--kubeconfig FILE or set {KUBECONFIG_ENV}"
        )
    return kubeconfigs.resolve(merged, context)
