"""A small typed client of the KPI API (docs/api.md), for the dashboard.

It speaks HTTP only, so the dashboard works the same against ``streamkit api``
on a laptop, a Lambda function URL or Cloud Run. Every answer is parsed into
the API's own response models; anything else becomes one of two errors whose
message can be shown as it is:

* :class:`ApiUnavailable`: no answer at all (refused, DNS, timeout, TLS);
* :class:`ApiError`: an answer, but an error status or a body that breaks the
  contract.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from adapters.errors import StreamkitError, TransientError
from app.api.models import Alerts, Anchor, Funnel, Health, KpiRange, MinuteKpis, SessionStats

__all__ = ["Anchor", "ApiClient", "ApiError", "ApiUnavailable", "Timed"]
M = TypeVar("M", bound=BaseModel)


class ApiUnavailable(TransientError):
    """The API did not answer; the message reads "API unreachable at URL: reason"."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"API unreachable at {url}: {reason}")


class ApiError(StreamkitError):
    """The API answered with an error status, or with a body its contract does not allow."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code = status, code
        super().__init__(f"API error {status} {code}: {message}")


@dataclass(frozen=True)
class Timed:
    """A parsed answer and how long the request took."""

    value: Any
    elapsed_ms: float


class ApiClient:
    """GETs on the KPI API with an optional ``X-API-Key``, each bounded by ``timeout_s``."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``base_url`` like ``http://127.0.0.1:8000``; an empty key sends no header."""
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )
        self.timeout_s = timeout_s

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def latest(self) -> MinuteKpis | None:
        """The newest minute, or None when the store has none yet (404 ``no_data``)."""
        try:
            return self._parse(MinuteKpis, self.get("/kpis/latest").value, "/kpis/latest")
        except ApiError as e:
            if e.status == 404 and e.code == "no_data":
                return None
            raise

    def kpis(self, minutes_back: int, anchor: Anchor = "now") -> KpiRange:
        """Minute documents of the last ``minutes_back`` minutes, earliest first."""
        answer = self.get("/kpis", minutes_back=minutes_back, anchor=anchor)
        return self._parse(KpiRange, answer.value, "/kpis")

    def funnel(self, minutes_back: int, anchor: Anchor = "now") -> Funnel:
        """Counts and rates summed over the last ``minutes_back`` minutes."""
        answer = self.get("/funnel", minutes_back=minutes_back, anchor=anchor)
        return self._parse(Funnel, answer.value, "/funnel")

    def sessions(self, minutes_back: int, anchor: Anchor = "now") -> SessionStats:
        """Sessions closed in the last ``minutes_back`` minutes."""
        answer = self.get("/sessions", minutes_back=minutes_back, anchor=anchor)
        return self._parse(SessionStats, answer.value, "/sessions")

    def alerts(self) -> Alerts:
        """What ``streamkit alerts`` last found, and the last day's transitions."""
        return self._parse(Alerts, self.get("/alerts").value, "/alerts")

    def health(self) -> tuple[Health, float]:
        """The health report and the round trip in ms; a 503 still carries a report."""
        answer = self.get("/health", accept=(200, 503))
        return self._parse(Health, answer.value, "/health"), answer.elapsed_ms

    def get(self, path: str, accept: tuple[int, ...] = (200,), **params: Any) -> Timed:
        """``GET path?params``: the JSON body of an ``accept``-ed status, and the time taken.

        Raises:
            ApiUnavailable: No HTTP answer (connection refused, timeout, DNS, TLS).
            ApiError: Another status (its ``error`` and ``message`` when the body
                has them), or a body that is not JSON.
        """
        url = self.base_url  # what the user configured; the path does not change reachability
        started = time.perf_counter()
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise ApiUnavailable(url, f"no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as e:
            raise ApiUnavailable(url, _reason(e)) from e
        elapsed_ms = (time.perf_counter() - started) * 1000
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code not in accept:
            raise _error(response.status_code, body, response.reason_phrase)
        if body is None:
            raise ApiError(response.status_code, "bad_response", f"{path} did not answer JSON")
        return Timed(body, elapsed_ms)

    @staticmethod
    def _parse(model: type[M], body: Any, path: str) -> M:
        try:
            return model.model_validate(body)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            msg = f"{path} broke its contract ({model.__name__}): {where}: {first['msg']}"
            raise ApiError(200, "bad_response", msg) from e


def _error(status: int, body: Any, phrase: str) -> ApiError:
    """The API's ``{"error", "message"}`` body as an ``ApiError`` (a proxy's page too)."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return ApiError(status, body["error"], str(body.get("message", "")))
    return ApiError(status, "http_error", phrase or "unexpected status")


def _reason(error: httpx.HTTPError) -> str:
    """A short reason in words: the innermost cause's message, e.g. "Connection refused"."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or type(cause).__name__
    if isinstance(cause, OSError) and cause.strerror:
        text = cause.strerror
    kind = type(error).__name__
    return f"{text} ({kind})"
