"""The synthetic check behind the latency alarms: the newest minute's P95, once a minute.

The stream job keeps end-to-end latency in the hot store, not in a cloud metric, so each
cloud stack runs this probe every minute against its deployed API: it reads
``GET /kpis/latest`` and reports the minute's ``latency_ms.p95`` as a metric the alarm
"P95 > 2 s" watches.

* **AWS** (a Lambda function): an Embedded Metric Format record on stdout, which CloudWatch
  Logs turns into the metric ``Streamkit/EndToEndLatencyP95``. No ``cloudwatch:PutMetricData``
  permission is needed, an action IAM cannot scope to a resource.
* **GCP** (a Cloud Run job): a structured log line whose ``latency_p95_ms`` field a log-based
  metric extracts.

Nothing is reported when the API has no minute or its newest minute is older than
``MAX_AGE_S``: the alarms treat missing data as breaching, so a stopped job alarms too.
Standard library only (boto3 from the Lambda runtime when a key is a Secrets Manager
reference), so the file runs as it is in either runtime.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "Streamkit"
METRIC = "EndToEndLatencyP95"
LOG_FIELD = "latency_p95_ms"
#: A newest minute older than this means the job stopped writing: report nothing.
MAX_AGE_S = 180.0
_AWS_REF = "aws-secretsmanager://"


def resolve_key(value: str) -> str:
    """The API key: a Secrets Manager reference resolved with boto3, else the value itself."""
    if not value.startswith(_AWS_REF):
        return value
    import boto3  # in the Lambda runtime; only AWS keys are references here

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=value[len(_AWS_REF) :])
    return str(secret["SecretString"])


def read_latest(api_url: str, api_key: str, timeout_s: float = 10.0) -> dict[str, Any] | None:
    """``GET /kpis/latest`` (None on 404: no minute stored yet)."""
    key = api_key.split(",")[0].strip()
    request = urllib.request.Request(  # noqa: S310 - the API's own https URL from the stack
        api_url.rstrip("/") + "/kpis/latest", headers={"X-API-Key": key} if key else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return dict(json.load(response))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def p95_of(latest: dict[str, Any] | None, now: datetime) -> float | None:
    """The minute's P95 in ms, or None when there is none or the minute is stale."""
    if not latest:
        return None
    minute = datetime.fromisoformat(str(latest["minute"]).replace("Z", "+00:00"))
    if (now - minute).total_seconds() > MAX_AGE_S:
        return None
    p95 = (latest.get("latency_ms") or {}).get("p95")
    return None if p95 is None else float(p95)


def emf_record(stack: str, p95_ms: float, now: datetime) -> dict[str, Any]:
    """The CloudWatch Embedded Metric Format record of one reading."""
    return {
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Stack"]],
                    "Metrics": [{"Name": METRIC, "Unit": "Milliseconds"}],
                }
            ],
        },
        "Stack": stack,
        METRIC: p95_ms,
    }


def log_record(stack: str, p95_ms: float) -> dict[str, Any]:
    """The structured log line (Cloud Logging's JSON payload) of one reading."""
    return {"severity": "INFO", "message": "kpi probe", "stack": stack, LOG_FIELD: p95_ms}


def _reading() -> tuple[str, float | None]:
    stack = os.environ.get("PROBE_STACK", "")
    key = resolve_key(os.environ.get("PROBE_API_KEY", ""))
    latest = read_latest(os.environ["PROBE_API_URL"], key)
    return stack, p95_of(latest, datetime.now(UTC))


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    """AWS Lambda entry: print the EMF record (CloudWatch extracts the metric from the log)."""
    stack, p95 = _reading()
    if p95 is not None:
        print(json.dumps(emf_record(stack, p95, datetime.now(UTC))))  # noqa: T201 - EMF is stdout
    return {"p95_ms": p95}


def main() -> int:
    """Cloud Run job entry: print the structured log line."""
    stack, p95 = _reading()
    if p95 is not None:
        sys.stdout.write(json.dumps(log_record(stack, p95)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
