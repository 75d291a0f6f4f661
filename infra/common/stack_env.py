"""Print ``export STREAMKIT_...=...`` lines for a deployed stack's outputs.

Points ``streamkit`` at a stack::

    cd infra/aws && eval "$(pulumi stack output --json | python -m infra.common.stack_env)"
    streamkit config

Only outputs named like settings are exported (see :mod:`infra.common.settings_outputs`);
secret settings are references the app resolves, so nothing secret is printed.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import TextIO

from infra.common.settings_outputs import environment


def exports(outputs_json: str) -> list[str]:
    """Shell ``export`` lines for the setting outputs in ``outputs_json``."""
    outputs = json.loads(outputs_json)
    if not isinstance(outputs, dict):
        msg = "expected the JSON object of `pulumi stack output --json`"
        raise ValueError(msg)
    return [f"export {name}={shlex.quote(value)}" for name, value in environment(outputs).items()]


def main(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Read ``pulumi stack output --json`` on stdin, write export lines on stdout."""
    for line in exports(stdin.read()):
        stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
