"""The local broker's SASL_SSL listener: its certificate, its SCRAM user, how clients connect.

``streamkit local up --secure-kafka`` adds it next to the plaintext listener, as
managed clusters (MSK, Confluent Cloud) serve clients: TLS with a certificate of a
CA the client trusts (here a throw-away one, :mod:`app.localstack.certs`) and
SASL. The user's password is generated once into the state dir (mode 0600) and
never printed; the SCRAM credentials are written into the cluster metadata when
the log dirs are formatted (``kafka-storage format --add-scram``), or with
``kafka-configs`` when the broker was formatted before without them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from app.localstack.certs import expires_within, make_local_certificates, write_pem_keystore

USER = "streamkit"
#: The mechanisms the listener accepts; SCRAM-SHA-512 is what clients are told to use.
SCRAM = ("SCRAM-SHA-512", "SCRAM-SHA-256")
MECHANISMS = (*SCRAM, "PLAIN")
_LISTENER = "listener.name.sasl_ssl"
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True)
class SecureListener:
    """The files of the SASL_SSL listener under ``directory`` and its address."""

    directory: Path
    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port`` clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients trust (``STREAMKIT_KAFKA__SSL_CA_LOCATION``)."""
        return self.directory / "ca.pem"

    @property
    def keystore_file(self) -> Path:
        """The broker's key, certificate and CA in one PEM file."""
        return self.directory / "broker-keystore.pem"

    @property
    def password_file(self) -> Path:
        """The SCRAM (and PLAIN) password of :data:`USER`, mode 0600."""
        return self.directory / "password"

    @property
    def scram_marker(self) -> Path:
        """Exists once the cluster metadata holds the SCRAM credentials of this password."""
        return self.directory / "scram-user-created"

    def prepare(self) -> None:
        """Make the certificate (again when it is about to expire) and the password once."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if expires_within(self.directory / "server.pem", timedelta(days=2)):
            write_pem_keystore(make_local_certificates(self.directory), self.keystore_file)
        if not self.password_file.is_file():
            self.password_file.touch(mode=0o600)
            self.password_file.chmod(0o600)
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.scram_marker.unlink(missing_ok=True)

    def password(self) -> str:
        """The password of :data:`USER` (keep it out of output)."""
        return self.password_file.read_text().strip()

    def properties(self) -> list[str]:
        """The broker settings of the listener, scoped to it (``server.properties`` lines)."""
        plain_users = f'user_{USER}="{self.password()}"'
        return [
            f"{_LISTENER}.sasl.enabled.mechanisms={','.join(MECHANISMS)}",
            *(f"{_LISTENER}.{m.lower()}.sasl.jaas.config={_SCRAM_MODULE}" for m in SCRAM),
            f"{_LISTENER}.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
            f"{_LISTENER}.ssl.keystore.type=PEM",
            f"{_LISTENER}.ssl.keystore.location={self.keystore_file}",
        ]

    def scram_credentials(self) -> list[str]:
        """``SCRAM-SHA-512=[name=streamkit,password=...]``: each SCRAM mechanism's credential."""
        return [f"{m}=[name={USER},password={self.password()}]" for m in SCRAM]

    def client_options(self, mechanism: str = SCRAM[0]) -> dict[str, str]:
        """The librdkafka options that connect to this listener (the password included)."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": mechanism,
            "sasl.username": USER,
            "sasl.password": self.password(),
            "ssl.ca.location": str(self.ca_file),
        }

    def hint(self, topics: list[str]) -> list[str]:
        """How a client connects, as ``STREAMKIT_*`` variables; the password by reference."""
        urls = [f"kafka://{self.address}/{t}" for t in topics]
        return [
            f"kafka: SASL_SSL listener on {self.address} ({', '.join(MECHANISMS)}; user {USER}, "
            f"password in {self.password_file}). Connect with:",
            f"  export STREAMKIT_BUS_URL={urls[0]}",
            *(f"  export STREAMKIT_DEADLETTER_URL={u}" for u in urls[1:2]),
            "  export STREAMKIT_KAFKA__SECURITY_PROTOCOL=SASL_SSL",
            f"  export STREAMKIT_KAFKA__SASL_MECHANISM={SCRAM[0]}",
            f"  export STREAMKIT_KAFKA__SASL_USERNAME={USER}",
            f'  export STREAMKIT_KAFKA__SASL_PASSWORD="$(cat {self.password_file})"',
            f"  export STREAMKIT_KAFKA__SSL_CA_LOCATION={self.ca_file}",
        ]
