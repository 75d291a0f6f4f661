# syntax=docker/dockerfile:1
# Container images of streamkit: the KPI API (target `api`, the default) for Cloud Run or any
# container runtime, and the dashboard (target `dashboard`). Both listen on $PORT (Cloud Run
# sets it; 8080 otherwise) and run as an unprivileged user.
#
#   docker build -t streamkit-api .
#   docker build -t streamkit-dashboard --target dashboard .
#   docker run -p 127.0.0.1:8000:8080 -e STREAMKIT_HOT_STORE_URL=mongodb://... streamkit-api
#
# Settings are the STREAMKIT_* variables of docs/api.md. infra/local/compose.yaml runs both
# next to the local stack. Behind Cloud Run's front end, set STREAMKIT_API__PROXY_HOPS=1 so the
# per-address limits see the client the front end appended to X-Forwarded-For, not the proxy.

ARG PYTHON_IMAGE=python:3.11-slim

# ------------------------------------------------------------------------------ build
# One virtualenv per image under /opt/venv, copied whole into the runtime stage.
FROM ${PYTHON_IMAGE} AS build
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python -m venv /opt/venv
# The dependencies are installed from the metadata alone, before the code is copied, so a
# code change reuses that layer. Hatchling needs both package folders: empty ones stand in.
COPY pyproject.toml README.md ./
COPY infra/local/constraints.txt ./constraints.txt
RUN mkdir app adapters && touch app/__init__.py adapters/__init__.py

FROM build AS build-api
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --constraint constraints.txt ".[api,mongo,kafka]"
COPY app ./app
COPY adapters ./adapters
RUN --mount=type=cache,target=/root/.cache/pip pip install --no-deps --force-reinstall .

FROM build AS build-dashboard
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --constraint constraints.txt ".[dashboard]"
COPY app ./app
COPY adapters ./adapters
RUN --mount=type=cache,target=/root/.cache/pip pip install --no-deps --force-reinstall .

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric uid, so runtimes that require a non-root user (runAsNonRoot) can verify it.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/streamkit streamkit
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMKIT_STATE_DIR=/home/streamkit/.streamkit
WORKDIR /home/streamkit
EXPOSE 8080

# The dashboard: the Streamlit command of `streamkit dashboard` (app.cli.dashboard.command, so
# the two cannot drift apart), exec'd in place of this Python so that Streamlit is PID 1 and
# gets the runtime's SIGTERM; the CLI itself would stay in between as a parent process.
FROM runtime AS dashboard
COPY --from=build-dashboard /opt/venv /opt/venv
RUN python -c "from app.cli.dashboard import SCRIPT; assert SCRIPT.is_file(), SCRIPT"
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import http.client, os, sys; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('PORT', '8080')), timeout=4); c.request('GET', '/_stcore/health'); sys.exit(c.getresponse().status != 200)"]
CMD ["python", "-c", "import os; from app.cli.dashboard import command; argv = command('0.0.0.0', int(os.environ.get('PORT') or 8080)); os.execv(argv[0], argv)"]

# The KPI API (last stage: the default target). uvicorn's own access log is off because it
# prints query strings; the app logs one line per request itself (app.api.observe).
FROM runtime AS api
COPY --from=build-api /opt/venv /opt/venv
USER 10001:10001
# Alive means "answers HTTP": /health's 503 says a dependency is down, which restarting the
# API would not fix, so any status passes and only a refused or hung connection fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import http.client, os; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('PORT', '8080')), timeout=4); c.request('GET', '/health'); c.getresponse()"]
CMD ["sh", "-c", "exec uvicorn app.api.asgi:app --host 0.0.0.0 --port \"${PORT:-8080}\" --no-access-log"]
