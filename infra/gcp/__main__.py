"""Pulumi entry point of the GCP stack (``cd infra/gcp && pulumi up``).

The CLI runs this file with infra/gcp as the working directory; the repository root goes on
``sys.path`` so the program's modules import as ``infra.gcp.*`` both here and in the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.gcp.stack import build  # noqa: E402 - after the path is set

build()
