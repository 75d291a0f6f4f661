"""``docker compose config`` validates infra/local/compose.yaml: Compose's own schema and rules.

No engine is needed for ``config``. The Compose plugin comes from infra/local/compose-cli,
which builds it with Go the first time (about 2 minutes) and is run here as the setup; a
machine without the ``docker`` CLI fails these tests rather than skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "infra" / "local" / "compose.yaml"
INSTALLER = ROOT / "infra" / "local" / "compose-cli"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def docker_env() -> Iterator[dict[str, str]]:
    """The environment in which ``docker compose`` works: DOCKER_CONFIG holds the plugin."""
    if shutil.which("docker") is None:
        pytest.fail("the docker CLI is not on PATH; install it (no engine is needed)")
    done = subprocess.run(  # noqa: S603 - the project's own script
        [str(INSTALLER)], capture_output=True, text=True, timeout=840, check=False
    )
    assert done.returncode == 0, f"{INSTALLER.name} failed:\n{done.stderr[-3000:]}"
    env = dict(os.environ, DOCKER_CONFIG=done.stdout.strip().splitlines()[-1])
    yield env


def compose(
    env: dict[str, str], *args: str, file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        ["docker", "compose", "-f", str(file), *args],  # noqa: S607 - the docker CLI on PATH
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("profiles", [[], ["--profile", "*"]], ids=["stack", "all-profiles"])
def test_the_compose_file_is_valid(docker_env: dict[str, str], profiles: list[str]) -> None:
    done = compose(docker_env, *profiles, "config", "--quiet")
    assert done.returncode == 0, done.stderr


def test_compose_reads_the_app_services_as_intended(docker_env: dict[str, str]) -> None:
    done = compose(docker_env, "--profile", "*", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert {"kafka", "kafka-topics", "mongo", "api", "dashboard", "prometheus", "grafana"} <= set(
        services
    )
    for name in ("api", "dashboard"):
        build = services[name]["build"]
        assert Path(build["context"]) == ROOT and build["target"] == name
        (port,) = services[name]["ports"]
        assert (port["host_ip"], port["target"]) == ("127.0.0.1", 8080)
    assert services["api"]["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert services["dashboard"]["depends_on"]["api"]["condition"] == "service_healthy"
    # Without the profile, `up` starts only the stack, as `task local-up` expects.
    stack = compose(docker_env, "config", "--services")
    assert set(stack.stdout.split()) == {"kafka", "kafka-topics", "mongo"}


def test_prometheus_and_grafana_mount_the_repository_files(docker_env: dict[str, str]) -> None:
    done = compose(docker_env, "--profile", "*", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    mounted: set[str] = set()
    for name, port in (("prometheus", 9090), ("grafana", 3000)):
        (published,) = services[name]["ports"]
        assert (published["host_ip"], published["target"]) == ("127.0.0.1", port)
        for volume in services[name]["volumes"]:
            if volume["type"] == "bind":
                source = Path(volume["source"])
                assert source.exists(), f"{name} mounts {source}, which is not in the repository"
                mounted.add(source.relative_to(ROOT).as_posix())
    assert {
        "infra/local/prometheus/prometheus.yml",
        "infra/local/prometheus/rules.yml",  # generated from app/alerts/rules.toml
        "infra/local/grafana/provisioning",
        "infra/local/grafana/dashboards",
    } <= mounted
    assert services["prometheus"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_a_broken_file_is_rejected(docker_env: dict[str, str], tmp_path: Path) -> None:
    # The validator must be able to say no: a dependency on a service that does not exist.
    broken = tmp_path / "compose.yaml"
    text = COMPOSE_FILE.read_text()
    assert "\n      api:\n        condition: service_healthy" in text
    broken.write_text(text.replace("\n      api:\n", "\n      apii:\n", 1))
    done = compose(docker_env, "--profile", "*", "config", "--quiet", file=broken)
    assert done.returncode != 0
    assert "apii" in done.stderr
