"""Pulumi entry point of the local stack (``cd infra/local/pulumi && pulumi up``).

The repository root goes on ``sys.path`` so the modules import as ``infra.local.pulumi.*``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from infra.local.pulumi.stack import build  # noqa: E402 - after the path is set

build()
