"""The Lambda entry point, invoked as Lambda invokes it: ``handler(event, context)``.

Events are the payload format 2.0 that an API Gateway HTTP API and a Lambda function URL send
(AWS's documented shapes); the context is a plain object with the attributes Lambda's Python
runtime provides. The hot store is the memory binding, seeded with stored-shape documents.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from adapters.ports import HotStore
from adapters.registry import open_hot_store
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES, minute_view
from app.settings import Settings, get_settings
from tests.support.lambda_events import LambdaContext, function_url_event, stored_minute, v2_event


def body_of(response: dict[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False
    return json.loads(response["body"])


@pytest.fixture
def store_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh memory store, named in the environment the way a deployment names its store."""
    url = f"memory://lambda-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", url)
    monkeypatch.setenv("STREAMKIT_API__CHECK_BUS", "false")
    # Every /health checks afresh, so each warm call below really uses the store.
    monkeypatch.setenv("STREAMKIT_API__HEALTH_CACHE_S", "0")
    monkeypatch.delenv("STREAMKIT_API__BASE_PATH", raising=False)
    monkeypatch.delenv("STREAMKIT_API__KEYS", raising=False)
    get_settings.cache_clear()
    # One event loop per process, as in a Lambda execution environment.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield url
    get_settings.cache_clear()  # settings read from this test's environment must not leak
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def store(store_url: str) -> HotStore:
    hot = open_hot_store(store_url)
    hot.upsert_many(KPI_MINUTES, [stored_minute()], ["minute"])
    last = {"job": JOB, "last_batch_at": datetime.now(UTC), "lag_records": 0}
    hot.upsert_many(HEALTH, [last], ["job"])
    return hot


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # later tests must not see this module's environment


def cold_start() -> ModuleType:
    """Import the handler module afresh: what Lambda does in a new execution environment."""
    get_settings.cache_clear()  # a new process reads the environment again
    sys.modules.pop("app.api.lambda_handler", None)
    return importlib.import_module("app.api.lambda_handler")


@pytest.fixture
def lambda_module(store: HotStore) -> ModuleType:
    return cold_start()


def test_http_api_serves_the_latest_minute(lambda_module: ModuleType) -> None:
    response = lambda_module.handler(v2_event("/kpis/latest"), LambdaContext())
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    body = body_of(response)
    assert body == minute_view(stored_minute())
    assert body["minute"] == "2026-11-25T18:01:00Z"
    assert body["revenue"] == "1234.50" and body["aov"] == "41.15"
    assert body["conversion_rate"] == 0.025
    assert body["latency_ms"]["count"] == 3
    assert body["written_at"] == "2026-11-25T18:12:31.250Z"


def test_function_url_serves_the_same_answer(lambda_module: ModuleType) -> None:
    via_api = lambda_module.handler(v2_event("/kpis/latest"), LambdaContext())
    via_url = lambda_module.handler(function_url_event("/kpis/latest"), LambdaContext())
    assert via_url["statusCode"] == 200
    assert body_of(via_url) == body_of(via_api)


def test_query_strings_reach_the_api(lambda_module: ModuleType) -> None:
    event = function_url_event("/kpis", "minutes_back=5&anchor=latest")
    body = body_of(lambda_module.handler(event, LambdaContext()))
    assert body["anchor"] == "latest" and body["count"] == 1
    assert (body["start"], body["end"]) == ("2026-11-25T17:57:00Z", "2026-11-25T18:02:00Z")


@pytest.mark.parametrize(
    ("query", "param"),
    [("minutes_back=0", "minutes_back"), ("minutes_back=5&colour=red", "colour")],
)
def test_a_bad_parameter_is_a_typed_422(lambda_module: ModuleType, query: str, param: str) -> None:
    response = lambda_module.handler(v2_event("/kpis", query), LambdaContext())
    assert response["statusCode"] == 422
    body = body_of(response)
    assert body["error"] == "invalid_request"
    assert [d["param"] for d in body["details"]] == [param]


def test_health_answers_with_each_check(lambda_module: ModuleType) -> None:
    response = lambda_module.handler(v2_event("/health"), LambdaContext())
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "healthy"
    assert body["checks"]["hot_store"]["status"] == "ok"
    assert body["checks"]["pipeline"]["status"] == "ok"
    assert body["checks"]["bus"]["status"] == "skipped"


def test_health_reports_a_missing_pipeline_as_503(store_url: str) -> None:
    # No health document in this store: the job never reported.
    response = cold_start().handler(v2_event("/health"), LambdaContext())
    assert response["statusCode"] == 503
    assert body_of(response)["checks"]["pipeline"]["status"] == "fail"


def test_warm_invocations_reuse_the_app_and_its_store(lambda_module: ModuleType) -> None:
    # /health pings the store on every call. With mangum's lifespan "auto" the app's shutdown
    # would run after each invocation and close the store the next one needs.
    for path in ("/health", "/kpis/latest", "/health", "/health"):
        response = lambda_module.handler(v2_event(path), LambdaContext())
        assert response["statusCode"] == 200, (path, response["body"])


def test_metrics_come_back_as_text(lambda_module: ModuleType) -> None:
    lambda_module.handler(v2_event("/kpis/latest"), LambdaContext())
    response = lambda_module.handler(v2_event("/metrics"), LambdaContext())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"].startswith("text/plain")
    assert 'route="/kpis/latest"' in response["body"]


def test_api_keys_travel_in_the_event_headers(store: HotStore) -> None:
    module = cold_start()
    settings = Settings(api={"check_bus": False, "keys": "k-123"})
    handler = module.build_handler(settings, hot_store=store)
    refused = handler(v2_event("/kpis/latest"), LambdaContext())
    assert refused["statusCode"] == 401 and body_of(refused)["error"] == "unauthorized"
    allowed = handler(v2_event("/kpis/latest", headers={"x-api-key": "k-123"}), LambdaContext())
    assert allowed["statusCode"] == 200
    # /health stays open: load balancers and uptime checks have no key.
    assert handler(v2_event("/health"), LambdaContext())["statusCode"] == 200


def test_a_named_stage_needs_the_base_path(
    store: HotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = v2_event("/kpis/latest", stage="prod")
    assert staged["rawPath"] == "/prod/kpis/latest"
    without = cold_start().handler(staged, LambdaContext())
    assert without["statusCode"] == 404

    monkeypatch.setenv("STREAMKIT_API__BASE_PATH", "/prod")
    module = cold_start()
    assert module.handler(staged, LambdaContext())["statusCode"] == 200
    # A function URL in front of the same function has no stage in its paths.
    assert module.handler(function_url_event("/kpis/latest"), LambdaContext())["statusCode"] == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("prod", "/prod"),
        ("/prod", "/prod"),
        ("/prod/", "/prod"),
        (" v1 ", "/v1"),
    ],
)
def test_base_path_is_normalised(lambda_module: ModuleType, raw: str, expected: str) -> None:
    assert lambda_module.base_path(raw) == expected
