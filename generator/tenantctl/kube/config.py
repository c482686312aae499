"""Where a connection comes from, decided as kubectl decides it: ``load(kubeconfig, context)``.

``--kubeconfig FILE``, else the files in ``$KUBECONFIG``, else ``~/.kube/config`` (merged by
``kubeconfigs``); when none of them holds anything and the process runs in a pod, the pod's
ServiceAccount (``incluster``). ``--context`` picks the context, else ``current-context``.

Own code, not the ``kubernetes`` / ``kubernetes_asyncio`` loaders (measured: kubernetes_asyncio
36.1.0). Those write decoded client keys to temporary files; their exec support has no
caching, no client certificates, no ``interactiveMode`` and no ``provideClusterInfo``; and
importing ``kubernetes_asyncio.config`` took 541 ms against 61 ms for ``tenantctl.kube.config``
(best of 7, ``python -X importtime``, same machine), a cost every ``tenantctl`` command would
pay. Loading a token kubeconfig is no faster there (0.82 ms against 0.73 ms, best of 200).
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
