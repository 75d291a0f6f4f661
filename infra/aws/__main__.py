"""Pulumi entry point of the AWS stack (``cd infra/aws && pulumi up``).

The CLI runs this file with infra/aws as the working directory; the repository root goes on
``sys.path`` so the program's modules import as ``infra.aws.*`` both here and in the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.aws.stack import build  # noqa: E402 - after the path is set

build()
