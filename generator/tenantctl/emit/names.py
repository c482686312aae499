"""Object names built from spec names, kept within Kubernetes' limits by a deterministic hash.

GitOps and Helm names join the spec's name with a tenant's or a namespace's, each up to 63
characters, so the result can exceed what the name is used for: Argo CD and Flux copy
Application and Kustomization names into label values (at most 63 characters), and Helm limits
chart names so that ``helm.sh/chart: <name>-<version>`` stays a valid label value. A name within
its limit is kept as it is; a longer one is cut and given the first 8 hex digits of the SHA-256
of the full name, so different long names stay different and the same spec gives the same name
on every run.

``argocd_template`` writes the same rule as a Go template (with Sprig's ``sha256sum``) for names
Argo CD's ApplicationSet builds from folder names at sync time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

LABEL_VALUE_LIMIT = 63
# helm.sh/chart is "<chart name>-<chart version>": 53 leaves room for a version of 9 characters.
HELM_CHART_LIMIT = 53
_HASH_LENGTH = 8


def fit(name: str, limit: int = LABEL_VALUE_LIMIT) -> str:
    """``name``, or when longer than ``limit`` its head, '-' and 8 hex digits of its SHA-256."""
    if len(name) <= limit:
        return name
    head = name[: limit - _HASH_LENGTH - 1]
    head = head.removesuffix("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{head}-{digest}"


def argocd_template(
    prefix: str, expression: str, values: Iterable[str], limit: int = LABEL_VALUE_LIMIT
) -> str:
    """A Go template giving ``fit(prefix + value)``, where ``value`` is ``expression``'s result.

    ``values`` are the values the expression can take in the generated tree; when every one of
    them fits, the plain concatenation is returned. ``prefix`` must hold no template syntax.
    """
    if all(len(prefix + value) <= limit for value in values):
        return prefix + "{{ " + expression + " }}"
    head = limit - _HASH_LENGTH - 1
    full = f'(printf "%s%s" "{prefix}" ({expression}))'
    return (
        f"{{{{ if le (len {full}) {limit} }}}}{{{{ {full} }}}}"
        f'{{{{ else }}}}{{{{ trunc {head} {full} | trimSuffix "-" }}}}-'
        f"{{{{ {full} | sha256sum | trunc {_HASH_LENGTH} }}}}{{{{ end }}}}"
    )
