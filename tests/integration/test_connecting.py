"""`tenantctl apply`, `diff` and `verify --live` reach the real API server however access is given.

Covers, for each way in ``connecting.WAYS`` (an exec credential plugin, a two-file
``$KUBECONFIG`` merged by kubectl's rules, in-cluster environment and ServiceAccount files):
apply creates this module's small spec, diff then finds nothing to change, and verify --live
reads the cluster and reports. With the exec plugin, the refused first credential is renewed
after the 401 and the plugin is shown the cluster (provideClusterInfo). A kubeconfig whose
plugin is missing fails with exit 4 and the plugin's install hint.

The spec (id ``connect-test``, namespaces ``cnt-*``) and everything it created are deleted at
the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from connecting import WAYS, Way, environment

from localcluster import ADMIN_USER, ControlPlane
from tenantctl import labels

pytestmark = pytest.mark.integration

SPEC_ID = "connect-test"
GATEWAY_NAMESPACE = "cnt-gateway"
TENANTCTL = Path(sys.executable).parent / "tenantctl"
SELECTOR = f"{labels.SPEC_ID}={SPEC_ID}"
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)
SPEC = {
    "apiVersion": "tenantctl.dev/v1alpha1",
    "kind": "TenantSet",
    "metadata": {"name": SPEC_ID},
    "spec": {
        "platform": {
            "gateway": {"namespace": GATEWAY_NAMESPACE},
            "managers": {"groups": ["system:masters"]},
        },
        "tenants": [
            {
                "name": "cnt-red",
                "owner": "red@example.com",
                "roles": {"admin": {"groups": ["cnt-red-admins"]}},
                "namespaces": [{"name": "cnt-red-dev"}],
            }
        ],
    },
}


@dataclass
class Setup:
    cluster: ControlPlane
    spec: Path

    def way(self, name: str, folder: Path) -> Way:
        ca_cert = self.cluster.dir / "pki" / "ca.crt"
        return WAYS[name](folder, self.cluster.server, ca_cert, self.cluster.tokens[ADMIN_USER])


def tenantctl(*args: str, way: Way) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TENANTCTL), *args, *way.args],
        env=way.env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def setup(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("connecting")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    try:
        yield Setup(cluster, spec)
    finally:
        # In the order policies/README.md gives: the tenant namespace while its policies can
        # still read their parameters (in the gateway namespace), then the policies and
        # bindings, then the parameters' namespace. Parameters gone first would deny the
        # namespace controller's deletes (fail closed) and leave the namespace terminating.
        delete = ("delete", "--ignore-not-found", "--wait=true", "--timeout=180s")
        cluster.kubectl(*delete, "namespace", "cnt-red-dev", check=False, timeout=240)
        cluster.kubectl("delete", CLUSTER_KINDS, "-l", SELECTOR, check=False)
        cluster.kubectl(*delete, "namespace", GATEWAY_NAMESPACE, check=False, timeout=240)


@pytest.mark.parametrize("name", list(WAYS))
def test_apply_diff_and_verify_live_connect(setup: Setup, name: str, tmp_path: Path) -> None:
    way = setup.way(name, tmp_path)

    applied = tenantctl("apply", str(setup.spec), way=way)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert re.search(r"\d+ created, \d+ configured, \d+ unchanged, 0 pruned", applied.stdout)

    diff = tenantctl("diff", str(setup.spec), way=way)
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stderr

    verified = tenantctl("verify", str(setup.spec), "--live", "-o", "json", way=way)
    assert verified.returncode in (0, 1), verified.stderr
    assert "cannot verify the cluster" not in verified.stderr
    assert json.loads(verified.stdout)

    if name == "exec-plugin":
        # One refused credential, renewed after the 401; then at least one run per command.
        assert way.runs() >= 4
        assert way.shown_cluster()["server"] == setup.cluster.server


def test_a_missing_exec_plugin_exits_4_with_its_install_hint(setup: Setup, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": setup.cluster.server}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "tenantctl-test-no-such-plugin",
                                "installHint": "see https://example.com/install",
                            }
                        },
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    way = Way("missing", tmp_path, ["--kubeconfig", str(kubeconfig)], environment(tmp_path / "h"))
    result = tenantctl("diff", str(setup.spec), way=way)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr == (
        "error: the exec plugin 'tenantctl-test-no-such-plugin' of user 'u' was not found: see "
        "https://example.com/install\n"
    )
