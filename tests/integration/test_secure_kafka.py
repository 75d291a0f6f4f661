"""The dead-letter replay and the stream job over the local broker's SASL_SSL listener.

`streamkit local up --secure-kafka` serves the broker on a SASL_SSL listener too (a
self-signed CA, SCRAM users made at format time). Every command here gets only that
listener's address and the ``STREAMKIT_KAFKA__*`` settings: the replay producer, the
job's Spark Kafka source and its dead-letter producer, and `deadletter replay`'s
consumer and producer all authenticate with SCRAM-SHA-512 over TLS, and none of them
prints the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.errors import StreamkitError
from adapters.ports import Bus
from adapters.registry import open_bus
from app.deadletter.replay import REPLAY_HEADER
from app.localstack.kafka_secure import MECHANISMS, SecureListener
from app.settings import Settings
from tests.conftest import require_tcp
from tests.integration.test_deadletter_kafka import FIX, GOOD, RENAMED, _counted, _events_file
from tests.support.pipeline_run import Run, isolated, read_all

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def listener() -> SecureListener:
    """The SASL_SSL listener of the stack this run uses; a failure when it is not served."""
    settings = Settings()
    found = SecureListener(
        settings.state_dir / "kafka" / "secure", "127.0.0.1", settings.local.kafka_secure_port
    )
    require_tcp(f"kafka://{found.address}", "Kafka's SASL_SSL listener (local up --secure-kafka)")
    if not found.password_file.is_file():
        pytest.fail(f"no {found.password_file}: run `streamkit local up --secure-kafka`")
    return found


def _secure(bus: Bus, listener: SecureListener) -> Bus:
    return open_bus(
        f"kafka://{listener.address}/{bus.topic}",  # type: ignore[attr-defined]
        security=listener.client_options(),
    )


@pytest.fixture
def run(topics: tuple[Bus, Bus], listener: SecureListener, tmp_path: Path) -> Iterator[Run]:
    secure = (_secure(topics[0], listener), _secure(topics[1], listener))
    with isolated(secure, tmp_path) as setup:
        yield setup
    for bus in secure:
        bus.close()


def _env(listener: SecureListener) -> dict[str, str]:
    return {
        "STREAMKIT_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "STREAMKIT_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "STREAMKIT_KAFKA__SASL_USERNAME": "streamkit",
        "STREAMKIT_KAFKA__SASL_PASSWORD": listener.password(),
        "STREAMKIT_KAFKA__SSL_CA_LOCATION": str(listener.ca_file),
    }


def test_replay_and_job_over_sasl_ssl(run: Run, listener: SecureListener, tmp_path: Path) -> None:
    env, password = _env(listener), listener.password()
    assert run.events.url.startswith(f"kafka://{listener.address}/")
    data, fix = tmp_path / "events.jsonl", tmp_path / "fix.py"
    _events_file(data)
    fix.write_text(FIX)
    outputs = []

    def command(*args: str) -> str:
        done = run.command(*args, **env)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    command("replay", str(data), "--rate", "max")
    command("pipeline", "--once")
    assert _counted(run) == GOOD
    assert f"replayed {RENAMED} of {RENAMED} dead letters" in command(
        "deadletter", "replay", "--fix", str(fix), "--wait", "3"
    )
    command("pipeline", "--once")
    assert _counted(run) == GOOD + RENAMED
    # Read back over SASL_SSL too: the replayed events carry their dead letter's id.
    replayed = [m for m in read_all(run.events) if dict(m.headers).get(REPLAY_HEADER)]
    assert len(replayed) == RENAMED
    for output in outputs:
        assert password not in output
    for path in tmp_path.rglob("*"):  # checkpoints, state, archive, logs
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert password.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_each_mechanism_round_trips(listener: SecureListener, mechanism: str) -> None:
    bus = open_bus(
        f"kafka://{listener.address}/_streamkit_health",
        security=listener.client_options(mechanism),
    )
    try:
        assert bus.ping(10) < 10
        publisher = bus.publisher()
        publisher.publish(mechanism.encode())
        assert publisher.flush(30).ok
    finally:
        bus.close()


def assert_refused(listener: SecureListener, **override: str) -> None:
    """A client with ``override`` on top of the right options cannot reach the listener."""
    options = {**listener.client_options(), **override}
    bus = open_bus(f"kafka://{listener.address}/_streamkit_health", security=options)
    try:
        with pytest.raises(StreamkitError):
            bus.ping(3)
    finally:
        bus.close()


def test_a_wrong_password_is_refused(listener: SecureListener) -> None:
    assert_refused(listener, **{"sasl.password": "not-the-password"})


def test_an_unknown_ca_is_refused(listener: SecureListener, tmp_path: Path) -> None:
    from app.localstack.certs import make_local_certificates

    other = make_local_certificates(tmp_path / "other")
    assert_refused(listener, **{"ssl.ca.location": str(other.ca_file)})
