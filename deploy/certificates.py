"""A private certificate authority and a server certificate for a ward network, made with ``cryptography``.

    python -m deploy.certificates instance/tls --name painscope.ward.local --name 10.0.0.5

makes (or keeps, when they are there) in the folder:

- ``ca.pem``: the CA's certificate, the one file a tablet or laptop must trust
  (docs/deployment.md "Deploying on a ward network"); ``ca-key.pem`` its key (mode 0600);
- ``server.pem``: the server certificate followed by the CA's (the chain a
  browser is sent), for the names given and always ``localhost`` and
  127.0.0.1; ``server-key.pem`` its key (mode 0600).

``spki_sha256()`` gives the base64 SHA-256 of a certificate's public key,
the form Chromium's ``--ignore-certificate-errors-spki-list`` takes (the
browser tests trust the test CA with it). A launcher helper, not part of the
server: it imports nothing of it.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
SERVER_FILE, SERVER_KEY_FILE = "server.pem", "server-key.pem"
# P-256 ECDSA: accepted by every current browser and by nginx and Python's ssl alike.
CURVE = ec.SECP256R1()
CA_DAYS = 3650  # a private CA: ten years, replaced with the server it serves
# Browsers refuse server certificates valid for longer than 398 days (CA/Browser Forum
# Baseline Requirements 6.3.2; Chrome and Safari enforce it even for private CAs on some platforms).
SERVER_DAYS = 397
ALWAYS_NAMES = ("localhost", "127.0.0.1")
KEY_FILE_MODE = 0o600
CLOCK_SKEW = dt.timedelta(minutes=5)  # valid from a little before now: a tablet's clock may run behind


@dataclass(frozen=True)
class CertificateFiles:
    """Where the CA and the server's certificate chain and key are."""

    ca: Path
    server_chain: Path
    server_key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _subject_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys([*names, *ALWAYS_NAMES]):  # in order, once each
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def make_ca(folder: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new self-signed CA (may sign server certificates only: path length 0)."""
    key = ec.generate_private_key(CURVE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PainScope ward CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PainScope (private)")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / CA_FILE).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / CA_KEY_FILE, key)
    return certificate, key


def make_server_certificate(
    folder: Path, names: Sequence[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> None:
    """A server certificate for ``names`` (and localhost, 127.0.0.1) signed by the CA; the chain and key."""
    key = ec.generate_private_key(CURVE)
    common_name = names[0] if names else ALWAYS_NAMES[0]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = certificate.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    (folder / SERVER_FILE).write_bytes(chain)
    _write_key(folder / SERVER_KEY_FILE, key)


def ensure_certificates(folder: Path, names: Sequence[str] = (), now: dt.datetime | None = None) -> CertificateFiles:
    """The CA and server certificate in ``folder``: kept when both are there, else made (a new CA only
    when there is none: devices that trust it keep trusting the server's next certificate)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = CertificateFiles(folder / CA_FILE, folder / SERVER_FILE, folder / SERVER_KEY_FILE)
    if files.server_chain.exists() and files.server_key.exists() and files.ca.exists():
        return files
    if files.ca.exists() and (folder / CA_KEY_FILE).exists():
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
        ca_key = serialization.load_pem_private_key((folder / CA_KEY_FILE).read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    else:
        ca, ca_key = make_ca(folder, now)
    make_server_certificate(folder, names, ca, ca_key, now)
    return files


def spki_sha256(pem_file: Path) -> str:
    """The base64 SHA-256 of the (first) certificate's SubjectPublicKeyInfo, as Chromium's
    ``--ignore-certificate-errors-spki-list`` and HTTP public-key pins write it."""
    certificate = x509.load_pem_x509_certificate(pem_file.read_bytes())
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def main(argv: list[str] | None = None) -> int:
    """Make (or keep) the CA and server certificate in a folder; print where they are."""
    parser = argparse.ArgumentParser(prog="python -m deploy.certificates", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--name", action="append", default=[], help="a host name or address of the server")
    args = parser.parse_args(argv)
    files = ensure_certificates(args.folder, args.name)
    print(f"CA to trust on each device: {files.ca.resolve()}")
    print(f"PAINSCOPE_TLS_CERT={files.server_chain.resolve()}")
    print(f"PAINSCOPE_TLS_KEY={files.server_key.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
