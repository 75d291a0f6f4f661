"""Apache Kafka 4 in KRaft mode, one combined broker+controller, from Maven jars."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from adapters.errors import TransientError
from adapters.ports import Bus, BusReader
from adapters.registry import open_bus
from adapters.urls import mask_url
from app.localstack.kafka_secure import SCRAM, USER, SecureListener
from app.localstack.maven import resolve_jars
from app.localstack.paths import INFRA_LOCAL, StackPaths
from app.localstack.service import NativeService
from app.localstack.tools import LocalStackError, Progress, require_java, run_build
from app.settings import Settings

HEALTH_TOPIC = "_streamkit_health"
_LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def local_address(url: str, what: str, default_port: int) -> tuple[str, int]:
    """``(127.0.0.1, port)`` of a URL the local stack must serve, or a clear error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in _LOCAL_HOSTS or "," in parts.netloc:
        msg = (
            f"{what} is {mask_url(url)!r}, which the local stack cannot serve: `streamkit local "
            "up` starts one server on 127.0.0.1; unset the variable or point it at 127.0.0.1"
        )
        raise LocalStackError(msg)
    return "127.0.0.1", parts.port or default_port


class KafkaService(NativeService):
    """The broker, its topics, and a produce/consume round trip as readiness."""

    name = "kafka"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        host, port = local_address(settings.bus_url, "STREAMKIT_BUS_URL", 9092)
        secure_port = settings.local.kafka_secure_port
        # A client pointed at the SASL_SSL listener: the plaintext one is still the default.
        super().__init__(paths, host, 9092 if port == secure_port else port)
        self.settings = settings
        self.controller_port = settings.local.kafka_controller_port
        self.listener = SecureListener(self.data_dir / "secure", host, secure_port)

    @property
    def secure(self) -> bool:
        """Whether the broker has (or is to start with) the SASL_SSL listener."""
        return self.settings.local.secure_kafka or self.serving_secure()

    def serving_secure(self) -> bool:
        """Whether the running broker was started with the SASL_SSL listener."""
        return self.running() is not None and self.configured_secure()

    def configured_secure(self) -> bool:
        """Whether the broker's last start had the SASL_SSL listener."""
        try:
            return "SASL_SSL://" in self.properties_file.read_text()
        except OSError:
            return False

    def ports(self) -> list[int]:
        """The client listener(s) and the controller listener."""
        secure = [self.listener.port] if self.secure else []
        return [self.port, *secure, self.controller_port]

    @property
    def properties_file(self) -> Path:
        """The broker's generated ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        """Where the broker keeps topic data and metadata."""
        return self.data_dir / "data"

    def prepare(self, progress: Progress) -> None:
        """Check Java and resolve the broker's jars."""
        require_java(17)
        resolve_jars(INFRA_LOCAL / "kafka" / "pom.xml", self.paths.kafka_libs, progress=progress)

    def _java(self, main_class: str, *args: str) -> list[str]:
        heap = self.settings.local.kafka_heap
        return [
            require_java(17),
            "-Xms256m",
            f"-Xmx{heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={INFRA_LOCAL / 'kafka' / 'log4j2.properties'}",
            "-cp",
            f"{self.paths.kafka_libs}/*",
            main_class,
            *args,
        ]

    def command(self) -> list[str]:
        """``kafka.Kafka server.properties``."""
        return self._java("kafka.Kafka", str(self.properties_file))

    def before_start(self, progress: Progress) -> None:
        """Write the config, and format the log dirs once (kept across restarts)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Once added, the listener stays on every later start (a restart after a crash, or
        # `local up` without the flag) until `local down --purge`: clients may depend on it.
        secure = self.settings.local.secure_kafka or self.configured_secure()
        if secure:
            self.listener.prepare()
        self.properties_file.touch(mode=0o600)
        self.properties_file.chmod(0o600)  # the PLAIN user's password is in it
        self.properties_file.write_text(self._properties(secure))
        if (self.log_dirs / "meta.properties").is_file():
            return  # formatted before: keep the topics and their data
        cluster_id = self._cluster_id()
        progress(f"kafka: formatting {self.log_dirs} (cluster {cluster_id})")
        # Only with the listener: without it there is no password file to read.
        credentials = self.listener.scram_credentials() if secure else []
        scram = [a for c in credentials for a in ("--add-scram", c)]
        run_build(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(self.properties_file),
                *scram,
            ),
            cwd=self.data_dir,
            what="formatting the Kafka log dirs",
            fix=f"remove {self.log_dirs} (`streamkit local down --purge`) and retry",
            redact=self.listener.password() if secure else "",
        )
        if secure:
            self.listener.scram_marker.touch()

    def _add_scram_user(self) -> None:
        """Write the SCRAM credentials into a broker formatted without them (kafka-configs)."""
        password = self.listener.password()
        for mechanism in SCRAM:  # one credential per request, says the broker
            self._alter_user(f"{mechanism}=[password={password}]", password)
        self.listener.scram_marker.touch()

    def _alter_user(self, credential: str, password: str) -> None:
        run_build(
            self._java(
                "kafka.admin.ConfigCommand",
                "--bootstrap-server",
                self.address,
                "--alter",
                "--entity-type",
                "users",
                "--entity-name",
                USER,
                "--add-config",
                credential,
            ),
            cwd=self.data_dir,
            what=f"creating the SCRAM user {USER}",
            fix="see the Kafka log; `streamkit local down --purge` starts over",
            redact=password,
        )

    def _cluster_id(self) -> str:
        id_file = self.data_dir / "cluster.id"
        if id_file.is_file():
            return id_file.read_text().strip()
        out = subprocess.run(  # noqa: S603
            self._java("kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cluster_id = out.strip().splitlines()[-1]
        id_file.write_text(cluster_id + "\n")
        return cluster_id

    def _properties(self, secure: bool) -> str:
        listen = (
            f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
        )
        protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        if secure:
            listen += f",SASL_SSL://{self.listener.address}"
            protocols += ",SASL_SSL:SASL_SSL"
        return "\n".join(
            [
                "# Generated by `streamkit local up`; edits are overwritten.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={self.host}:{self.controller_port}",
                f"listeners={listen}",
                f"advertised.listeners={listen}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                f"listener.security.protocol.map={protocols}",
                *(self.listener.properties() if secure else []),
                f"log.dirs={self.log_dirs}",
                "num.partitions=1",
                "default.replication.factor=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                # Topics are created on purpose with their partition counts; a typo
                # in a topic name must fail, not create a one-partition topic.
                "auto.create.topics.enable=false",
                "",
            ]
        )

    def check(self, timeout_s: float) -> str:
        """Produce a token to the health topic and consume it back, on each listener."""
        detail = _round_trip(open_bus(f"kafka://{self.address}/{HEALTH_TOPIC}"), timeout_s)
        if not self.serving_secure():
            return detail
        if not self.listener.scram_marker.is_file():
            self._add_scram_user()
        bus = open_bus(
            f"kafka://{self.listener.address}/{HEALTH_TOPIC}",
            security=self.listener.client_options(),
        )
        return f"{detail}; SASL_SSL {self.listener.address} {_round_trip(bus, timeout_s)}"

    def client_hint(self) -> list[str]:
        """How clients connect to the SASL_SSL listener (empty without it)."""
        if not self.serving_secure():
            return []
        topics = [_topic(self.settings.bus_url), _topic(self.settings.deadletter_url)]
        return self.listener.hint(topics)

    def ensure_topics(self, progress: Progress) -> None:
        """Create the events and dead-letter topics if missing (through the plain listener)."""
        for url, partitions in (
            (self.settings.bus_url, self.settings.local.events_partitions),
            (self.settings.deadletter_url, self.settings.local.deadletter_partitions),
        ):
            host, port = local_address(url, "a topic URL", 9092)
            if (host, port) not in ((self.host, self.port), (self.host, self.listener.port)):
                msg = f"{mask_url(url)!r} is not on the local broker {self.address}"
                raise LocalStackError(msg)
            bus = open_bus(f"kafka://{self.address}/{_topic(url)}")
            have = bus.ensure(partitions)
            note = "" if have == partitions else f" (kept as is; {partitions} wanted)"
            progress(f"kafka: topic {bus.topic} has {have} partition(s){note}")
            bus.close()


def _topic(url: str) -> str:
    return unquote(urlsplit(url).path.strip("/"))


def _round_trip(bus: Bus, timeout_s: float) -> str:
    """Produce a token to ``bus`` and consume it back; closes ``bus``."""
    try:
        bus.ensure(1)
        token = uuid.uuid4().hex.encode()
        started = time.perf_counter()
        publisher = bus.publisher()
        publisher.publish(token)
        publisher.flush(timeout_s)
        reader = bus.reader("streamkit-health")
        try:
            if not _read_until(reader, token, timeout_s):
                msg = "produced a health token but could not consume it back"
                raise TransientError(msg)
            reader.commit()
        finally:
            reader.close()
        return f"round trip {1000 * (time.perf_counter() - started):.0f} ms"
    finally:
        bus.close()


def _read_until(reader: BusReader, token: bytes, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in reader.read(max_messages=100, timeout_s=0.5):
            if message.value == token:
                return True
    return False
