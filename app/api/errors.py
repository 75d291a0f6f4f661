"""One place that turns every failure into a typed ``ErrorBody``, never a stack trace.

Validation errors become 422 naming each parameter; an unreachable hot store
503; a stored document the API cannot read, or a bug, 500 with the request
id (logged with its traceback, which stays out of the response).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from adapters.errors import TerminalError, TransientError
from app.api.models import ErrorBody, ParamError

log = logging.getLogger(__name__)

#: The error responses every route may give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or unknown API key."},
    422: {"model": ErrorBody, "description": "A parameter is malformed, out of range or unknown."},
    429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After."},
    500: {"model": ErrorBody, "description": "Internal error; the body names the request id."},
    503: {"model": ErrorBody, "description": "The hot store did not answer."},
}

_STATUS_ERRORS = {
    404: "no_data",
    401: "unauthorized",
    405: "method_not_allowed",
    429: "rate_limited",
    503: "unavailable",
}


def body(
    status: int,
    error: str,
    message: str,
    details: list[ParamError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An ``ErrorBody`` response."""
    content = ErrorBody(error=error, message=message, details=details or [])
    return JSONResponse(content.model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(TransientError, _unavailable)
    # A handler for a specific class answers inside the app; the catch-all
    # Exception one runs in Starlette's outermost middleware, which re-raises
    # to the server after answering (so a bug is also logged there).
    app.add_exception_handler(TerminalError, _internal)
    app.add_exception_handler(Exception, _internal)


async def _invalid(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    details = [_param_error(e) for e in exc.errors()]
    message = "; ".join(f"{d.param}: {d.message}" for d in details) or "invalid request"
    return body(422, "invalid_request", message, details)


def _param_error(error: dict[str, Any]) -> ParamError:
    where = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
    param = ".".join(where) or "query"
    if error.get("type") == "extra_forbidden":
        return ParamError(param=param, message=f"unknown parameter {param!r}")
    text = str(error.get("msg", "invalid"))
    # pydantic prefixes errors raised by our validators with "Value error, ".
    return ParamError(param=param, message=text.removeprefix("Value error, "))


async def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    error = _STATUS_ERRORS.get(exc.status_code, "invalid_request")
    if exc.status_code == 404 and exc.detail == "Not Found":  # no such route
        return body(404, "no_data", f"no route {request.url.path}; see /docs")
    # Keep Starlette's headers: a 405 must list the allowed methods (RFC 9110).
    return body(exc.status_code, error, str(exc.detail), headers=exc.headers)


async def _unavailable(request: Request, exc: Exception) -> Any:
    log.warning("hot store unavailable for %s: %s", request.url.path, exc)
    return body(503, "unavailable", "the hot store did not answer; retry shortly")


async def _internal(request: Request, exc: Exception) -> Any:
    request_id = getattr(request.state, "request_id", "?")
    if isinstance(exc, TerminalError):
        log.error("request %s: unreadable stored data: %s", request_id, exc)
    else:
        log.exception("request %s failed", request_id, exc_info=exc)
    return body(500, "internal", f"internal error (request id {request_id})")
