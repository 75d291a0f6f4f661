"""The Lambda zip, built for real (pip against PyPI, through pip's cache) and run on its own.

The package is unzipped and its handler invoked in a separate interpreter started with ``-I -S``:
no site-packages at all, only the standard library and the unzipped folder, which is what
Lambda's python3.11 runtime offers (/var/task). If the API imported anything the package does
not hold, the invocation would fail here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.packaging.lambda_zip import FORBIDDEN, UNZIPPED_LIMIT, LambdaPackage, build_lambda_zip
from tests.support.lambda_events import function_url_event, stored_minute, v2_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

#: Runs inside the isolated interpreter: seeds the memory store, invokes the handler, and
#: reports the responses and every imported module that came from outside the package.
PROBE = r"""
import json, sys, sysconfig, time
from datetime import UTC, datetime

root = sys.argv[1]
sys.path.insert(0, root)
given = json.load(sys.stdin)

from adapters.registry import open_hot_store
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES

store = open_hot_store("memory://package")
doc = dict(given["minute"])
doc.update({k: datetime.fromisoformat(doc[k]) for k in given["times"]})
store.upsert_many(KPI_MINUTES, [doc], ["minute"])
store.upsert_many(HEALTH, [{"job": JOB, "last_batch_at": datetime.now(UTC)}], ["job"])

class Context:
    function_name = "streamkit-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:streamkit-api"
    memory_limit_in_mb = 512
    aws_request_id = "0d4f6a9e-3c57-4a4b-9d0a-8d5a8d3f8e11"
    log_group_name = "/aws/lambda/streamkit-api"
    log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self):
        return 9500

started = time.perf_counter()
from app.api.lambda_handler import handler
import_s = time.perf_counter() - started
responses = {name: handler(event, Context()) for name, event in given["events"].items()}
stdlib = tuple(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib"))
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith((root, *stdlib))
)
report = {"responses": responses, "outside": outside, "path": sys.path, "import_s": import_s}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> LambdaPackage:
    out = tmp_path_factory.mktemp("lambda") / "lambda.zip"
    lines: list[str] = []
    built = build_lambda_zip(out, progress=lines.append)
    print(f"\nLambda package built in {built.seconds:.1f} s:", *lines, sep="\n  ")
    return built


@pytest.fixture(scope="module")
def unzipped(package: LambdaPackage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task")  # Lambda unpacks the zip into /var/task
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(root)
    return root


def test_the_package_fits_lambdas_unzipped_limit(package: LambdaPackage) -> None:
    with zipfile.ZipFile(package.path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
        names = archive.namelist()
    assert unzipped == package.unzipped_bytes
    assert unzipped < UNZIPPED_LIMIT
    print(f"\nunzipped {unzipped / 2**20:.1f} MiB, zipped {package.zipped_bytes / 2**20:.1f} MiB")
    assert "app/api/lambda_handler.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("bin/")]


def test_the_package_holds_the_api_and_nothing_of_spark(package: LambdaPackage) -> None:
    names = set(package.distributions)
    assert {"streamkit", "fastapi", "mangum", "pymongo", "pydantic"} <= names
    assert names.isdisjoint(FORBIDDEN)
    with zipfile.ZipFile(package.path) as archive:
        tops = {n.split("/")[0] for n in archive.namelist()}
    assert tops.isdisjoint(FORBIDDEN)


def invoke_isolated(root: Path, events: dict[str, dict[str, Any]]) -> dict[str, Any]:
    minute = stored_minute()
    times = [k for k, v in minute.items() if isinstance(v, datetime)]
    given = {
        "minute": {k: v.isoformat() if k in times else v for k, v in minute.items()},
        "times": times,
        "events": events,
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "STREAMKIT_HOT_STORE_URL": "memory://package",
        "STREAMKIT_API__CHECK_BUS": "false",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(root)],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"\nisolated invocation took {time.perf_counter() - started:.1f} s")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_unzipped_package_serves_the_api_on_its_own(unzipped: Path) -> None:
    result = invoke_isolated(
        unzipped,
        {
            "health": v2_event("/health"),
            "latest": v2_event("/kpis/latest"),
            "url_latest": function_url_event("/kpis/latest"),
            "bad": v2_event("/kpis", "minutes_back=0"),
        },
    )
    assert not any("site-packages" in p for p in result["path"]), result["path"]
    assert result["outside"] == [], "imported from outside the package and the standard library"
    print(f"cold import of the handler: {result['import_s']:.2f} s")
    responses = result["responses"]
    health = json.loads(responses["health"]["body"])
    assert responses["health"]["statusCode"] == 200, health
    assert health["checks"]["hot_store"]["status"] == "ok"
    latest = responses["latest"]
    assert latest["statusCode"] == 200
    assert latest["headers"]["content-type"] == "application/json"
    body = json.loads(latest["body"])
    assert body["revenue"] == "1234.50" and body["minute"] == "2026-11-25T18:01:00Z"
    assert json.loads(responses["url_latest"]["body"]) == body
    assert responses["bad"]["statusCode"] == 422
