"""The lifecycle of ``streamkit local`` on an isolated stack of its own.

A second stack, beside the one the suite runs against: its own state dir
(tmp), its own ports (Kafka 19092/19093, FerretDB 27117), the shared caches
(jars, FerretDB binary). The module brings it up once and always purges it.
Tests run in file order: up, warm up, the CLI, crash recovery, down, and a
port held by a foreign process on a fresh stack.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from adapters.ports import BusMessage
from adapters.registry import open_bus, open_hot_store
from app.localstack.netcheck import port_open
from app.localstack.processes import ProcessRecord, kill_hard
from app.localstack.service import ServiceStatus
from app.localstack.stack import LocalStack
from app.localstack.tools import LocalStackError
from app.settings import Settings
from tests.support.sockets import listening as sockets
from tests.support.sockets import loopback

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.mongo]

HOST = "127.0.0.1"
KAFKA_PORT, CONTROLLER_PORT, MONGO_PORT = 19092, 19093, 27117
PORTS = (KAFKA_PORT, CONTROLLER_PORT, MONGO_PORT)
BUS_URL = f"kafka://{HOST}:{KAFKA_PORT}/events_raw"
DEADLETTER_URL = f"kafka://{HOST}:{KAFKA_PORT}/events_deadletter"
HOT_STORE_URL = f"mongodb://{HOST}:{MONGO_PORT}/streamkit"
STREAMKIT = Path(sys.executable).with_name("streamkit")
WARM_START_S = 60.0  # the figure for an `up` with everything running


def isolated_settings(state_dir: Path) -> Settings:
    """The stack's settings, built directly (never through get_settings' cache)."""
    return Settings(
        env="development",
        state_dir=state_dir,
        bus_url=BUS_URL,
        deadletter_url=DEADLETTER_URL,
        hot_store_url=HOT_STORE_URL,
        local={"kafka_controller_port": CONTROLLER_PORT},
    )


def progress(message: str) -> None:
    print(f"[isolated stack] {message}", flush=True)


def require_free_ports(*ports: int) -> None:
    held = [p for p in ports if port_open(HOST, p)]
    if held:
        pytest.fail(
            f"port(s) {held} on {HOST} are in use; this test starts its own stack there "
            "(is a previous run's stack still up?)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    require_free_ports(*PORTS)
    local = LocalStack(isolated_settings(tmp_path_factory.mktemp("stack") / "state"), progress)
    try:
        started = time.monotonic()
        local.up()
        progress(f"cold up took {time.monotonic() - started:.1f} s")
        yield local
    finally:
        local.down(purge=True)


def by_name(statuses: list[ServiceStatus]) -> dict[str, ServiceStatus]:
    return {s.name: s for s in statuses}


def record_of(local: LocalStack, name: str) -> ProcessRecord:
    service = {s.name: s for s in local.services}[name]
    record = service.running()
    assert record is not None, f"{name} is not running"
    return record


def assert_healthy(statuses: list[ServiceStatus]) -> dict[str, ServiceStatus]:
    found = by_name(statuses)
    assert set(found) == {"kafka", "mongo"}
    for s in found.values():
        assert s.healthy, f"{s.name}: {s.detail}"
        assert s.state == "healthy"
        assert s.pid is not None
        assert psutil.pid_exists(s.pid)
    assert found["kafka"].address == f"{HOST}:{KAFKA_PORT}"
    assert found["mongo"].address == f"{HOST}:{MONGO_PORT}"
    return found


def partitions(url: str) -> int:
    bus = open_bus(url)
    try:
        return bus.partitions()
    finally:
        bus.close()


def run_cli(local: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``streamkit local ARGS`` in a subprocess, configured only through env vars."""
    assert STREAMKIT.is_file(), f"{STREAMKIT} is missing: install the project into the venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env.update(
        STREAMKIT_STATE_DIR=str(local.settings.state_dir),
        STREAMKIT_BUS_URL=BUS_URL,
        STREAMKIT_DEADLETTER_URL=DEADLETTER_URL,
        STREAMKIT_HOT_STORE_URL=HOT_STORE_URL,
        STREAMKIT_LOCAL__KAFKA_CONTROLLER_PORT=str(CONTROLLER_PORT),
    )
    return subprocess.run(  # noqa: S603
        [str(STREAMKIT), "local", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    """``{service: [name, state, address, pid, ...]}`` from the status table."""
    lines = stdout.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("SERVICE"))
    return {line.split()[0]: line.split() for line in lines[header + 1 :] if line.strip()}


def read_all(url: str, group: str, wanted: set[bytes], timeout_s: float = 90) -> set[bytes]:
    """Values of ``wanted`` read from the beginning by a fresh consumer group."""
    bus = open_bus(url)
    reader = bus.reader(group, from_beginning=True)
    seen: set[bytes] = set()
    messages: list[BusMessage] = []
    try:
        deadline = time.monotonic() + timeout_s
        while not wanted <= seen and time.monotonic() < deadline:
            messages = reader.read(max_messages=1000, timeout_s=1.0)
            seen.update(m.value for m in messages if m.value in wanted)
    finally:
        reader.close()
        bus.close()
    return seen


# --------------------------------------------------------------------------- up


@pytest.mark.timeout(300)
def test_up_starts_healthy_services_and_creates_the_topics(stack: LocalStack) -> None:
    found = assert_healthy(stack.status())
    assert found["kafka"].pid == record_of(stack, "kafka").pid
    assert found["mongo"].pid == record_of(stack, "mongo").pid
    assert "round trip" in found["kafka"].detail
    assert "ping" in found["mongo"].detail
    assert partitions(BUS_URL) == 3
    assert partitions(DEADLETTER_URL) == 1
    for name in ("kafka", "mongo"):
        assert stack.paths.pid_file(name).is_file()
        assert str(stack.settings.state_dir) in stack.paths.pid_file(name).as_posix()


@pytest.mark.timeout(300)
def test_a_warm_up_is_quick_and_keeps_the_processes(stack: LocalStack) -> None:
    before = {s.name: s.pid for s in assert_healthy(stack.status()).values()}
    started = time.monotonic()
    statuses = stack.up()
    elapsed = time.monotonic() - started
    progress(f"warm up took {elapsed:.2f} s")
    after = {s.name: s.pid for s in assert_healthy(statuses).values()}
    assert after == before
    assert elapsed < WARM_START_S
    assert partitions(BUS_URL) == 3


@pytest.mark.timeout(300)
def test_the_cli_status_shows_both_services_healthy(stack: LocalStack) -> None:
    pids = {s.name: s.pid for s in assert_healthy(stack.status()).values()}
    result = run_cli(stack, "status")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["kafka"][1:4] == ["healthy", f"{HOST}:{KAFKA_PORT}", str(pids["kafka"])]
    assert rows["mongo"][1:4] == ["healthy", f"{HOST}:{MONGO_PORT}", str(pids["mongo"])]


@pytest.mark.timeout(300)
def test_every_service_listens_on_the_loopback_address_only(stack: LocalStack) -> None:
    # Issue 8: local services are for this machine; nothing may listen on 0.0.0.0 or a LAN address.
    # The emulators, API, dashboard and Spark driver: test_local_emulators, test_loopback and
    # test_spark_kafka.
    listening = {name: sockets(record_of(stack, name).pid) for name in ("kafka", "mongo")}
    assert {port for found in listening.values() for _, port in found} >= set(PORTS)
    assert all(loopback(ip) for found in listening.values() for ip, _ in found), listening


# ---------------------------------------------------------------------- crashes


@pytest.mark.timeout(300)
def test_published_messages_survive_a_kafka_crash(stack: LocalStack) -> None:
    run = uuid.uuid4().hex[:8]
    values = {f"{run}:{i}".encode() for i in range(500)}
    bus = open_bus(BUS_URL)
    publisher = bus.publisher()
    for i, value in enumerate(sorted(values)):
        publisher.publish(value, key=f"user-{i % 13}".encode())
    report = publisher.flush(60)
    assert report.ok, report.failed
    assert report.delivered == len(values)
    publisher.close()
    bus.close()

    crashed = record_of(stack, "kafka")
    kill_hard(crashed)
    assert not crashed.alive()
    found = by_name(stack.status())
    assert found["kafka"].state == "stopped"
    assert found["kafka"].pid is None
    assert found["mongo"].healthy

    restarted = assert_healthy(stack.up())
    assert restarted["kafka"].pid != crashed.pid
    assert read_all(BUS_URL, f"crash-{run}", values) == values
    assert partitions(BUS_URL) == 3
    assert partitions(DEADLETTER_URL) == 1


@pytest.mark.timeout(300)
def test_a_hot_store_document_survives_a_mongo_crash(stack: LocalStack) -> None:
    token = uuid.uuid4().hex
    store = open_hot_store(HOT_STORE_URL)
    try:
        store.upsert_many("crash_survival", [{"id": token, "n": 42}], key=["id"])
    finally:
        store.close()

    crashed = record_of(stack, "mongo")
    kill_hard(crashed)
    assert not crashed.alive()
    found = by_name(stack.status())
    assert found["mongo"].state == "stopped"
    assert found["kafka"].healthy

    restarted = assert_healthy(stack.up())
    assert restarted["mongo"].pid != crashed.pid
    store = open_hot_store(HOT_STORE_URL)
    try:
        docs = store.find_range("crash_survival", "id", token, token + "~")
    finally:
        store.close()
    assert [(d["id"], d["n"]) for d in docs] == [(token, 42)]


# ------------------------------------------------------------------------- down


def processes_under(path: Path) -> list[psutil.Process]:
    """Every live process whose command line names ``path`` (ours, by construction)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.mark.timeout(300)
def test_down_stops_everything_and_releases_the_ports(stack: LocalStack) -> None:
    records = {name: record_of(stack, name) for name in ("kafka", "mongo")}
    assert processes_under(stack.settings.state_dir)

    stack.down()

    for name, record in records.items():
        assert not record.alive(), f"{name} (pid {record.pid}) still runs"
        assert not stack.paths.pid_file(name).exists()
    assert processes_under(stack.settings.state_dir) == []
    for port in PORTS:
        assert not port_open(HOST, port), f"port {port} is still held"
    assert all(s.state == "stopped" for s in stack.status())

    stack.down()  # a second down is harmless
    assert all(s.state == "stopped" for s in stack.status())


@pytest.mark.timeout(300)
def test_the_cli_status_exits_1_when_the_stack_is_down(stack: LocalStack) -> None:
    assert all(s.state == "stopped" for s in stack.status()), "the stack should be down by now"
    result = run_cli(stack, "status")
    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["kafka"][1] == "stopped"
    assert rows["mongo"][1] == "stopped"


# ------------------------------------------------------------------ foreign port


@pytest.mark.timeout(300)
def test_up_refuses_a_port_taken_by_a_foreign_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_free_ports(*PORTS)
    fresh = LocalStack(isolated_settings(tmp_path_factory.mktemp("fresh") / "state"), progress)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        squatter.bind((HOST, MONGO_PORT))
        squatter.listen()
        with pytest.raises(LocalStackError) as info:
            fresh.up()
        message = str(info.value)
        print(message)
        assert f"port {MONGO_PORT}" in message
        assert "taken" in message
        assert f"pid {os.getpid()}" in message
        # Nothing was started: a refused `up` leaves no half stack behind.
        assert all(s.state == "stopped" for s in fresh.status())
        assert not port_open(HOST, KAFKA_PORT)
        assert not port_open(HOST, CONTROLLER_PORT)
    finally:
        squatter.close()
        fresh.down(purge=True)
    assert not port_open(HOST, MONGO_PORT)
