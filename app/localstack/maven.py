"""Jars from Maven Central, resolved once into the cache.

The Kafka broker and Spark's Kafka connector are both plain jars on Maven
Central; a pom under ``infra/local/`` lists what each needs and
``maven-dependency-plugin:copy-dependencies`` copies them into a cache dir.
A stamp file holds a hash of the pom and the filter, so an edited pom is
resolved again and an unchanged one costs nothing.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from app.localstack.tools import LocalStackError, Progress, require, run_build

_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
_STAMP = ".resolved"


def resolve_jars(
    pom: Path, dest: Path, *, include: Sequence[str] = (), progress: Progress = print
) -> list[Path]:
    """Jars of ``pom``'s runtime scope (only ``include`` artifact ids if given) in ``dest``."""
    if not pom.is_file():
        msg = f"{pom} is missing; is this a complete streamkit checkout?"
        raise LocalStackError(msg)
    digest = hashlib.sha256(pom.read_bytes() + ",".join(include).encode()).hexdigest()
    stamp = dest / _STAMP
    if stamp.is_file() and stamp.read_text() == digest:
        return sorted(dest.glob("*.jar"))

    mvn = require("mvn", "install Maven (Debian: apt-get install maven)")
    progress(f"resolving {pom.parent.name} jars from Maven Central into {dest} (first run only)")
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [mvn, "-B", "-q", "-f", str(pom), _PLUGIN, f"-DoutputDirectory={staging}"]
    command.append("-DincludeScope=runtime")
    if include:
        command.append("-DincludeArtifactIds=" + ",".join(include))
    run_build(
        command,
        cwd=pom.parent,
        what=f"Maven resolving {pom}",
        fix="Maven Central must be reachable (check proxy settings in ~/.m2/settings.xml).",
    )
    jars = sorted(staging.glob("*.jar"))
    if not jars:
        msg = f"Maven resolved no jars from {pom}"
        raise LocalStackError(msg)
    (staging / _STAMP).write_text(digest)
    # Swap in whole, so an interrupted run never leaves half a classpath.
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return sorted(dest.glob("*.jar"))
