"""The one settings model, read from ``STREAMKIT_*`` environment variables.

Read it through :func:`get_settings` (cached, lazy), never at import time, so
tests and commands can set the environment first. Cloud credentials are not
settings: each SDK's default chain supplies them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters import secrets
from adapters.errors import ConfigurationError

#: The project checkout: the parent of the ``app`` package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PLACEHOLDERS = ("changeme", "change-me", "placeholder", "<password>")


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamkit"


class LocalStackSettings(BaseModel):
    """How ``streamkit local up`` runs the native stack (``STREAMKIT_LOCAL__*``)."""

    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = Field("768m", pattern=r"^\d+[mMgG]$")
    mongo_server: Literal["auto", "ferretdb", "mongod"] = "auto"
    start_timeout_s: float = Field(120.0, gt=0)
    events_partitions: int = Field(3, ge=1)
    deadletter_partitions: int = Field(1, ge=1)
    # The cloud emulators (moto for S3 and Kinesis, a GCS emulator, kinesalite for
    # Kinesis reshards) that the AWS and GCP bindings are tested against;
    # `local up --emulators` turns this on for one run.
    emulators: bool = False
    moto_port: int = Field(5055, ge=1, le=65535)
    gcs_port: int = Field(9023, ge=1, le=65535)
    kinesalite_port: int = Field(4567, ge=1, le=65535)
    pubsub_port: int = Field(8085, ge=1, le=65535)  # pstest, Google's Pub/Sub fake
    # A SASL_SSL listener next to the plain one (self-signed CA, SCRAM user made at
    # format time); `local up --secure-kafka` turns this on for one run.
    secure_kafka: bool = False
    kafka_secure_port: int = Field(9094, ge=1, le=65535)


class KafkaSettings(BaseModel):
    """Security of every Kafka client and of Spark's Kafka source (``STREAMKIT_KAFKA__*``).

    Empty means librdkafka's default (plaintext). An option in the Kafka URL's query
    (``?security.protocol=...``) wins over the same one here: a URL names one cluster.
    """

    security_protocol: Literal["", "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = ""
    # AWS_MSK_IAM: MSK's IAM auth (OAUTHBEARER signed by aws-msk-iam-sasl-signer-python,
    # in the [aws] extra), credentials from the AWS SDK's default chain.
    sasl_mechanism: Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"] = ""
    sasl_username: str = ""
    # A secret: never logged or shown; also a secret reference (aws-secretsmanager://...).
    sasl_password: SecretStr = SecretStr("")
    # PEM file of the CA(s) that signed the brokers' certificates; empty: the system's.
    ssl_ca_location: str = ""
    # Check that the broker's certificate names the host connected to (off only for tests).
    ssl_endpoint_identification: bool = True
    # The region MSK IAM tokens are signed for; empty: AWS_REGION.
    aws_region: str = ""

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.sasl_mechanism and not self.security_protocol.startswith("SASL_"):
            msg = (
                f"sasl_mechanism {self.sasl_mechanism} needs security_protocol SASL_SSL "
                "(or SASL_PLAINTEXT)"
            )
            raise ValueError(msg)
        if self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and not (
            self.sasl_username and self.sasl_password.get_secret_value()
        ):
            msg = f"sasl_mechanism {self.sasl_mechanism} needs sasl_username and sasl_password"
            raise ValueError(msg)
        if self.ssl_ca_location:
            self.ssl_ca_location = str(Path(self.ssl_ca_location).expanduser().resolve())
        return self

    def client_options(self) -> dict[str, str]:
        """The librdkafka names of what is set (the password in clear: for the clients only)."""
        pairs = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value(),
            "ssl.ca.location": self.ssl_ca_location,
            "sasl.aws.region": self.aws_region if self.sasl_mechanism == "AWS_MSK_IAM" else "",
        }
        options = {k: v for k, v in pairs.items() if v}
        if not self.ssl_endpoint_identification:
            options["ssl.endpoint.identification.algorithm"] = "none"
        return options

    def environment(self) -> dict[str, str]:
        """The ``STREAMKIT_KAFKA__*`` variables of what is set (the password included)."""
        values = {
            "SECURITY_PROTOCOL": self.security_protocol,
            "SASL_MECHANISM": self.sasl_mechanism,
            "SASL_USERNAME": self.sasl_username,
            "SASL_PASSWORD": self.sasl_password.get_secret_value(),
            "SSL_CA_LOCATION": self.ssl_ca_location,
            "AWS_REGION": self.aws_region,
        }
        env = {f"STREAMKIT_KAFKA__{k}": v for k, v in values.items() if v}
        if not self.ssl_endpoint_identification:
            env["STREAMKIT_KAFKA__SSL_ENDPOINT_IDENTIFICATION"] = "false"
        return env


class SparkSettings(BaseModel):
    """How the Spark session factory builds sessions (``STREAMKIT_SPARK__*``)."""

    master: str = "local[2]"
    shuffle_partitions: int = Field(2, ge=1)
    driver_memory: str = Field("2g", pattern=r"^\d+[mMgG]$")
    ui_enabled: bool = False
    # Comma-separated jar paths or globs; empty means "resolve the Kafka
    # connector from Maven Central into the cache" (the local default).
    jars: str = ""
    # More Spark settings, as JSON: '{"spark.sql.streaming.stateStore.rocksdb.
    # compactOnCommit": "true"}'. Applied last, so they win over the kit's own
    # (the state store, the job's one shuffle partition): for tuning and benchmarks.
    conf: dict[str, str] = Field(default_factory=dict)


class PipelineSettings(BaseModel):
    """How ``streamkit pipeline`` runs the stream job (``STREAMKIT_PIPELINE__*``)."""

    # 1 s: a batch at 2,000 events/s takes ~1 s, so a longer trigger only adds waiting
    # (docs/performance.md). The cloud stacks set 2 s: their object stores bill per request.
    trigger_seconds: float = Field(1.0, gt=0, le=3600)
    # Caps a batch while catching up on a backlog, so batches stay short.
    max_records_per_batch: int = Field(50_000, ge=1)
    hot_retention_days: float = Field(7.0, gt=0)
    # Seconds a sink write may keep failing transiently (the hot store, the archive or
    # the dead-letter bus down) before the batch fails; meanwhile it retries with
    # back-off (app.pipeline.backoff). 0: fail at the first error.
    outage_s: float = Field(600.0, ge=0)
    # Test-only: "<point>@<batch id>" kills the job there (app.pipeline.crash).
    crash_at: str = ""
    # CPU priority of the job (Unix nice, 0..19; the JVM inherits it). On a small
    # machine shared with the API, a positive value keeps API latency flat while
    # batches run: the job is throughput work, the API answers people.
    nice: int = Field(0, ge=0, le=19)
    # Append each batch's progress (Spark's phase durations, each sink's seconds,
    # offsets) as one JSON line to this file; empty: off. For benchmarks and tuning.
    progress_log: str = ""
    # Append the stream operator's own timings per batch (unpacking its state, dedup,
    # sessions, ...) as JSON lines to this file; empty: off. Local mode only (the
    # operator runs in Spark's Python workers, which must share this disk).
    operator_profile: str = ""


class ApiSettings(BaseModel):
    """How ``streamkit api`` (and its Lambda and Cloud Run forms) serves (``STREAMKIT_API__*``)."""

    # Comma-separated API keys; empty means no auth. Required in X-API-Key on
    # everything but /health when set. A secret: never logged or shown.
    keys: SecretStr = SecretStr("")
    # With STREAMKIT_ENV=production the API refuses to start without keys, unless this says
    # an open API is meant (a public read-only deployment): no deployment is open by accident.
    allow_open: bool = False
    # Requests per key (per client address without keys), in the ``limits``
    # notation: "1200/minute", "50/second"; empty disables the limit.
    rate_limit: str = "1200/minute"
    # Requests refused for a missing or unknown key, per client address, before 429s:
    # guessing keys gets slow. Empty disables it.
    auth_failure_limit: str = "60/minute"
    # Proxies in front that append the client to X-Forwarded-For (Cloud Run's front end: 1;
    # behind a load balancer too: 2). 0 takes the connection's address (uvicorn directly,
    # Lambda, where API Gateway gives the source address).
    proxy_hops: int = Field(0, ge=0, le=5)
    # Comma-separated origins allowed by CORS ("*" for any); empty: no CORS headers.
    cors_origins: str = ""
    # /health: the pipeline is "warn" after fresh_s without a batch or idle
    # report, "fail" after stale_s (wall clock, so replays of old data are fine).
    fresh_s: float = Field(60.0, gt=0)
    stale_s: float = Field(180.0, gt=0)
    # /health: consumer lag (records in the worst partition) that makes the pipeline "warn".
    lag_warn_records: int = Field(100_000, ge=0)
    # Seconds each dependency check of /health may take.
    check_timeout_s: float = Field(2.0, gt=0)
    # Ping the bus in /health (off where the API cannot reach the bus).
    check_bus: bool = True
    # Seconds a hot-store read is reused by later requests (0: never). The job
    # writes once per trigger (1 s locally), so 1 s adds at most 1 s of staleness.
    cache_s: float = Field(1.0, ge=0, le=60)
    # Past cache_s, a read is still served for this long while one background load
    # refreshes it; older than that, requests wait for a fresh read. Bounds the staleness
    # when the store is slow: a refresh normally takes milliseconds, but FerretDB with a
    # busy job on two cores took seconds, and a tighter bound made requests wait on it.
    cache_stale_s: float = Field(30.0, ge=0, le=300)
    # Seconds a /health answer is reused (0: never): /health is open to anyone, and each
    # check pings the hot store and reads the job's report.
    health_cache_s: float = Field(1.0, ge=0, le=30)
    # Path prefix API Gateway leaves before the routes (a named stage, "/prod");
    # the Lambda handler strips it. Empty for $default stages, function URLs, servers.
    base_path: str = ""

    def key_list(self) -> list[str]:
        """The configured API keys (empty: auth is off)."""
        return [k.strip() for k in self.keys.get_secret_value().split(",") if k.strip()]

    def refuse_open(self, env: str) -> None:
        """``ConfigurationError`` naming the fix when production would serve without keys."""
        if env == "production" and not self.key_list() and not self.allow_open:
            msg = (
                "STREAMKIT_ENV=production and no STREAMKIT_API__KEYS: the API would be open to "
                "anyone; set the keys, or STREAMKIT_API__ALLOW_OPEN=true to serve it open on "
                "purpose"
            )
            raise ConfigurationError(msg)

    def origin_list(self) -> list[str]:
        """The CORS origins (empty: CORS is off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


class DashboardSettings(BaseModel):
    """How ``streamkit dashboard`` reads and flags (``STREAMKIT_DASHBOARD__*``)."""

    api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr = SecretStr("")
    refresh_s: float = Field(5.0, ge=1)
    # Anomaly rule, shared with the alerts: |z| > z_threshold against the
    # trailing z_window_minutes minutes, two-sided.
    z_threshold: float = Field(3.0, gt=0)
    z_window_minutes: int = Field(60, ge=5, le=10_080)


class AlertSettings(BaseModel):
    """How ``streamkit alerts`` evaluates and notifies (``STREAMKIT_ALERTS__*``)."""

    # The rules (TOML); empty: the packaged app/alerts/rules.toml (docs/monitoring.md).
    rules_file: str = ""
    # Seconds between two evaluation rounds.
    interval_s: float = Field(10.0, ge=0.2, le=3600)
    # Slack-compatible webhook called on firing and on resolve; empty: none. A secret (the
    # path of a Slack webhook is its key): never logged or shown.
    webhook_url: SecretStr = SecretStr("")
    # Days the alert history is kept.
    history_days: int = Field(7, ge=1, le=3650)


class Settings(BaseSettings):
    """Every knob of streamkit, with defaults that run the local stack."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMKIT_", env_nested_delimiter="__", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    bus_url: str = "kafka://127.0.0.1:9092/events_raw"
    deadletter_url: str = "kafka://127.0.0.1:9092/events_deadletter"
    # A secret: a production URL carries the database password.
    hot_store_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/streamkit")
    archive_url: str = ""  # default: <state_dir>/archive
    # A path, or a URL the cluster writes (s3://, gs://); default: <state_dir>/checkpoints.
    checkpoint_dir: str = ""
    state_dir: Path = PROJECT_ROOT / ".streamkit"
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    local: LocalStackSettings = Field(default_factory=LocalStackSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    #: Secret settings given as references (adapters/secrets.py): name -> the reference,
    #: handed on to child processes instead of the value it resolved to.
    _references: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _fill_and_check(self) -> Settings:
        self._resolve_references()
        self.state_dir = self.state_dir.expanduser().resolve()
        self.cache_dir = self.cache_dir.expanduser().resolve()
        if not self.archive_url:
            self.archive_url = (self.state_dir / "archive").as_uri()
        if not self.checkpoint_dir:
            self.checkpoint_dir = str(self.state_dir / "checkpoints")
        elif not _is_url(self.checkpoint_dir):
            self.checkpoint_dir = str(Path(self.checkpoint_dir).expanduser().resolve())
        if self.env != "development":
            self._reject_placeholders()
        return self

    def _resolve_references(self) -> None:
        """Read secret settings that name a cloud secret manager instead of holding a value."""
        owners: list[tuple[str, BaseModel, str]] = [
            ("STREAMKIT_HOT_STORE_URL", self, "hot_store_url"),
            ("STREAMKIT_API__KEYS", self.api, "keys"),
            ("STREAMKIT_DASHBOARD__API_KEY", self.dashboard, "api_key"),
            ("STREAMKIT_KAFKA__SASL_PASSWORD", self.kafka, "sasl_password"),
        ]
        for variable, owner, name in owners:
            value: SecretStr = getattr(owner, name)
            if secrets.is_reference(value.get_secret_value()):
                self._references[variable] = value.get_secret_value()
                setattr(owner, name, SecretStr(secrets.resolve(value.get_secret_value(), variable)))

    def _reject_placeholders(self) -> None:
        for variable, value in (
            ("STREAMKIT_HOT_STORE_URL", self.hot_store_url),
            ("STREAMKIT_KAFKA__SASL_PASSWORD", self.kafka.sasl_password),
        ):
            self._reject_placeholder(variable, value.get_secret_value().lower())

    def _reject_placeholder(self, variable: str, secret: str) -> None:
        if any(p in secret for p in _PLACEHOLDERS):
            msg = (
                f"{variable} still holds a placeholder password; "
                f"set the real one (placeholders are accepted only when STREAMKIT_ENV=development, "
                f"not {self.env!r})"
            )
            raise ValueError(msg)

    def environment(self) -> dict[str, str]:
        """The ``STREAMKIT_*`` variables that make a child process see these ports and paths."""
        return {
            "STREAMKIT_BUS_URL": self.bus_url,
            "STREAMKIT_DEADLETTER_URL": self.deadletter_url,
            "STREAMKIT_HOT_STORE_URL": self._references.get(
                "STREAMKIT_HOT_STORE_URL", self.hot_store_url.get_secret_value()
            ),
            "STREAMKIT_ARCHIVE_URL": self.archive_url,
            "STREAMKIT_CHECKPOINT_DIR": self.checkpoint_dir,
            "STREAMKIT_STATE_DIR": str(self.state_dir),
            "STREAMKIT_CACHE_DIR": str(self.cache_dir),
            "STREAMKIT_PIPELINE__NICE": str(self.pipeline.nice),
            **self.kafka.environment(),
            **{k: v for k, v in self._references.items() if k.startswith("STREAMKIT_KAFKA__")},
        }

    @property
    def checkpoints(self) -> Path | None:
        """The checkpoint root on this machine's disk; None when it is a URL (s3://, gs://)."""
        return None if _is_url(self.checkpoint_dir) else Path(self.checkpoint_dir)


def _is_url(location: str) -> bool:
    """True for ``scheme://...`` (a single letter before ``:`` is a Windows drive)."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and len(scheme) > 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
