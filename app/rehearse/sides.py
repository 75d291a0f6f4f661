"""The two binding sets a rehearsal runs: where each side's bus, hot store and archive are.

Offline, each cloud side is its emulators from ``streamkit local up
--emulators`` (Kinesis and S3 on moto, Pub/Sub on pstest, GCS on the GCS
emulator); the hot store is a database of its own on the local MongoDB-wire
server, standing in for DocumentDB or Atlas. Every side gets fresh topics,
streams, buckets and databases named after the run, created before and
removed after (unless kept).

Against real endpoints, a side is read from a file of ``STREAMKIT_*``
variables (``--to-env``), such as the outputs of a Pulumi stack. Those
resources are the user's: the rehearsal neither creates nor deletes them, and
refuses a hot store that already holds minute KPIs (the comparison would mix
in old numbers).
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from adapters.errors import ConfigurationError, StreamkitError
from adapters.filesystems import open_filesystem
from adapters.registry import open_bus, open_hot_store
from adapters.urls import mask_url
from app.settings import Settings

Kind = Literal["local", "aws", "gcp"]
KINDS: tuple[Kind, ...] = ("local", "aws", "gcp")
#: The emulators check no signature, but boto3 and pyarrow want some credentials.
_EMULATOR_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_URL_VARIABLES = (
    "STREAMKIT_BUS_URL",
    "STREAMKIT_DEADLETTER_URL",
    "STREAMKIT_HOT_STORE_URL",
    "STREAMKIT_ARCHIVE_URL",
)


@dataclass
class Side:
    """One binding set: its ``STREAMKIT_*`` environment and what to clean up after."""

    name: str
    kind: Kind
    env: dict[str, str]
    #: True when the rehearsal made the resources (emulators) and removes them.
    owned: bool
    workdir: Path
    #: Buckets made on an emulator, as (kind, endpoint, bucket), removed after.
    buckets: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def bindings(self) -> dict[str, str]:
        """Each port's URL, passwords masked: what the report names."""
        return {
            "bus": mask_url(self.env["STREAMKIT_BUS_URL"]),
            "dead letters": mask_url(self.env["STREAMKIT_DEADLETTER_URL"]),
            "hot store": mask_url(self.env["STREAMKIT_HOT_STORE_URL"]),
            "archive": mask_url(self.env["STREAMKIT_ARCHIVE_URL"]),
        }

    @property
    def bus_url(self) -> str:
        """The events bus."""
        return self.env["STREAMKIT_BUS_URL"]


def offline_side(kind: Kind, settings: Settings, run_id: str, workdir: Path) -> Side:
    """``kind``'s binding set on this machine: the local stack, or the emulators standing in."""
    local = settings.local
    base = settings.hot_store_url.get_secret_value().split("?")[0].rsplit("/", 1)[0]
    name = f"rh_{run_id}_{kind}"
    side_dir = workdir / kind
    env = {
        "STREAMKIT_HOT_STORE_URL": f"{base}/{name}",
        "STREAMKIT_CHECKPOINT_DIR": str(side_dir / "checkpoints"),
        "STREAMKIT_STATE_DIR": str(side_dir / "state"),
    }
    side = Side(kind, kind, env, owned=True, workdir=side_dir)
    if kind == "local":
        bootstrap = urlsplit(settings.bus_url).netloc  # the local stack's broker
        env["STREAMKIT_BUS_URL"] = f"kafka://{bootstrap}/{name}_events"
        env["STREAMKIT_DEADLETTER_URL"] = f"kafka://{bootstrap}/{name}_deadletter"
        env["STREAMKIT_ARCHIVE_URL"] = (side_dir / "archive").as_uri()
    elif kind == "aws":
        moto = f"127.0.0.1:{local.moto_port}"
        where = f"region=us-east-1&endpoint=http://{moto}"
        env["STREAMKIT_BUS_URL"] = f"kinesis://{name}_events?{where}"
        env["STREAMKIT_DEADLETTER_URL"] = f"kinesis://{name}_deadletter?{where}"
        bucket = f"rh-{run_id}-aws"
        env["STREAMKIT_ARCHIVE_URL"] = (
            f"s3://{bucket}/archive?endpoint_override={moto}&scheme=http&region=us-east-1"
        )
        env.update(_EMULATOR_AWS_ENV)
        side.buckets.append(("s3", moto, bucket))
    else:
        pubsub = f"127.0.0.1:{local.pubsub_port}"
        gcs = f"127.0.0.1:{local.gcs_port}"
        env["STREAMKIT_BUS_URL"] = f"pubsub://streamkit/{name}_events?endpoint={pubsub}"
        env["STREAMKIT_DEADLETTER_URL"] = f"pubsub://streamkit/{name}_deadletter?endpoint={pubsub}"
        bucket = f"rh-{run_id}-gcp"
        env["STREAMKIT_ARCHIVE_URL"] = (
            f"gs://{bucket}/archive?endpoint_override={gcs}&scheme=http"
            "&anonymous=true&project_id=streamkit"
        )
        side.buckets.append(("gs", gcs, bucket))
    return side


def side_from_env_file(kind: Kind, path: Path, workdir: Path) -> Side:
    """A side on real endpoints, from a file of ``STREAMKIT_*=value`` lines."""
    env = read_env_file(path)
    missing = [v for v in _URL_VARIABLES if not env.get(v)]
    if missing:
        msg = f"{path} must set {', '.join(missing)} (e.g. from the stack's outputs)"
        raise ConfigurationError(msg)
    side_dir = workdir / kind
    env.setdefault("STREAMKIT_CHECKPOINT_DIR", str(side_dir / "checkpoints"))
    env.setdefault("STREAMKIT_STATE_DIR", str(side_dir / "state"))
    return Side(f"{kind} ({path.name})", kind, env, owned=False, workdir=side_dir)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``export`` and quotes allowed, ``#`` comments skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        msg = f"cannot read {path}: {e.strerror}"
        raise ConfigurationError(msg) from e
    env: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            msg = f"{path}:{number}: expected KEY=value, got {raw.strip()[:60]!r}"
            raise ConfigurationError(msg)
        env[key.strip()] = value.strip().strip("'\"")
    return env


def prepare(side: Side, partitions: int) -> None:
    """Create an offline side's topics or streams and bucket; check a real side is fresh."""
    side.workdir.mkdir(parents=True, exist_ok=True)
    with credentials_of(side):
        if side.owned:
            _create(side, partitions)
            return
        store = open_hot_store(side.env["STREAMKIT_HOT_STORE_URL"])
        try:
            if store.latest("kpi_minutes", "minute") is not None:
                msg = (
                    f"the hot store of side {side.name} already holds minute KPIs: point it at"
                    " an empty database, or the comparison would include old numbers"
                )
                raise ConfigurationError(msg)
        finally:
            store.close()


def _create(side: Side, partitions: int) -> None:
    for variable, count in (("STREAMKIT_BUS_URL", partitions), ("STREAMKIT_DEADLETTER_URL", 1)):
        bus = open_bus(side.env[variable])
        try:
            bus.ensure(count)
        finally:
            bus.close()
    for scheme, _endpoint, bucket in side.buckets:
        admin = "&allow_bucket_creation=true" if scheme == "s3" else ""
        filesystem, _ = open_filesystem(side.env["STREAMKIT_ARCHIVE_URL"] + admin)
        filesystem.create_dir(bucket)


def clean_up(side: Side) -> list[str]:
    """Remove what the rehearsal made for ``side``; returns what could not be removed."""
    if not side.owned:
        return []
    problems: list[str] = []
    with credentials_of(side):
        for variable in ("STREAMKIT_BUS_URL", "STREAMKIT_DEADLETTER_URL"):
            try:
                bus = open_bus(side.env[variable])
                bus.delete()
                bus.close()
            except StreamkitError as e:
                problems.append(f"{side.name} {variable}: {e}")
        try:
            store = open_hot_store(side.env["STREAMKIT_HOT_STORE_URL"])
            for collection in ("kpi_minutes", "sessions", "pipeline_health"):
                store.drop(collection)
            store.close()
        except StreamkitError as e:
            problems.append(f"{side.name} hot store: {e}")
        for scheme, endpoint, bucket in side.buckets:
            try:
                _delete_bucket(scheme, endpoint, bucket, side)
            except (OSError, StreamkitError) as e:
                problems.append(f"{side.name} bucket {bucket}: {e}")
    return problems


def _delete_bucket(scheme: str, endpoint: str, bucket: str, side: Side) -> None:
    if scheme == "s3":
        filesystem, _ = open_filesystem(
            side.env["STREAMKIT_ARCHIVE_URL"] + "&allow_bucket_deletion=true"
        )
        filesystem.delete_dir(bucket)
        return
    delete_emulator_gcs_bucket(endpoint, bucket)


def delete_emulator_gcs_bucket(endpoint: str, bucket: str) -> None:
    """Empty and delete ``bucket`` through a GCS emulator's JSON API.

    Not through pyarrow: deleting a whole bucket that way never returns on
    gcp-storage-emulator (it retries an answer the emulator does not give).
    """
    base = f"http://{endpoint}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}"
    with urllib.request.urlopen(f"{base}/o", timeout=10) as listing:  # noqa: S310 - local emulator
        names = [item["name"] for item in json.load(listing).get("items", [])]
    for name in names:
        _http_delete(f"{base}/o/{urllib.parse.quote(name, safe='')}")
    _http_delete(base)


def _http_delete(url: str) -> None:
    request = urllib.request.Request(url, method="DELETE")  # noqa: S310 - local emulator
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


@contextmanager
def credentials_of(side: Side) -> Iterator[None]:
    """This process's SDK clients see the side's credential variables (the emulators' dummies).

    The side's child processes get them in their environment; the rehearsal's
    own clients (creating streams and buckets, reading results) need them too.
    """
    extra = {k: v for k, v in side.env.items() if k.startswith("AWS_")}
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
