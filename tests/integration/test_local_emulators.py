"""The cloud emulators as local-stack services: start, real readiness, status, stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.localstack.emulators import GcsService, MotoService, PubSubService
from app.localstack.kinesalite import KinesaliteService
from app.localstack.netcheck import port_open
from app.localstack.paths import StackPaths
from app.localstack.stack import LocalStack
from app.localstack.tools import LocalStackError
from app.settings import Settings
from tests.support.sockets import listening, loopback

pytestmark = [pytest.mark.integration, pytest.mark.emulators]

MOTO_PORT, GCS_PORT, KINESALITE_PORT = 15055, 19023, 14567
PUBSUB_PORT = 18085
DETAILS = ("S3 and Kinesis", "GCS JSON API", "Kinesis (faithful reshards)", "Pub/Sub gRPC API")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    for port in (MOTO_PORT, GCS_PORT, KINESALITE_PORT, PUBSUB_PORT):
        if port_open("127.0.0.1", port):
            pytest.fail(f"port {port} is in use; this test starts its own emulators there")
    return Settings(
        state_dir=tmp_path / "state",
        local={
            "emulators": True,
            "moto_port": MOTO_PORT,
            "gcs_port": GCS_PORT,
            "kinesalite_port": KINESALITE_PORT,
            "pubsub_port": PUBSUB_PORT,
        },
    )


def test_each_emulator_starts_answers_its_api_and_stops(settings: Settings) -> None:
    paths = StackPaths.of(settings)
    emulators = (
        MotoService(settings, paths),
        GcsService(settings, paths),
        KinesaliteService(settings, paths),
        PubSubService(settings, paths),
    )
    for service in emulators:
        service.prepare(print)  # kinesalite: npm install into the cache, the first time
        record = service.start(print)
        try:
            detail = service.wait_ready(60, print)
            assert detail in DETAILS
            # Issue 8: emulators are for this machine, on the loopback address only.
            found = listening(record.pid)
            assert service.port in {port for _, port in found}, found
            assert all(loopback(ip) for ip, _ in found), found
            status = service.status()
            assert status.healthy and status.pid == record.pid
        finally:
            service.stop(print)
        assert not port_open("127.0.0.1", service.port)
        assert service.status().state == "stopped"


def test_the_stack_lists_emulators_only_when_enabled_or_running(settings: Settings) -> None:
    names = [s.name for s in LocalStack(settings).services]
    assert names == ["kafka", "mongo", "moto", "gcs", "kinesalite", "pubsub"]
    off = settings.model_copy(
        update={"local": settings.local.model_copy(update={"emulators": False})}
    )
    assert [s.name for s in LocalStack(off).services] == ["kafka", "mongo"]
    moto = MotoService(off, StackPaths.of(off))
    moto.start(print)
    try:
        moto.wait_ready(60, print)
        # Started earlier (by `up --emulators`): `status` and `down` still see it.
        assert [s.name for s in LocalStack(off).services] == ["kafka", "mongo", "moto"]
    finally:
        moto.stop(print)


def test_pstest_is_built_once_and_its_readiness_is_a_real_grpc_call(settings: Settings) -> None:
    service = PubSubService(settings, StackPaths.of(settings))
    service.prepare(print)  # go build into the cache, the first time
    binary = service.binary
    service.prepare(print)
    assert service.binary == binary  # named by a hash of the wrapper's sources: cached
    # Something that accepts TCP but does not speak Pub/Sub is not ready.
    with socket.create_server(("127.0.0.1", PUBSUB_PORT)):
        with pytest.raises(LocalStackError, match="did not answer as Pub/Sub"):
            service.check(2)
