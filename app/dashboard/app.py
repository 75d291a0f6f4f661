"""The Streamlit script of ``streamkit dashboard``: ``streamlit run app/dashboard/app.py``.

Streamlit puts this file's folder first on ``sys.path``, where this file,
``app.py``, would shadow the ``app`` package itself ("'app' is not a
package"). So the folder is taken off the path before the package is
imported; the page lives in :mod:`app.dashboard.page`.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from app.dashboard.page import main  # noqa: E402 - only once the path is fixed

main()
