"""Pulumi programs run under mocks, once per session, each in a fresh interpreter.

``pulumi.runtime.set_mocks`` is process-wide, so every program (and each fixtures module) runs
through ``infra.policy.harness`` in a subprocess of its own; the JSON report it prints (the
recorded resources, the stack outputs and the policy violations) is parsed here and shared
by the tests of the session. The files a stack uploads are temporary stand-ins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.policy.harness import run_in_subprocess
from infra.policy.recorded import Resource, Resources

WHEEL = "streamkit-0.1.0-py3-none-any.whl"
PROD_DASHBOARD_HOST = "dashboard.example.com"


@dataclass(frozen=True)
class StackRun:
    """One program run: what it registered, exported, warned of, and what the checks found."""

    resources: Resources
    outputs: dict[str, Any]
    violations: list[dict[str, str]]
    warnings: list[str] = field(default_factory=list)

    def of_type(self, token: str) -> list[Resource]:
        return self.resources.of_type(token)

    def one(self, token: str, name_contains: str = "") -> Resource:
        found = [r for r in self.of_type(token) if name_contains in r.name]
        assert len(found) == 1, (
            f"expected one {token} named *{name_contains}*, got {[r.name for r in found]}"
        )
        return found[0]

    def components(self, cloud: str) -> set[str]:
        """The names of the program's own components (types ``streamkit:<cloud>:<Name>``)."""
        prefix = f"streamkit:{cloud}:"
        return {r.type.removeprefix(prefix) for r in self.resources if r.type.startswith(prefix)}


def run_stack(program: str, stack: str, *settings: str) -> StackRun:
    args = [program, "--stack", stack]
    for item in settings:
        args += ["--set", item]
    report = run_in_subprocess(*args)
    return StackRun(
        Resources.from_json(report["resources"]),
        report["outputs"],
        report["violations"],
        report.get("warnings", []),
    )


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stand-ins for the files a stack uploads (Lambda zip, wheel, job environment, CA)."""
    root = tmp_path_factory.mktemp("assets")
    files = {
        "lambda": root / "lambda.zip",
        "wheel": root / WHEEL,
        "environment": root / "streamkit-job-env.tar.gz",
        "ca": root / "global-bundle.pem",
    }
    for path in files.values():
        path.write_bytes(b"stand-in for " + path.name.encode())
    return files


def _job_files(assets: dict[str, Path]) -> list[str]:
    return [f"job.wheel={assets['wheel']}", f"job.environmentArchive={assets['environment']}"]


def _aws_files(assets: dict[str, Path]) -> list[str]:
    return [
        f"api.lambdaZip={assets['lambda']}",
        f"hotStore.caBundle={assets['ca']}",
        *_job_files(assets),
    ]


def _gcp_required(assets: dict[str, Path]) -> list[str]:
    return [
        "gcp:project=streamkit-test",
        "hotStore.atlasOrgId=5f00000000000000000000aa",
        "monitoring.billingAccount=000000-AAAAAA-000000",
        "monitoring.alertEmail=oncall@example.com",
        *_job_files(assets),
    ]


@pytest.fixture(scope="session")
def aws_dev(assets: dict[str, Path]) -> StackRun:
    return run_stack("infra/aws", "dev", *_aws_files(assets))


@pytest.fixture(scope="session")
def aws_prod(assets: dict[str, Path]) -> StackRun:
    """prod, with a given dashboard image, a certificate and Cognito sign-in: the other branches.

    Pulumi.prod.yaml leaves the certificate and the host name unset (a real `pulumi up` stops
    until they are), so they are given here.
    """
    return run_stack(
        "infra/aws",
        "prod",
        *_aws_files(assets),
        "dashboard.image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/streamkit-dashboard:1.0",
        "dashboard.certificateArn=arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        f"dashboard.domainName={PROD_DASHBOARD_HOST}",
        "monitoring.alertEmail=oncall@example.com",
    )


@pytest.fixture(scope="session")
def gcp_dev(assets: dict[str, Path]) -> StackRun:
    return run_stack("infra/gcp", "dev", *_gcp_required(assets))


#: Who may open the prod dashboard through IAP in ``gcp_prod``: one of each kind of member.
GCP_DASHBOARD_MEMBERS = ("user:ana@example.com", "group:analysts@example.com", "domain:example.com")


@pytest.fixture(scope="session")
def gcp_prod(assets: dict[str, Path]) -> StackRun:
    """prod, with given images (nothing built, no registry) and dashboard members."""
    return run_stack(
        "infra/gcp",
        "prod",
        *_gcp_required(assets),
        "api.image=europe-west1-docker.pkg.dev/streamkit-test/images/api:1.0",
        "dashboard.image=europe-west1-docker.pkg.dev/streamkit-test/images/dashboard:1.0",
        f"dashboard.members={json.dumps(GCP_DASHBOARD_MEMBERS)}",
    )


@pytest.fixture(scope="session")
def gcp_run(assets: dict[str, Path]) -> Callable[..., StackRun]:
    """Run the GCP program on ``stack`` with the required settings and ``settings`` on top."""

    def run(stack: str, *settings: str) -> StackRun:
        return run_stack("infra/gcp", stack, *_gcp_required(assets), *settings)

    return run


@pytest.fixture(scope="session")
def local_dev() -> StackRun:
    return run_stack("infra/local/pulumi", "dev")


@pytest.fixture(scope="session")
def local_services_only() -> StackRun:
    return run_stack("infra/local/pulumi", "dev", "app=false")


@pytest.fixture(scope="session")
def fixture_reports() -> dict[str, dict[str, Any]]:
    """Every non-compliant fixture, run and checked."""
    reports: dict[str, dict[str, Any]] = {}
    for module in ("infra.policy.fixtures.aws", "infra.policy.fixtures.gcp"):
        reports |= run_in_subprocess("--fixtures", module)["fixtures"]
    return reports


def parse_json(value: str) -> Any:
    return json.loads(value)
