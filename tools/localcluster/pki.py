"""Certificates and keys for the local control plane, made with the openssl CLI.

One CA signs the API server's serving certificate (so clients verify it instead of skipping TLS
checks) and the controller manager's CSR signer; a separate key pair signs and verifies
service-account tokens (ES256). All keys are ECDSA P-256: generating them takes milliseconds,
where RSA keys cost seconds of every cluster start-up. Files are created once per cluster
directory and reused on restart.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

NEW_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
SERVING_SANS = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:10.96.0.1"


@dataclass(frozen=True)
class Pki:
    """Paths of the files one cluster's components are configured with."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    service_account_public_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def ensure_pki(directory: Path) -> Pki:
    """Create (or reuse) the CA, serving certificate and service-account keys in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "service-account.key",
        service_account_public_key=directory / "service-account.pub",
    )
    self_signed = ("req", "-x509", "-nodes", "-days", "365", *NEW_EC_KEY)
    if not pki.ca_cert.exists():
        _openssl(
            *self_signed,
            *("-subj", "/CN=tenantctl-local-ca"),
            *("-keyout", pki.ca_key.name, "-out", pki.ca_cert.name),
            cwd=directory,
        )
    if not pki.serving_cert.exists():
        _openssl(
            *self_signed,
            *("-subj", "/CN=kube-apiserver", "-CA", pki.ca_cert.name, "-CAkey", pki.ca_key.name),
            *("-addext", f"subjectAltName={SERVING_SANS}"),
            *("-addext", "basicConstraints=critical,CA:FALSE"),
            *("-addext", "extendedKeyUsage=serverAuth"),
            *("-keyout", pki.serving_key.name, "-out", pki.serving_cert.name),
            cwd=directory,
        )
    if not pki.service_account_key.exists():
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-out", pki.service_account_key.name, cwd=directory,
        )  # fmt: skip
        _openssl(
            "pkey", "-in", pki.service_account_key.name, "-pubout",
            "-out", pki.service_account_public_key.name, cwd=directory,
        )  # fmt: skip
    return pki
