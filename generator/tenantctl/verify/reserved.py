"""Check ``namespaces.reserved``: no tenant namespace is one the platform or Kubernetes runs in.

A tenant's admins hold ``admin`` in each of its namespaces; in ``kube-system``, the gateway's
namespace or Argo CD's that is control of the platform. The spec refuses such names
(``tenantctl.spec.reserved``); this check catches a tree that was written or edited by hand, and
judges it by the same rules: with a spec, its own list of well-known namespaces, without one the
default list.
"""

from __future__ import annotations

from tenantctl.spec.model import TenantSet
from tenantctl.spec.reserved import WELL_KNOWN, reserved_problem
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.results import Result, failed, passed

CHECK = "namespaces.reserved"


def check_reserved(expectations: Expectations, tenantset: TenantSet | None) -> list[Result]:
    well_known = tenantset.platform.reserved_namespaces if tenantset is not None else WELL_KNOWN
    platform = {
        name: "a platform namespace (DNS, gateway or controller)"
        for name in expectations.platform_namespaces
    }
    results = []
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            problem = reserved_problem(namespace, platform, well_known)
            if problem is None:
                results.append(passed(tenant.name, CHECK, "not a reserved namespace", namespace))
            else:
                message, _ = problem
                results.append(failed(tenant.name, CHECK, message, namespace))
    return results
