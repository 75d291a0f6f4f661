"""Every stack file's keys are ones the programs read, and unknown keys are refused."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.aws import config as aws_config
from infra.common.stack_config import read_group
from infra.gcp import config as gcp_config
from infra.policy.harness import run_in_subprocess

INFRA = Path(__file__).resolve().parents[2] / "infra"
GROUPS = {
    "streamkit-aws": {
        "network": aws_config.NetworkConfig,
        "bus": aws_config.BusConfig,
        "archive": aws_config.ArchiveConfig,
        "hotStore": aws_config.HotStoreConfig,
        "job": aws_config.JobConfig,
        "api": aws_config.ApiConfig,
        "dashboard": aws_config.DashboardConfig,
        "monitoring": aws_config.MonitoringConfig,
    },
    "streamkit-gcp": {
        "network": gcp_config.NetworkConfig,
        "bus": gcp_config.BusConfig,
        "archive": gcp_config.ArchiveConfig,
        "hotStore": gcp_config.HotStoreConfig,
        "job": gcp_config.JobConfig,
        "api": gcp_config.ServiceConfig,
        "dashboard": gcp_config.DashboardConfig,
        "monitoring": gcp_config.MonitoringConfig,
    },
}
SCALARS = {"streamkit-aws": {"appEnv"}, "streamkit-gcp": {"appEnv"}}


@pytest.mark.parametrize(
    "path", sorted(INFRA.glob("*/Pulumi.*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_stack_files_use_known_keys(path: Path) -> None:
    project = yaml.safe_load((path.parent / "Pulumi.yaml").read_text())["name"]
    for key, value in yaml.safe_load(path.read_text())["config"].items():
        namespace, _, name = key.partition(":")
        if namespace != project:
            assert namespace in {"aws", "gcp"}, key  # provider settings
            continue
        if name in SCALARS[project]:
            continue
        known = {f.name for f in fields(GROUPS[project][name])}
        assert set(value) <= known, f"{key}: unknown {sorted(set(value) - known)}"


def test_the_spark_4_runtimes_are_pinned_in_every_stack() -> None:
    for cloud, key in (("aws", "releaseLabel"), ("gcp", "runtimeVersion")):
        for stack in ("dev", "prod"):
            job = yaml.safe_load((INFRA / cloud / f"Pulumi.{stack}.yaml").read_text())["config"][
                f"streamkit-{cloud}:job"
            ]
            assert job[key] in ("emr-spark-8.0.0", "3.0")


class _Config:
    def __init__(self, namespace: str, objects: dict[str, Any]) -> None:
        self.namespace = namespace
        self.objects = objects

    def get_object(self, key: str) -> Any:
        return self.objects.get(key)

    def full_key(self, key: str) -> str:
        return f"{self.namespace}:{key}"


@pytest.mark.parametrize("module", [aws_config, gcp_config])
def test_unknown_keys_are_refused(module: Any) -> None:
    typo = _Config(module.NAMESPACE, {"bus": {"shards": 3}})
    with pytest.raises(ValueError, match=f"{module.NAMESPACE}:bus has unknown keys \\['shards'\\]"):
        read_group(typo, "bus", module.BusConfig)
    assert read_group(_Config(module.NAMESPACE, {}), "bus", module.BusConfig) == module.BusConfig()


def test_a_missing_upload_fails_before_any_resource_with_how_to_build_it(
    assets: dict[str, Path],
) -> None:
    with pytest.raises(RuntimeError, match="run `streamkit package lambda`"):
        run_in_subprocess(
            "infra/aws",
            "--stack",
            "dev",
            "--set",
            "api.lambdaZip=/nonexistent/lambda.zip",
            "--set",
            f"hotStore.caBundle={assets['ca']}",
        )


def test_gcp_requires_the_atlas_organisation() -> None:
    with pytest.raises(RuntimeError, match="hotStore.atlasOrgId is required"):
        run_in_subprocess("infra/gcp", "--stack", "dev", "--set", "gcp:project=p")
