"""TLS for one API server: trust, server name, and a client certificate that never touches disk.

Python's ``ssl`` loads certificate chains only from paths (``SSLContext.load_cert_chain``), and
a kubeconfig or an exec plugin hands over the certificate and key as bytes. Writing a decoded
private key to a temporary file, as the official Python clients do, leaves it readable on disk
for the life of the process (and after a crash). Instead the bytes go into anonymous memory
files (``memfd_create``, Linux) and OpenSSL opens them by their ``/proc/self/fd/N`` path; the
descriptors are closed as soon as the key is loaded. Where ``memfd_create`` does not exist
(macOS), a pipe fed by a short-lived thread serves the same purpose through ``/dev/fd/N``.
Either way the key exists only in this process's memory.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
from collections.abc import Iterator

from tenantctl.kube.errors import ConfigError


def context(
    *,
    ca_data: bytes | None,
    insecure: bool,
    client_cert: bytes | None = None,
    client_key: bytes | None = None,
    where: str,
) -> ssl.SSLContext:
    """A client context trusting ``ca_data`` (else the system roots; nothing if ``insecure``)
    and presenting ``client_cert`` with ``client_key`` when given. ``where`` names the source
    (cluster or user) in errors."""
    result = ssl.create_default_context()
    if insecure:
        result.check_hostname = False
        result.verify_mode = ssl.CERT_NONE
    elif ca_data:
        try:
            result.load_verify_locations(cadata=ca_data.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
            raise ConfigError(
                f"the CA certificate of {where} cannot be loaded ({err}): fix "
                "certificate-authority(-data) in the kubeconfig"
            ) from None
    if client_cert or client_key:
        if not (client_cert and client_key):
            raise ConfigError(
                f"{where} has a client certificate without its key, or a key without its "
                "certificate: a client certificate needs both the certificate and the key"
            )
        load_cert_chain_from_memory(result, client_cert, client_key, where=where)
    return result


def load_cert_chain_from_memory(
    context: ssl.SSLContext, cert: bytes, key: bytes, *, where: str
) -> None:
    with _memory_path(cert, "cert") as cert_path, _memory_path(key, "key") as key_path:
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as err:
            raise ConfigError(
                f"the client certificate or key of {where} cannot be loaded ({err}): check that "
                "client-certificate(-data) and client-key(-data) are a matching PEM pair"
            ) from None


@contextlib.contextmanager
def _memory_path(data: bytes, name: str) -> Iterator[str]:
    """A path that reads as ``data`` while the context lasts, backed by memory only."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(f"tenantctl-{name}", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with _pipe_path(data) as path:
        yield path


@contextlib.contextmanager
def _pipe_path(data: bytes) -> Iterator[str]:
    """The portable fallback: a pipe whose other end a thread fills with ``data``."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        with contextlib.suppress(OSError), os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    feeder = threading.Thread(target=feed, name="tenantctl-tls-pipe", daemon=True)
    feeder.start()
    try:
        yield f"/dev/fd/{read_end}"
    finally:
        # Closing the read end first unblocks a writer whose data was not all read.
        os.close(read_end)
        feeder.join()
