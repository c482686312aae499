"""Reading kubeconfig as kubectl does (`tenantctl.kube.config`).

Covers: --context over current-context; $KUBECONFIG files merged with the first definition
winning; token, tokenFile and file paths relative to the kubeconfig; CA and client certificates
inline or from files; clear errors for a missing file, an unknown context, a dangling user and
exec plugins; TLS settings from the connection.
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl.kube import config
from tenantctl.kube.errors import ConfigError


def kubeconfig(
    path: Path,
    *,
    contexts: list[dict[str, Any]],
    clusters: list[dict[str, Any]],
    users: list[dict[str, Any]],
    current: str | None = None,
) -> Path:
    data: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": contexts,
        "clusters": clusters,
        "users": users,
    }
    if current:
        data["current-context"] = current
    path.write_text(yaml.safe_dump(data))
    return path


def basic(path: Path, **user: Any) -> Path:
    return kubeconfig(
        path,
        contexts=[
            {"name": "admin", "context": {"cluster": "local", "user": "admin"}},
            {"name": "dev", "context": {"cluster": "local", "user": "admin", "namespace": "dev"}},
        ],
        clusters=[
            {
                "name": "local",
                "cluster": {"server": "https://127.0.0.1:6443/", "insecure-skip-tls-verify": True},
            }
        ],
        users=[{"name": "admin", "user": user or {"token": "t0k3n"}}],
        current="admin",
    )


def test_the_current_context_is_used_unless_context_is_given(tmp_path: Path) -> None:
    path = basic(tmp_path / "config")
    assert config.load(path).context == "admin"
    chosen = config.load(path, "dev")
    assert (chosen.context, chosen.namespace, chosen.token) == ("dev", "dev", "t0k3n")
    assert chosen.server == "https://127.0.0.1:6443"


def test_kubeconfig_files_in_the_environment_merge_and_the_first_definition_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = basic(tmp_path / "a", token="first")
    second = kubeconfig(
        tmp_path / "b",
        contexts=[{"name": "other", "context": {"cluster": "local", "user": "admin"}}],
        clusters=[{"name": "local", "cluster": {"server": "https://elsewhere"}}],
        users=[{"name": "admin", "user": {"token": "second"}}],
        current="other",
    )
    monkeypatch.setenv(config.KUBECONFIG_ENV, f"{first}:{second}")
    connection = config.load()
    assert (connection.context, connection.token) == ("admin", "first")
    other = config.load(context="other")
    assert other.server == "https://127.0.0.1:6443", "cluster 'local' came from the first file"


def test_token_file_and_certificate_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "token").write_text("from-file\n")
    (tmp_path / "creds" / "ca.pem").write_bytes(b"CA")
    path = kubeconfig(
        tmp_path / "config",
        contexts=[{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        clusters=[
            {
                "name": "k",
                "cluster": {"server": "https://k", "certificate-authority": "creds/ca.pem"},
            }
        ],
        users=[
            {
                "name": "u",
                "user": {
                    "tokenFile": "creds/token",
                    "client-certificate-data": base64.b64encode(b"C").decode(),
                    "client-key-data": base64.b64encode(b"K").decode(),
                },
            }
        ],
        current="c",
    )
    connection = config.load(path)
    assert connection.token == "from-file"
    assert connection.ca_data == b"CA"
    assert (connection.client_cert_data, connection.client_key_data) == (b"C", b"K")


@pytest.mark.parametrize(
    ("context", "message"),
    [("missing", "context 'missing' is not in the kubeconfig (contexts: admin, dev)")],
)
def test_an_unknown_context_names_the_known_ones(
    tmp_path: Path, context: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(basic(tmp_path / "config"), context)


def test_a_missing_kubeconfig_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope")


def test_a_context_naming_an_undefined_user_is_a_config_error(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        contexts=[{"name": "c", "context": {"cluster": "k", "user": "ghost"}}],
        clusters=[{"name": "k", "cluster": {"server": "https://k"}}],
        users=[],
        current="c",
    )
    with pytest.raises(ConfigError, match="user 'ghost'"):
        config.load(path)


def test_exec_plugins_are_reported_not_half_run(tmp_path: Path) -> None:
    path = basic(tmp_path / "config", exec={"command": "aws", "apiVersion": "x"})
    with pytest.raises(ConfigError, match="exec plugin"):
        config.load(path)


def test_insecure_skip_tls_verify_turns_verification_off(tmp_path: Path) -> None:
    context = config.ssl_context(config.load(basic(tmp_path / "config")))
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_a_broken_ca_certificate_is_a_config_error_not_a_traceback() -> None:
    connection = config.Connection(server="https://k", context="c", ca_data=b"not a cert")
    with pytest.raises(ConfigError, match="CA certificate"):
        config.ssl_context(connection)


def test_a_client_certificate_without_its_key_is_a_config_error() -> None:
    connection = config.Connection(server="https://k", context="c", client_cert_data=b"C")
    with pytest.raises(ConfigError, match="both the certificate and the key"):
        config.ssl_context(connection)


def test_plain_http_servers_need_no_tls_context() -> None:
    assert (
        config.ssl_context(config.Connection(server="http://127.0.0.1:8080", context="c")) is None
    )


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
        assert "kubeconfig" in result.output and "does not exist" in result.output
        assert "Traceback" not in result.output


def test_an_unreachable_cluster_exits_4_with_the_server_named(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tenantctl.cli import main

    path = kubeconfig(
        tmp_path / "config",
        contexts=[{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        clusters=[{"name": "k", "cluster": {"server": "http://127.0.0.1:9"}}],
        users=[{"name": "u", "user": {"token": "t"}}],
        current="c",
    )
    example = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"
    result = CliRunner().invoke(main, ["apply", str(example), "--kubeconfig", str(path)])
    assert result.exit_code == 4, result.output
    assert "cannot reach http://127.0.0.1:9" in result.output
