"""A throw-away certificate authority and a server certificate for local TLS listeners.

Cloud stores require TLS (DocumentDB with Amazon's CA bundle, Atlas, MSK), so
the bindings are tested over TLS locally: a CA made here signs a certificate
for 127.0.0.1 and localhost, and clients trust the CA through the same
options a cloud connection string carries (``tlsCAFile=…``). Never for
production: the keys are written unencrypted next to the certificates.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.errors import ConfigurationError


@dataclass(frozen=True)
class ServerCertificate:
    """PEM files: the CA clients trust, and the server's certificate and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_local_certificates(directory: Path, days: int = 30) -> ServerCertificate:
    """Write ``ca.pem``, ``server.pem`` and ``server-key.pem`` under ``directory``."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ModuleNotFoundError as e:
        msg = "local TLS needs the 'cryptography' package: pip install -e '.[dev]'"
        raise ConfigurationError(msg) from e

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "streamkit local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = ServerCertificate(
        directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    )
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key_file.chmod(0o600)
    return files


def write_pem_keystore(certificate: ServerCertificate, path: Path) -> Path:
    """One PEM file with the server's key, certificate and CA: a JVM ``ssl.keystore.type=PEM``.

    Kafka reads an unencrypted PKCS#8 key from it when no ``ssl.key.password`` is set.
    """
    parts = (certificate.key_file, certificate.cert_file, certificate.ca_file)
    path.write_bytes(b"".join(p.read_bytes() for p in parts))
    path.chmod(0o600)
    return path


def expires_within(cert_file: Path, delta: timedelta) -> bool:
    """True when ``cert_file`` is missing, unreadable, or expires within ``delta``."""
    try:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError, ModuleNotFoundError):
        return True
    return cert.not_valid_after_utc - datetime.now(UTC) < delta
