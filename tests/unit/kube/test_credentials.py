"""The credential a request carries: token files that rotate, and real exec plugins.

Covers: a token file re-read when it is replaced and not otherwise; an exec plugin (a real
script) run with its args, env and KUBERNETES_EXEC_INFO (interactive flag, cluster info only
with provideClusterInfo); its credential cached until expirationTimestamp and fetched again
after; concurrent requests sharing one run; a 401 making the client run the plugin again and
repeat the request once; interactiveMode Never / IfAvailable / Always without a terminal; the
errors of a plugin that fails, is missing, or prints something else, each saying what to do.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from serving import serve

from tenantctl.kube import errors, execplugin
from tenantctl.kube.client import Client
from tenantctl.kube.connections import Connection
from tenantctl.kube.credentials import Credentials, TokenFile

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"

# A real credential plugin: counts its runs, records what it was given, prints an ExecCredential
# whose token is "token-<run>" and whose expiry is EXPIRES_IN seconds from now (none if unset).
PLUGIN = """\
import json, os, sys
from datetime import datetime, timedelta, timezone
folder = os.environ["PLUGIN_DIR"]
runs_file = os.path.join(folder, "runs")
runs = int(open(runs_file).read()) + 1 if os.path.exists(runs_file) else 1
open(runs_file, "w").write(str(runs))
with open(os.path.join(folder, f"call-{runs}.json"), "w") as record:
    json.dump({"argv": sys.argv[1:], "info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]),
               "extra": os.environ.get("EXTRA"), "stdin_tty": sys.stdin.isatty()}, record)
if os.environ.get("FAIL"):
    print("token expired: run `login` again", file=sys.stderr)
    sys.exit(3)
status = {"token": f"token-{runs}"}
if os.environ.get("EXPIRES_IN"):
    expires = datetime.now(timezone.utc) + timedelta(seconds=float(os.environ["EXPIRES_IN"]))
    status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
print(json.dumps({"apiVersion": os.environ["API_VERSION"], "kind": "ExecCredential",
                  "status": status}))
"""


def plugin_script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "login"
    script.write_text(f"#!{sys.executable}\n{PLUGIN}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def plugin(
    folder: Path,
    *,
    api_version: str = V1,
    mode: execplugin.InteractiveMode = "Never",
    env: dict[str, str] | None = None,
    cluster_info: bool = False,
    command: str | None = None,
    hint: str = "",
) -> execplugin.ExecConfig:
    script = plugin_script(folder)
    return execplugin.ExecConfig(
        user="sso",
        command=command or str(script),
        api_version=api_version,
        args=("get-token", "--cluster", "dev"),
        env=tuple({"PLUGIN_DIR": str(folder), "API_VERSION": api_version, **(env or {})}.items()),
        interactive_mode=mode,
        provide_cluster_info=cluster_info,
        install_hint=hint,
    )


def runs(folder: Path) -> int:
    return int((folder / "runs").read_text()) if (folder / "runs").exists() else 0


def call(folder: Path, number: int) -> dict[str, Any]:
    return json.loads((folder / f"call-{number}.json").read_text())


def connection(exec_plugin: execplugin.ExecConfig, server: str = "https://k:6443") -> Connection:
    return Connection(
        server=server,
        context="dev",
        exec_plugin=exec_plugin,
        user="sso",
        cluster="dev",
        tls_server_name="kube.test",
        insecure=True,
        exec_cluster_config={"audience": "dev"},
    )


def no_terminal() -> bool:
    return False


# ----- token files ----------------------------------------------------------------------------


def test_a_token_file_is_read_again_only_after_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    tokens = TokenFile(path)
    assert tokens.read() == "first"
    # Rotation as the kubelet does it: a new file moved over the old one.
    (tmp_path / "token.new").write_text("second-token\n")
    os.replace(tmp_path / "token.new", path)
    assert tokens.read() == "second-token"


@pytest.mark.asyncio
async def test_requests_present_the_rotated_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("before")
    credentials = Credentials(Connection(server="http://k", context="c", token_file=path))
    assert (await credentials.current()).header == "Bearer before"
    (tmp_path / "next").write_text("after")
    os.replace(tmp_path / "next", path)
    assert (await credentials.current()).header == "Bearer after"


# ----- exec plugins -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_plugin_gets_args_env_and_exec_info_but_no_cluster_unless_asked(
    tmp_path: Path,
) -> None:
    credentials = Credentials(
        connection(plugin(tmp_path, env={"EXTRA": "yes"})), terminal=no_terminal
    )
    assert (await credentials.current()).header == "Bearer token-1"
    recorded = call(tmp_path, 1)
    assert recorded["argv"] == ["get-token", "--cluster", "dev"]
    assert recorded["extra"] == "yes"
    assert recorded["info"] == {
        "apiVersion": V1,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }


@pytest.mark.asyncio
async def test_provide_cluster_info_shows_the_plugin_the_cluster(tmp_path: Path) -> None:
    exec_plugin = plugin(tmp_path, api_version=V1BETA1, mode="IfAvailable", cluster_info=True)
    await Credentials(connection(exec_plugin), terminal=no_terminal).current()
    assert call(tmp_path, 1)["info"] == {
        "apiVersion": V1BETA1,
        "kind": "ExecCredential",
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://k:6443",
                "tls-server-name": "kube.test",
                "insecure-skip-tls-verify": True,
                "config": {"audience": "dev"},
            },
        },
    }


@pytest.mark.asyncio
async def test_a_credential_is_reused_until_it_expires_then_fetched_again(tmp_path: Path) -> None:
    credentials = Credentials(
        connection(plugin(tmp_path, env={"EXPIRES_IN": "1.0"})), terminal=no_terminal
    )
    first = await credentials.current()
    assert first.header == "Bearer token-1"
    assert (await credentials.current()) == first
    assert runs(tmp_path) == 1
    deadline = asyncio.get_running_loop().time() + 30
    while (await credentials.current()) == first:
        assert asyncio.get_running_loop().time() < deadline, "the credential never expired"
        await asyncio.sleep(0.05)
    assert (await credentials.current()).header == "Bearer token-2"
    assert runs(tmp_path) == 2


@pytest.mark.asyncio
async def test_concurrent_requests_share_one_plugin_run(tmp_path: Path) -> None:
    credentials = Credentials(connection(plugin(tmp_path)), terminal=no_terminal)
    results = await asyncio.gather(*(credentials.current() for _ in range(8)))
    headers = {auth.header for auth in results}
    assert (headers, runs(tmp_path)) == ({"Bearer token-1"}, 1)


def test_an_expiry_in_the_past_counts_as_expired() -> None:
    credential = execplugin.ExecCredential(
        token="t", expires=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert credential.expired()
    assert not execplugin.ExecCredential(token="t").expired()


@pytest.mark.parametrize(
    ("mode", "terminal", "interactive"),
    [
        ("Never", True, False),
        ("IfAvailable", False, False),
        ("IfAvailable", True, True),
        ("Always", True, True),
    ],
)
def test_interactive_mode_decides_whether_the_plugin_may_prompt(
    tmp_path: Path, mode: execplugin.InteractiveMode, terminal: bool, interactive: bool
) -> None:
    exec_plugin = plugin(tmp_path, mode=mode)
    assert execplugin.interactive(exec_plugin, terminal=terminal) is interactive


@pytest.mark.asyncio
async def test_interactive_mode_always_without_a_terminal_is_refused_before_running(
    tmp_path: Path,
) -> None:
    credentials = Credentials(connection(plugin(tmp_path, mode="Always")), terminal=no_terminal)
    with pytest.raises(errors.ConfigError) as raised:
        await credentials.current()
    assert str(raised.value) == (
        f"the exec plugin '{tmp_path / 'login'}' of user 'sso' must talk to you "
        "(interactiveMode: Always) but standard input is not a terminal: run the command from a "
        "terminal, or log in with the plugin first so that it needs no prompt"
    )
    assert runs(tmp_path) == 0


@pytest.mark.asyncio
async def test_a_failing_plugin_is_reported_with_its_exit_code_and_stderr(tmp_path: Path) -> None:
    credentials = Credentials(connection(plugin(tmp_path, env={"FAIL": "1"})), terminal=no_terminal)
    with pytest.raises(errors.ConfigError) as raised:
        await credentials.current()
    assert str(raised.value) == (
        f"the exec plugin '{tmp_path / 'login'}' of user 'sso' failed with exit code 3: token "
        "expired: run `login` again (run it yourself to see why; log in again if its session "
        "expired)"
    )


@pytest.mark.asyncio
async def test_a_missing_plugin_shows_its_install_hint(tmp_path: Path) -> None:
    exec_plugin = plugin(
        tmp_path, command="tenantctl-no-such-plugin", hint="install it with: brew install sso"
    )
    with pytest.raises(errors.ConfigError) as raised:
        await Credentials(connection(exec_plugin), terminal=no_terminal).current()
    assert str(raised.value) == (
        "the exec plugin 'tenantctl-no-such-plugin' of user 'sso' was not found: install it "
        "with: brew install sso"
    )


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (b"hello", "printed something that is not an ExecCredential in JSON: 'hello'"),
        (
            json.dumps({"apiVersion": V1BETA1, "kind": "ExecCredential", "status": {}}).encode(),
            f"answered with apiVersion '{V1BETA1}', but the kubeconfig asks for {V1}: make the "
            "kubeconfig's exec apiVersion match the plugin",
        ),
        (
            json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {}}).encode(),
            "returned neither a token nor a client certificate",
        ),
        (
            json.dumps(
                {
                    "apiVersion": V1,
                    "kind": "ExecCredential",
                    "status": {"clientCertificateData": "PEM"},
                }
            ).encode(),
            "returned a client certificate without its key (or the reverse); it must return "
            "both clientCertificateData and clientKeyData",
        ),
    ],
)
def test_output_that_is_not_a_usable_exec_credential_is_refused(
    tmp_path: Path, output: bytes, message: str
) -> None:
    exec_plugin = plugin(tmp_path)
    with pytest.raises(errors.ConfigError) as raised:
        execplugin.parse(exec_plugin, output)
    assert str(raised.value) == f"the exec plugin '{tmp_path / 'login'}' of user 'sso' {message}"


# ----- the client renews on 401 -----------------------------------------------------------------


class Server:
    """Accepts only the tokens in ``valid``; records the Authorization of every request."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.seen: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        self.seen.append(token)
        if token.removeprefix("Bearer ") in self.valid:
            return web.json_response({"kind": "NamespaceList", "items": []})
        return web.json_response(
            {"kind": "Status", "reason": "Unauthorized", "message": "Unauthorized"}, status=401
        )


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    fake = Server()
    async with serve(fake.handle) as url:
        yield fake, url


@pytest.mark.asyncio
async def test_a_401_runs_the_plugin_again_and_repeats_the_request_once(
    tmp_path: Path, server: tuple[Server, str]
) -> None:
    fake, url = server
    fake.valid = {"token-2"}  # the first credential was revoked before it expired
    async with Client.connect(connection(plugin(tmp_path), server=url)) as client:
        assert await client.get("/api/v1/namespaces") == {"kind": "NamespaceList", "items": []}
    assert fake.seen == ["Bearer token-1", "Bearer token-2"]


@pytest.mark.asyncio
async def test_a_credential_the_server_keeps_refusing_is_a_401_saying_what_to_do(
    tmp_path: Path, server: tuple[Server, str]
) -> None:
    fake, url = server
    async with Client.connect(connection(plugin(tmp_path), server=url)) as client:
        with pytest.raises(errors.Unauthorized) as raised:
            await client.get("/api/v1/namespaces")
    assert fake.seen == ["Bearer token-1", "Bearer token-2"], "renewed once, then gave up"
    assert str(raised.value) == (
        f"401 Unauthorized: Unauthorized (the API server did not accept the exec plugin "
        f"'{tmp_path / 'login'}' of user 'sso' for user 'sso' of context 'dev': renew the "
        "credential, or pick another --context)"
    )
