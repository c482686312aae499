"""TLS to the API server, against a real TLS server that demands a client certificate.

Covers: a client certificate and key given as bytes reach the server (loaded from memory, by
memfd and by the pipe fallback) and nothing is written to disk; tls-server-name verifies a
server whose certificate does not name the address dialled; a wrong CA fails with a message
naming the fix; broken CA data, a certificate without its key and a mismatched pair are
ConfigErrors; plain http needs no TLS context.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from tenantctl.kube import errors, tls
from tenantctl.kube.client import Client
from tenantctl.kube.connections import Connection
from tenantctl.kube.credentials import Credentials

PKI = Path(__file__).parent / "pki"
CA = (PKI / "ca.crt").read_bytes()
CLIENT_CERT = (PKI / "client.crt").read_bytes()
CLIENT_KEY = (PKI / "client.key").read_bytes()


async def whoami(request: web.Request) -> web.Response:
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    subject = dict(item[0] for item in (peer or {}).get("subject", ()))
    return web.json_response({"commonName": subject.get("commonName")})


@pytest_asyncio.fixture
async def tls_server() -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate names only kube.test; it requires a
    client certificate signed by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(PKI / "server.crt", PKI / "server.key")
    context.load_verify_locations(cadata=CA.decode())
    context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/whoami", whoami)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=context)
    yield f"https://127.0.0.1:{server.port}"
    await server.close()


def connection(server: str, **fields: object) -> Connection:
    values: dict[str, object] = {
        "ca_data": CA,
        "tls_server_name": "kube.test",
        "client_cert_data": CLIENT_CERT,
        "client_key_data": CLIENT_KEY,
        **fields,
    }
    return Connection(server=server, context="c", cluster="local", **values)  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "pipe"])
async def test_a_client_certificate_from_memory_reaches_the_server_and_never_the_disk(
    tls_server: str, memfd: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not memfd:
        monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    async with Client.connect(connection(tls_server)) as client:
        assert await client.get("/whoami") == {"commonName": "cert-user"}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.asyncio
async def test_without_tls_server_name_a_certificate_for_another_name_is_refused(
    tls_server: str,
) -> None:
    async with Client.connect(connection(tls_server, tls_server_name=None)) as client:
        with pytest.raises(errors.ConnectionFailed) as raised:
            await client.get("/whoami")
    assert "check certificate-authority and tls-server-name of cluster 'local'" in str(
        raised.value
    )


@pytest.mark.asyncio
async def test_a_server_signed_by_another_ca_is_refused(tls_server: str) -> None:
    async with Client.connect(connection(tls_server, ca_data=CLIENT_CERT)) as client:
        with pytest.raises(errors.ConnectionFailed, match="certificate verify failed"):
            await client.get("/whoami")


def test_broken_ca_data_is_a_config_error_saying_what_to_fix() -> None:
    with pytest.raises(errors.ConfigError) as raised:
        tls.context(ca_data=b"not a cert", insecure=False, where="cluster 'local'")
    assert str(raised.value).startswith("the CA certificate of cluster 'local' cannot be loaded (")
    assert str(raised.value).endswith("): fix certificate-authority(-data) in the kubeconfig")


def test_a_certificate_without_its_key_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError) as raised:
        Credentials(connection("https://k", client_key_data=None))
    assert str(raised.value) == (
        "context 'c' has a client certificate without its key, or a key without its certificate: "
        "a client certificate needs both the certificate and the key"
    )


def test_a_key_that_does_not_match_the_certificate_is_a_config_error() -> None:
    mismatched = (PKI / "server.key").read_bytes()
    with pytest.raises(errors.ConfigError, match="are a matching PEM pair"):
        Credentials(connection("https://k", client_key_data=mismatched))


def test_insecure_skip_tls_verify_turns_verification_off() -> None:
    context = tls.context(ca_data=None, insecure=True, where="cluster 'local'")
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


@pytest.mark.asyncio
async def test_plain_http_servers_need_no_tls_context() -> None:
    auth = await Credentials(Connection(server="http://127.0.0.1:8080", context="c")).current()
    assert auth.ssl_context is None
