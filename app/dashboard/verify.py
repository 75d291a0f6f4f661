"""Does a served dashboard show what the API says? A real browser reads its tiles.

The demo ends with this check: the tiles of the newest complete minute, as
Chromium renders them, must equal the tiles of ``GET /kpis/latest`` formatted
by the dashboard's own rules (``app.dashboard.view.tiles``), and the caption
must name that minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from adapters.errors import StreamkitError
from app.api.models import MinuteKpis
from app.dashboard import browser
from app.dashboard.view import tiles

_CAPTION = re.compile(r"Minute (\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC \(complete\)")


@dataclass(frozen=True)
class DashboardCheck:
    """What the browser saw: the minute, its tiles, and where the screenshot is."""

    minute: str
    tiles: dict[str, str]
    screenshot: Path


def latest_minute(api_url: str) -> MinuteKpis:
    """``GET /kpis/latest``."""
    response = httpx.get(f"{api_url}/kpis/latest", timeout=10)
    if response.status_code != 200:
        msg = f"GET /kpis/latest answered {response.status_code}: {response.text[:200]}"
        raise StreamkitError(msg)
    return MinuteKpis.model_validate(response.json())


def wait_until_complete(api_url: str, progress: Callable[[str], None]) -> MinuteKpis:
    """The newest minute, once the wall clock has passed its end (the tiles show complete ones)."""
    latest = latest_minute(api_url)
    ends = datetime.fromisoformat(latest.minute) + timedelta(minutes=1, seconds=2)
    wait = (ends - datetime.now(UTC)).total_seconds()
    if wait > 0:
        progress(f"waiting {wait:.0f} s for minute {latest.minute[11:16]} to end")
        time.sleep(wait)
        latest = latest_minute(api_url)
    return latest


def check_dashboard(
    dashboard_url: str, api_url: str, shot: Path, progress: Callable[[str], None]
) -> DashboardCheck:
    """Open the dashboard in Chromium; its tiles must match ``GET /kpis/latest``.

    Retries for up to a minute: the page refreshes every 5 s and the API's
    cache may serve the previous read for a moment.

    Raises:
        StreamkitError: the tiles never matched; the message shows both sides.
    """
    latest = wait_until_complete(api_url, progress)
    with browser.browser() as page:
        browser.open_dashboard(page, dashboard_url)
        labels = [t.label for t in tiles(latest)]
        deadline = time.monotonic() + 60
        while True:
            latest = latest_minute(api_url)
            want = {t.label: t.value for t in tiles(latest)}
            shown = browser.wait_for_metrics(page, labels)
            found = _CAPTION.search(page.inner_text("body"))
            named = f"{found[1]}T{found[2]}:00Z" if found else ""
            if named == latest.minute and shown == want:
                return DashboardCheck(named, shown, browser.screenshot(page, shot))
            if time.monotonic() > deadline:
                msg = (
                    f"the dashboard shows minute {named or '?'} with {shown}, "
                    f"GET /kpis/latest says {latest.minute} with {want}"
                )
                raise StreamkitError(msg)
            page.wait_for_timeout(2_000)
