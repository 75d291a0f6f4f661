"""Lambda invocations as AWS makes them: payload format 2.0 events and the runtime's context.

The events follow AWS's documented shapes for an API Gateway HTTP API and a Lambda function URL;
the context has the attributes the python3.11 runtime's ``LambdaContext`` provides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

REGION = "eu-west-1"
API_ID = "a1b2c3d4e5"
URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
MINUTE = datetime(2026, 11, 25, 18, 1, tzinfo=UTC)


@dataclass
class LambdaContext:
    """What the python3.11 runtime passes as ``context`` (awslambdaric's LambdaContext)."""

    function_name: str = "streamkit-api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:streamkit-api"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/streamkit-api"
    log_stream_name: str = "2026/11/26/[$LATEST]0123456789abcdef0123456789abcdef"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 9_500


def v2_event(
    path: str,
    query: str = "",
    *,
    domain: str = f"{API_ID}.execute-api.{REGION}.amazonaws.com",
    stage: str = "$default",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A GET as payload format 2.0; a named stage prefixes the path, as API Gateway does."""
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate, br",
            "host": domain,
            "user-agent": "curl/8.11.1",
            "x-amzn-trace-id": "Root=1-67450a1b-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": "GET",
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.11.1",
            },
            "requestId": "C7d0fjJ5DoEEMSw=",
            "routeKey": "$default",
            "stage": stage,
            "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795687200000,
        },
        "isBase64Encoded": False,
    }
    if query:  # API Gateway joins repeated parameters with commas here; rawQueryString is exact
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    return event


def function_url_event(path: str, query: str = "") -> dict[str, Any]:
    """The same format from a function URL: its own domain, no stage in the path, no route."""
    event = v2_event(path, query, domain=f"{URL_ID}.lambda-url.{REGION}.on.aws")
    event["requestContext"]["authorizer"] = None  # AuthType NONE
    event["pathParameters"] = None
    event["stageVariables"] = None
    return event


def stored_minute(minute: datetime = MINUTE) -> dict[str, Any]:
    """A minute document as the stream job's sink writes it (app.pipeline.sinks)."""
    return {
        "minute": minute,
        "page_views": 1200,
        "add_to_carts": 180,
        "purchases": 30,
        "remove_from_carts": 12,
        "events": 1422,
        "revenue_cents": 123_450,
        "sessions": 410,
        "late_dropped": 2,
        "deadlettered": 1,
        "final": True,
        "watermark": datetime(2026, 11, 25, 18, 12, 30, tzinfo=UTC),
        "written_at": datetime(2026, 11, 25, 18, 12, 31, 250_000, tzinfo=UTC),
        "batch_id": 42,
        "latency": {"b40": 3},
    }
