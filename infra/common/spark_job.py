"""What the stream job's deployment is on both clouds: its files, its sizing, its settings.

EMR Serverless (``infra/aws/job.py``) and Dataproc Serverless (``infra/gcp/job.py``) run the
same entry script with the same wheel and packed Python environment, size Spark the same way
and hand the app's settings to the driver and every executor as environment variables. Only
where the files go and the platform's name for the driver's environment differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pulumi

from infra.common.files import local_file

ENTRY_SCRIPT = Path(__file__).with_name("spark_entry.py")
#: The packed environment's interpreter, once Spark has unpacked the archive as ``./environment``.
ENVIRONMENT_PYTHON = "./environment/bin/python"


class JobConfig(Protocol):
    """The keys both clouds' ``job`` config groups have."""

    wheel: str
    environmentArchive: str
    minExecutors: int
    maxExecutors: int
    executorCores: int
    executorMemory: str
    driverCores: int
    driverMemory: str
    shufflePartitions: int
    triggerSeconds: float
    maxRecordsPerBatch: int


def job_files(
    cfg: JobConfig, *, guide: str, environment: bool = True
) -> dict[str, tuple[Path, str | None]]:
    """The local files the job needs: key -> (path, name in the bucket, None to keep its own).

    Each must exist (see :func:`infra.common.files.local_file`); ``guide`` is the doc that says
    how to build the environment. Without ``environment`` (a custom runtime image provides the
    Python), no archive is uploaded.
    """
    files: dict[str, tuple[Path, str | None]] = {
        "entry": (ENTRY_SCRIPT, "entry.py"),
        "wheel": (
            local_file(cfg.wheel, "the streamkit wheel", "build it: pip wheel --no-deps -w dist ."),
            None,
        ),
    }
    if environment:
        how = f"build it as {guide} says (a packed Python 3.11 environment)"
        path = local_file(cfg.environmentArchive, "the job's Python environment", how)
        files["environment"] = (path, None)
    return files


def job_settings(cfg: JobConfig) -> dict[str, str]:
    """The app's settings only the job reads, besides those the API shares."""
    return {
        "STREAMKIT_STATE_DIR": "/tmp/streamkit",  # noqa: S108 - the workers' scratch space
        "STREAMKIT_SPARK__SHUFFLE_PARTITIONS": str(cfg.shufflePartitions),
        "STREAMKIT_PIPELINE__TRIGGER_SECONDS": str(cfg.triggerSeconds),
        "STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH": str(cfg.maxRecordsPerBatch),
    }


def sizing_properties(cfg: JobConfig) -> dict[str, str]:
    """Executor and driver sizes, and dynamic allocation between the bounds (the autoscaling)."""
    return {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": str(cfg.minExecutors),
        "spark.dynamicAllocation.initialExecutors": str(cfg.minExecutors),
        "spark.dynamicAllocation.maxExecutors": str(cfg.maxExecutors),
        "spark.executor.cores": str(cfg.executorCores),
        "spark.executor.memory": cfg.executorMemory,
        "spark.driver.cores": str(cfg.driverCores),
        "spark.driver.memory": cfg.driverMemory,
    }


def environment_properties(
    driver_env: str, variables: Mapping[str, pulumi.Input[str]]
) -> dict[str, pulumi.Input[str]]:
    """``variables`` set on the driver (the platform's ``driver_env`` prefix) and every executor."""
    properties: dict[str, pulumi.Input[str]] = {}
    for variable, value in variables.items():
        properties[f"{driver_env}.{variable}"] = value
        properties[f"spark.executorEnv.{variable}"] = value
    return properties


def packed_python_properties(
    driver_env: str, archive_uri: pulumi.Output[str]
) -> dict[str, pulumi.Input[str]]:
    """Run the driver and the executors on the packed environment Spark unpacks next to them."""
    return {
        "spark.archives": archive_uri.apply(lambda u: f"{u}#environment"),
        f"{driver_env}.PYSPARK_DRIVER_PYTHON": ENVIRONMENT_PYTHON,
        **environment_properties(driver_env, {"PYSPARK_PYTHON": ENVIRONMENT_PYTHON}),
    }
