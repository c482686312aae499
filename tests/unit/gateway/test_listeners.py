"""The gateway's two listeners: flags for the gRPC port and TLS, and TLS on both.

Covers: --grpc-port defaults to 50051 and 0 turns the gRPC API off; --tls-cert and --tls-key go
together and must name files; with them, the HTTP API and the gRPC API both answer over TLS
with the one certificate (the SDK's TlsConfig(ca_path=...) trusts it).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fake_kube import FakeKube
from openshell import SandboxClient, TlsConfig

from sandbox_gateway import config as configs
from sandbox_gateway.server import make_app
from tenantctl.kube.client import Client
from tenantctl.kube.config import Connection


def test_the_grpc_api_is_on_50051_unless_turned_off() -> None:
    assert configs.from_args([]).grpc_port == 50051
    assert configs.from_args(["--grpc-port=0"]).grpc_port is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--tls-cert=/etc/hostname"],
            "--tls-cert and --tls-key go together: give both or neither",
        ),
        (
            ["--tls-cert=/nonexistent", "--tls-key=/etc/hostname"],
            "--tls-cert /nonexistent: no such file",
        ),
        (["--grpc-port=70000"], "--grpc-port must be a TCP port (1-65535), or 0 for no gRPC API"),
    ],
)
def test_listener_flags_that_cannot_work_are_refused(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        configs.from_args(flags)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"sandbox-gateway: error: {message}"


def certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a serving certificate for 127.0.0.1 (openssl, as tools/localcluster makes them)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1")
    ca = ("-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt")
    signed = ("-subj", "/CN=gateway", "-CA", "ca.crt", "-CAkey", "ca.key")
    san = ("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "tls.key", "-out", "tls.crt")
    for args in (ca, (*signed, *san)):
        subprocess.run(
            ["openssl", "req", "-x509", *ec, *args], cwd=directory, check=True, capture_output=True
        )
    return directory / "tls.crt", directory / "tls.key", directory / "ca.crt"


@pytest.mark.asyncio
async def test_with_a_certificate_both_apis_answer_over_tls(
    kube: FakeKube, tmp_path: Path, unused_tcp_port: int
) -> None:
    cert, key, ca = certificate(tmp_path)
    config = configs.from_args(
        [
            "--host=127.0.0.1",
            f"--grpc-port={unused_tcp_port}",
            f"--tls-cert={cert}",
            f"--tls-key={key}",
        ]
    )
    client = Client(Connection(server=kube.url, context="unit", token="gateway-token"))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = TestServer(make_app(config, client))
    await server.start_server(ssl=server_context)
    try:
        trust = ssl.create_default_context(cafile=str(ca))
        async with aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{server.port}/healthz"
            async with session.get(url, ssl=trust) as response:
                assert response.status == 200

        def health() -> Any:
            tls = TlsConfig(ca_path=ca)
            with SandboxClient(f"127.0.0.1:{unused_tcp_port}", tls=tls, timeout=10) as sdk:
                return sdk.health()

        assert (await asyncio.to_thread(health)).version.startswith("sandbox-gateway")
    finally:
        await server.close()
