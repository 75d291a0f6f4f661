"""A real browser for the dashboard (the demo's check, the browser test): Chromium via playwright.

The playwright wheel bundles its driver; the browser is the system's
(``infra/local/browser`` installs it), never one downloaded by ``playwright
install``. ``STREAMKIT_CHROMIUM`` points at another binary.

    with browser() as page:
        open_dashboard(page, "http://127.0.0.1:8501")
        tiles = wait_for_metrics(page, ["Revenue"])   # {"Revenue": "1234.50", ...}
        page.screenshot(path="docs/img/dashboard.png", full_page=True)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.errors import ConfigurationError

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Flags for a headless browser in a container: no sandbox (root), no GPU, and
#: nothing that phones home while a test runs.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METRIC = '[data-testid="stMetric"]'
METRIC_VALUE = '[data-testid="stMetricValue"]'


def chromium_path() -> Path:
    """The browser binary: ``STREAMKIT_CHROMIUM`` or ``/usr/bin/chromium``; fails naming the fix."""
    path = Path(os.environ.get("STREAMKIT_CHROMIUM", "/usr/bin/chromium"))
    if not path.is_file():
        msg = f"no browser at {path}: run ./infra/local/browser (or set STREAMKIT_CHROMIUM)"
        raise ConfigurationError(msg)
    return path


@contextmanager
def browser(width: int = 1440, height: int = 1000) -> Iterator[Page]:
    """A fresh page of a headless Chromium, closed (with the browser) on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        msg = "driving a browser needs playwright: pip install 'streamkit[dev]'"
        raise ConfigurationError(msg) from None
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(chromium_path()), headless=True, args=FLAGS
        )
        try:
            yield chromium.new_page(viewport={"width": width, "height": height})
        finally:
            chromium.close()


def open_dashboard(page: Page, url: str, timeout_s: float = 60.0) -> None:
    """Load ``url`` and wait until the tiles are drawn (Streamlit renders over a websocket)."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(METRIC_VALUE, timeout=timeout_s * 1000)


def wait_for_metrics(page: Page, labels: Iterable[str], timeout_s: float = 30.0) -> dict[str, str]:
    """:func:`read_metrics` once every one of ``labels`` is drawn (tiles arrive one by one)."""
    wanted = set(labels)
    deadline = time.monotonic() + timeout_s
    while True:
        found = read_metrics(page)
        if wanted <= found.keys():
            return found
        if time.monotonic() > deadline:
            msg = f"tiles {sorted(wanted - found.keys())} not drawn within {timeout_s:g} s"
            raise TimeoutError(msg)
        page.wait_for_timeout(250)


def read_metrics(page: Page) -> dict[str, str]:
    """Every ``st.metric`` on the page: its label → its value, as the browser shows them."""
    found: dict[str, str] = {}
    for metric in page.locator(METRIC).all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = metric.locator(METRIC_VALUE).inner_text().strip()
    return found


def wait_for_charts(page: Page, timeout_s: float = 30.0) -> None:
    """Until every chart on the page is drawn (Streamlit shows a grey skeleton first)."""
    drawn = (
        "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
        ".every(chart => chart.querySelector('svg, canvas'))"
    )
    page.wait_for_function(drawn, timeout=timeout_s * 1000)


def screenshot(page: Page, path: Path) -> Path:
    """The whole page as a PNG at ``path`` (folders created).

    Streamlit scrolls inside its main section, not the document, so a
    "full page" shot would stop at the viewport: the viewport is first grown
    to the section's height, and the charts get a moment to redraw.
    """
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], body')]"
        ".map(e => e.scrollHeight))"
    )
    width = page.viewport_size["width"] if page.viewport_size else 1440
    page.set_viewport_size({"width": width, "height": int(height) + 40})
    wait_for_charts(page)
    page.wait_for_timeout(1000)  # Vega's transitions
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
