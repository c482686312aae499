"""Whether a namespace's quota and LimitRange agree: a pod that states no resources must fit.

A pod that states no resources gets the LimitRange's defaults; the quota then has to admit that
pod, or nobody can run anything with the defaults. So, per namespace, after the tenant budget is
split (``spec.resolving``):

- every ``limits.<r>`` quota is at least the LimitRange's default limit for ``r``, and every
  ``requests.<r>`` quota at least its default request;
- in the quota, ``requests.<r>`` is at most ``limits.<r>`` (a larger request quota could never
  be used: each container's request is at most its limit).

Defaults are taken as the API server fills them in before it stores a LimitRange: ``default``
from ``max`` when absent, ``defaultRequest`` from ``default``. ``verify/quotafit.py`` applies the
same rules to manifests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from tenantctl.spec.quantities import quantity_or_none

COMPUTE = ("cpu", "memory", "ephemeral-storage")

_Key = tuple[tuple[tuple[str, object], ...], tuple[type, ...]]


@dataclass(frozen=True)
class Misfit:
    """One disagreement: ``quota_key`` is the key to point at; the words say the rest."""

    quota_key: str
    message: str
    hint: str


def container_defaults(
    default: Mapping[str, object],
    default_request: Mapping[str, object],
    maximum: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, object]]:
    """(default limits, default requests) after the API server's LimitRange defaulting."""
    limits = {**maximum, **default}
    requests = {**limits, **default_request}
    return limits, requests


def misfits(
    quota: Mapping[str, object],
    default: Mapping[str, object],
    default_request: Mapping[str, object],
    maximum: Mapping[str, object],
) -> list[Misfit]:
    """Every way ``quota`` and the LimitRange disagree; quantities that do not parse are skipped
    (they are reported where they are written)."""
    try:
        return list(
            _known_misfits(_key(quota), _key(default), _key(default_request), _key(maximum))
        )
    except TypeError:  # a value that cannot be a key (a list, in a spec the schema refused)
        return _misfits(quota, default, default_request, maximum)


def _key(mapping: Mapping[str, object]) -> _Key:
    """The items and their values' types: 1, 1.0 and True are equal, but read differently."""
    return tuple(mapping.items()), tuple(map(type, mapping.values()))


# Most namespaces of a spec share their quota and defaults: their answer is worked out once.
@lru_cache(maxsize=1024)
def _known_misfits(
    quota: _Key, default: _Key, default_request: _Key, maximum: _Key
) -> tuple[Misfit, ...]:
    return tuple(
        _misfits(dict(quota[0]), dict(default[0]), dict(default_request[0]), dict(maximum[0]))
    )


def _misfits(
    quota: Mapping[str, object],
    default: Mapping[str, object],
    default_request: Mapping[str, object],
    maximum: Mapping[str, object],
) -> list[Misfit]:
    limits, requests = container_defaults(default, default_request, maximum)
    found: list[Misfit] = []
    for resource in COMPUTE:
        for kind, defaults, group in (
            ("limits", limits, "default"),
            ("requests", requests, "defaultRequest"),
        ):
            key = f"{kind}.{resource}"
            hard = quantity_or_none(quota.get(key))
            pod = quantity_or_none(defaults.get(resource))
            # A zero quota says "nothing of this here", and a budget that leaves zero is
            # reported as such; neither is a mismatch with the defaults.
            if hard and pod is not None and pod > hard:
                found.append(
                    Misfit(
                        key,
                        f"a pod that states no resources gets {kind} {resource}: "
                        f"{defaults[resource]} from the LimitRange, more than the quota "
                        f"{key}: {quota[key]}, so it can never start",
                        f"raise the {key} quota or budget, or lower limits.{group}.{resource}",
                    )
                )
        request = quantity_or_none(quota.get(f"requests.{resource}"))
        limit = quantity_or_none(quota.get(f"limits.{resource}"))
        if request is not None and limit is not None and request > limit:
            found.append(
                Misfit(
                    f"requests.{resource}",
                    f"quota requests.{resource}: {quota[f'requests.{resource}']} is above "
                    f"limits.{resource}: {quota[f'limits.{resource}']}; requests can never "
                    "exceed limits",
                    f"make requests.{resource} at most limits.{resource}",
                )
            )
    return found
