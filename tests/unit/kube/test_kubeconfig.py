"""Reading kubeconfig as kubectl does (`tenantctl.kube.config`, `kubeconfigs`, `incluster`).

Covers: --context over current-context; several $KUBECONFIG files merged (the first file to
define a name wins whole, current-context from the first file that sets it, missing files and
repeats skipped); a name defined twice in one file; --kubeconfig alone and required to exist;
paths relative to the file that defined the entry; -data over files; token files; exec entries
validated; auth-provider, conflicting methods and socks proxies refused with the fix; the
in-cluster fallback (environment and ServiceAccount folder) and its errors; CLI exit codes.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl.kube import config, incluster
from tenantctl.kube.errors import ConfigError

SERVER = "https://127.0.0.1:6443"


def kubeconfig(
    path: Path,
    *,
    contexts: list[dict[str, Any]] | None = None,
    clusters: list[dict[str, Any]] | None = None,
    users: list[dict[str, Any]] | None = None,
    current: str | None = None,
) -> Path:
    data: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    for key, value in (("contexts", contexts), ("clusters", clusters), ("users", users)):
        if value is not None:
            data[key] = value
    if current:
        data["current-context"] = current
    path.write_text(yaml.safe_dump(data))
    return path


def context(name: str, cluster: str = "local", user: str = "admin", **extra: Any) -> dict:
    return {"name": name, "context": {"cluster": cluster, "user": user, **extra}}


def cluster(name: str = "local", server: str = SERVER, **extra: Any) -> dict:
    return {"name": name, "cluster": {"server": server, **extra}}


def user(name: str = "admin", **fields: Any) -> dict:
    return {"name": name, "user": fields}


def basic(path: Path, **fields: Any) -> Path:
    return kubeconfig(
        path,
        contexts=[context("admin"), context("dev", namespace="dev")],
        clusters=[cluster(**{"insecure-skip-tls-verify": True})],
        users=[user(**(fields or {"token": "t0k3n"}))],
        current="admin",
    )


def load(*files: Path, context: str | None = None, **environ: str) -> config.Connection:
    env = {"KUBECONFIG": ":".join(map(str, files)), **environ}
    return config.load(context=context, environ=env)


# ----- which context ------------------------------------------------------------------------


def test_the_current_context_is_used_unless_context_is_given(tmp_path: Path) -> None:
    path = basic(tmp_path / "config")
    assert config.load(path).context == "admin"
    chosen = config.load(path, "dev")
    assert (chosen.context, chosen.namespace, chosen.token) == ("dev", "dev", "t0k3n")
    assert chosen.server == SERVER


def test_an_unknown_context_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load(basic(tmp_path / "config"), "missing")
    assert str(raised.value) == "context 'missing' is not in the kubeconfig (contexts: admin, dev)"


def test_no_current_context_asks_for_context_and_lists_them(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", contexts=[context("a")], clusters=[cluster()])
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"the kubeconfig ({path}) has no current-context: pass --context NAME (contexts: a)"
    )


# ----- merging several files ----------------------------------------------------------------


def test_the_first_file_to_define_a_name_wins_whole_and_later_ones_only_add_names(
    tmp_path: Path,
) -> None:
    first = kubeconfig(
        tmp_path / "first",
        contexts=[context("admin")],
        clusters=[cluster(**{"insecure-skip-tls-verify": True})],
        users=[user(token="first")],
    )
    second = kubeconfig(
        tmp_path / "second",
        contexts=[context("other", cluster="remote"), context("admin", user="nobody")],
        clusters=[
            cluster(server="https://elsewhere", **{"tls-server-name": "never-mixed"}),
            cluster("remote", server="https://remote:6443"),
        ],
        users=[user(token="second")],
        current="other",
    )
    merged = load(first, second)
    assert (merged.context, merged.server) == ("other", "https://remote:6443")
    assert merged.token == "first"
    admin = load(first, second, context="admin")
    assert (admin.server, admin.user, admin.insecure) == (SERVER, "admin", True)
    assert admin.tls_server_name is None, "the first file's cluster is taken whole, never mixed"


def test_current_context_comes_from_the_first_file_that_sets_it(tmp_path: Path) -> None:
    without = kubeconfig(tmp_path / "a", users=[user(token="a")])
    first_setter = kubeconfig(
        tmp_path / "b", contexts=[context("b"), context("c")], clusters=[cluster()], current="b"
    )
    later = kubeconfig(tmp_path / "c", current="c")
    assert load(without, first_setter, later).context == "b"


def test_missing_files_and_repeats_in_kubeconfig_are_skipped(tmp_path: Path) -> None:
    real = basic(tmp_path / "config")
    connection = load(tmp_path / "absent", real, real)
    assert (connection.context, connection.source) == ("admin", f"kubeconfig {real}")


def test_a_name_defined_twice_in_one_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        contexts=[context("a")],
        clusters=[cluster(), cluster()],
        users=[user(token="t")],
        current="a",
    )
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"kubeconfig {path}: clusters names 'local' twice; remove one of them"
    )


def test_kubeconfig_flag_reads_only_that_file_and_it_must_exist(tmp_path: Path) -> None:
    flagged = basic(tmp_path / "flagged", token="flagged")
    other = basic(tmp_path / "other", token="other")
    connection = config.load(flagged, environ={"KUBECONFIG": str(other)})
    assert connection.token == "flagged"
    with pytest.raises(ConfigError) as raised:
        config.load(tmp_path / "nope", environ={})
    assert str(raised.value) == f"kubeconfig {tmp_path / 'nope'} does not exist: check --kubeconfig"


def test_without_kubeconfig_the_home_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    basic(tmp_path / ".kube" / "config", token="home")
    assert config.load(environ={}).token == "home"


# ----- what an entry may hold -----------------------------------------------------------------


def test_paths_are_relative_to_the_file_that_defined_the_entry(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "clusters").mkdir()
    (tmp_path / "users" / "token").write_text("from-file\n")
    (tmp_path / "clusters" / "ca.pem").write_bytes(b"CA")
    users = kubeconfig(
        tmp_path / "users" / "config",
        users=[user(tokenFile="token", exec={"command": "./login", "apiVersion": V1BETA1})],
    )
    clusters = kubeconfig(
        tmp_path / "clusters" / "config",
        contexts=[context("c")],
        clusters=[cluster(**{"certificate-authority": "ca.pem"})],
        current="c",
    )
    connection = load(users, clusters)
    assert connection.token_file == tmp_path / "users" / "token"
    assert connection.ca_data == b"CA"
    assert connection.exec_plugin is not None
    assert connection.exec_plugin.command == str(tmp_path / "users" / "login")


def test_inline_data_wins_over_the_file_it_stands_for(tmp_path: Path) -> None:
    path = basic(
        tmp_path / "config",
        **{
            "client-certificate": "absent.crt",
            "client-certificate-data": base64.b64encode(b"C").decode(),
            "client-key-data": base64.b64encode(b"K").decode(),
        },
    )
    connection = config.load(path)
    assert (connection.client_cert_data, connection.client_key_data) == (b"C", b"K")


def test_a_context_naming_an_undefined_user_is_a_config_error(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        contexts=[context("c", user="ghost")],
        clusters=[cluster()],
        users=[],
        current="c",
    )
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"context 'c' names user 'ghost', which is not defined (in {path})"
    )


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    path = basic(tmp_path / "config", tokenFile="gone")
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"cannot read the token file of user 'admin' {tmp_path / 'gone'}: No such file or directory"
    )


def test_a_token_together_with_a_password_is_refused(tmp_path: Path) -> None:
    path = basic(tmp_path / "config", token="t", username="u", password="p")
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"user 'admin' in {path} has more than one authentication method (a token and a "
        "username/password): keep one"
    )


def test_auth_provider_users_are_told_which_exec_plugin_replaces_them(tmp_path: Path) -> None:
    path = basic(tmp_path / "config", **{"auth-provider": {"name": "gcp", "config": {}}})
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == (
        f"user 'admin' in {path} authenticates with the auth-provider 'gcp', which kubectl no "
        "longer runs either: switch the user to the exec plugin gke-gcloud-auth-plugin"
    )


def test_proxy_url_and_tls_server_name_are_kept_and_socks_is_refused(tmp_path: Path) -> None:
    good = kubeconfig(
        tmp_path / "good",
        contexts=[context("c")],
        clusters=[cluster(**{"proxy-url": "http://proxy:3128", "tls-server-name": "kube.test"})],
        users=[user(token="t")],
        current="c",
    )
    connection = config.load(good)
    assert (connection.proxy_url, connection.tls_server_name) == ("http://proxy:3128", "kube.test")
    socks = kubeconfig(
        tmp_path / "socks",
        contexts=[context("c")],
        clusters=[cluster(**{"proxy-url": "socks5://proxy:1080"})],
        users=[user(token="t")],
        current="c",
    )
    with pytest.raises(ConfigError) as raised:
        config.load(socks)
    assert str(raised.value) == (
        f"cluster 'local' in {socks}: proxy-url 'socks5://proxy:1080' is not supported; use an "
        "http:// or https:// proxy (socks5 is not)"
    )


def test_insecure_skip_tls_verify_with_a_ca_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"CA")
    path = kubeconfig(
        tmp_path / "config",
        contexts=[context("c")],
        clusters=[
            cluster(**{"insecure-skip-tls-verify": True, "certificate-authority": "ca.pem"})
        ],
        users=[user(token="t")],
        current="c",
    )
    with pytest.raises(ConfigError, match="sets both insecure-skip-tls-verify and a certificate"):
        config.load(path)


V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"command": "aws", "apiVersion": V1},
            f"exec with {V1} needs interactiveMode (Never, IfAvailable or Always)",
        ),
        (
            {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1alpha1"},
            "exec apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported: use "
            f"{V1} or {V1BETA1} (update the plugin if it only speaks v1alpha1)",
        ),
        (
            {"command": "aws", "apiVersion": V1, "interactiveMode": "Sometimes"},
            "exec interactiveMode 'Sometimes' is not one of Never, IfAvailable, Always",
        ),
        ({"apiVersion": V1}, "exec has no command; name the credential plugin to run"),
    ],
)
def test_exec_entries_are_checked_as_kubectl_checks_them(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    path = basic(tmp_path / "config", exec=entry)
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert str(raised.value) == f"user 'admin' in {path}: {message}"


def test_a_v1beta1_exec_entry_defaults_to_interactive_if_available(tmp_path: Path) -> None:
    path = basic(
        tmp_path / "config",
        exec={
            "command": "gke-gcloud-auth-plugin",
            "apiVersion": V1BETA1,
            "args": ["--verbose"],
            "env": [{"name": "A", "value": "1"}],
            "provideClusterInfo": True,
            "installHint": "install it with gcloud components install",
        },
    )
    plugin = config.load(path).exec_plugin
    assert plugin is not None
    assert (plugin.command, plugin.args, plugin.env) == (
        "gke-gcloud-auth-plugin",
        ("--verbose",),
        (("A", "1"),),
    )
    assert (plugin.interactive_mode, plugin.provide_cluster_info) == ("IfAvailable", True)


# ----- in-cluster -----------------------------------------------------------------------------


def service_account(folder: Path, *, namespace: str = "tenantctl-system") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text("sa-token\n")
    (folder / "ca.crt").write_bytes(b"CA")
    (folder / "namespace").write_text(namespace)
    return folder


def in_pod(folder: Path, host: str = "10.96.0.1") -> dict[str, str]:
    return {
        incluster.HOST_ENV: host,
        incluster.PORT_ENV: "443",
        incluster.DIR_ENV: str(folder),
    }


def test_in_a_pod_without_kubeconfig_the_service_account_is_used(tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa")
    connection = config.load(environ={**in_pod(folder), "KUBECONFIG": str(tmp_path / "none")})
    assert (connection.server, connection.context, connection.namespace) == (
        "https://10.96.0.1:443",
        "in-cluster",
        "tenantctl-system",
    )
    assert (connection.token_file, connection.ca_data) == (folder / "token", b"CA")


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa")
    connection = config.load(environ={**in_pod(folder, host="fd00::1"), "KUBECONFIG": "/none"})
    assert connection.server == "https://[fd00::1]:443"


def test_a_kubeconfig_with_content_wins_over_the_pod(tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa")
    path = basic(tmp_path / "config")
    assert config.load(environ={**in_pod(folder), "KUBECONFIG": str(path)}).context == "admin"


def test_in_cluster_needs_the_token_file(tmp_path: Path) -> None:
    environ = {**in_pod(tmp_path / "empty"), "KUBECONFIG": str(tmp_path / "none")}
    with pytest.raises(ConfigError) as raised:
        config.load(environ=environ)
    assert str(raised.value) == (
        f"no kubeconfig found (looked at {tmp_path / 'none'}) and not running in a pod: pass "
        "--kubeconfig FILE or set KUBECONFIG"
    )


def test_in_cluster_without_its_ca_says_what_is_missing(tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa")
    (folder / "ca.crt").unlink()
    with pytest.raises(ConfigError, match="cannot read the ServiceAccount's CA"):
        config.load(environ={**in_pod(folder), "KUBECONFIG": "/none"})


# ----- the commands -------------------------------------------------------------------------


def test_apply_and_diff_with_an_unusable_kubeconfig_exit_4_without_a_traceback(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from tenantctl.cli import main

    example = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"
    for command in ("apply", "diff"):
        result = CliRunner().invoke(
            main, [command, str(example), "--kubeconfig", str(tmp_path / "missing")]
        )
        assert result.exit_code == 4, result.output
        assert f"kubeconfig {tmp_path / 'missing'} does not exist" in result.output
        assert "Traceback" not in result.output


def test_an_unreachable_cluster_exits_4_with_the_server_named(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tenantctl.cli import main

    path = kubeconfig(
        tmp_path / "config",
        contexts=[context("c", cluster="k", user="u")],
        clusters=[cluster("k", server="http://127.0.0.1:9")],
        users=[user("u", token="t")],
        current="c",
    )
    example = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"
    result = CliRunner().invoke(main, ["apply", str(example), "--kubeconfig", str(path)])
    assert result.exit_code == 4, result.output
    assert "cannot reach http://127.0.0.1:9" in result.output
    assert "is the cluster up, and is the server address of cluster 'k' right?" in result.output
