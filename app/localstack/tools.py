"""The build tools the native stack needs, checked with errors that name the fix."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.errors import ConfigurationError

Progress = Callable[[str], None]


class LocalStackError(ConfigurationError):
    """The local stack cannot start; the message says what to do."""


def require(tool: str, fix: str) -> str:
    """The absolute path of ``tool`` on PATH, or a ``LocalStackError`` naming the fix."""
    path = shutil.which(tool)
    if path is None:
        msg = f"`{tool}` is not on PATH; {fix}"
        raise LocalStackError(msg)
    return path


def require_java(minimum: int = 17) -> str:
    """``java`` of at least version ``minimum`` (Kafka 4 and Spark 4 need 17)."""
    java = require(
        "java", f"install a JDK {minimum}+ (Debian: apt-get install openjdk-17-jdk-headless)"
    )
    out = subprocess.run(  # noqa: S603
        [java, "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0" style
        major = int(match.group(2))
    if major < minimum:
        msg = f"Java {minimum}+ is needed, found {major or 'an unknown version'} at {java}"
        raise LocalStackError(msg)
    return java


def run_build(
    command: list[str],
    cwd: Path,
    what: str,
    fix: str,
    env: Mapping[str, str] | None = None,
    redact: str = "",
) -> None:
    """Run a build step; on failure raise with the tail of its output and the fix.

    ``redact``: a secret on the command line, masked wherever the output repeats it.
    """
    proc = subprocess.run(  # noqa: S603
        command, cwd=cwd, capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        if redact:
            output = output.replace(redact, "***")
        tail = "\n".join(output.strip().splitlines()[-15:])
        msg = f"{what} failed (exit {proc.returncode}):\n{tail}\n{fix}"
        raise LocalStackError(msg)
