"""AWS Lambda entry point: the KPI API behind mangum, built once per cold start.

Deploy it as a zip on the ``python3.11`` runtime (x86_64)::

    streamkit package lambda        # -> dist/lambda.zip: the API and its dependencies, no Spark
    aws lambda create-function --function-name streamkit-api --runtime python3.11
        --architectures x86_64 --handler app.api.lambda_handler.handler
        --zip-file fileb://dist/lambda.zip --memory-size 512 --timeout 10
        --role <execution role ARN> --environment file://lambda-env.json

with ``lambda-env.json`` holding ``{"Variables": {"STREAMKIT_ENV": "production",
"STREAMKIT_HOT_STORE_URL": "mongodb+srv://...", "STREAMKIT_API__CHECK_BUS": "false"}}``,
then put an API Gateway **HTTP API** (payload format 2.0) or a **function URL** in front of
it; both send the same 2.0 event. ``STREAMKIT_API__CHECK_BUS=false`` because the package holds no
Kafka client (see :mod:`app.packaging.lambda_zip`): keep the bus out of ``/health`` there.

Stages and base paths. An HTTP API's ``$default`` stage and a function URL pass the path as the
client sent it, so nothing is needed. A *named* stage (``prod``) is part of the path Lambda
receives (``/prod/kpis/latest``): set ``STREAMKIT_API__BASE_PATH=/prod`` and the prefix is
removed before routing (paths without it, e.g. from a function URL, pass unchanged). The same
holds for a custom domain whose API mapping leaves a prefix in the path.

The app's lifespan is off: the API opens its ports on first use and keeps them for the life of
the execution environment; mangum's ``auto`` would run startup *and shutdown* around every
invocation, closing the hot store after each request.
"""

from __future__ import annotations

from mangum import Mangum

from adapters.ports import Bus, HotStore
from app.api.main import create_app
from app.settings import Settings, get_settings


def base_path(raw: str) -> str:
    """The prefix mangum strips from request paths: ``"/"`` (none) or ``"/stage"``.

    Normalised so ``prod``, ``/prod`` and ``/prod/`` mean the same: mangum cuts the prefix by
    string length, and a trailing slash would leave routes without their leading one.
    """
    value = raw.strip().strip("/")
    return f"/{value}" if value else "/"


def build_handler(
    settings: Settings | None = None,
    *,
    hot_store: HotStore | None = None,
    bus: Bus | None = None,
) -> Mangum:
    """A Lambda handler serving the API of ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    app = create_app(settings, hot_store=hot_store, bus=bus)
    return Mangum(app, lifespan="off", api_gateway_base_path=base_path(settings.api.base_path))


#: What the Lambda runtime calls: ``handler(event, context)`` -> API Gateway 2.0 response.
#: Built at import, in the init phase, so warm invocations reuse the app and its connections.
handler = build_handler()
