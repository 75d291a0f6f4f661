"""The Lambda zip of the API: streamkit and exactly the API's dependencies, for Lambda's Linux.

Steps (each announced through ``progress``):

1. **Wheel.** ``pip wheel --no-deps`` builds streamkit's own wheel. Installing for another
   platform (``--platform``) requires ``--only-binary=:all:``, which a source tree is not; the
   wheel also carries only the ``app`` and ``adapters`` packages, never tests, docs or data.
2. **Install.** ``pip install --target`` the wheel with its extras for CPython 3.11 on
   ``manylinux2014_x86_64`` (glibc 2.17), under the project's constraints: the wheels Lambda's
   ``python3.11`` runtime (Amazon Linux 2, glibc 2.26) can load, whatever machine builds it.
3. **Prune.** Console scripts, bytecode and bundled test suites go; ``*.dist-info`` stays
   (``importlib.metadata`` reads it at run time).
4. **Check.** The build fails if Spark, Arrow, pandas or Streamlit got in (a dependency slip
   that would also blow the size), or if the tree exceeds Lambda's 250 MB unzipped limit.
5. **Zip** reproducibly (:func:`app.packaging.tree.write_zip`).

The default extras are ``api`` and ``mongo``. ``kafka`` is left out on purpose:
confluent-kafka 2.16 publishes only ``manylinux_2_28`` wheels, which need glibc 2.28, so the
``python3.11`` runtime cannot load it. The API uses the bus only for ``/health``'s ping; set
``STREAMKIT_API__CHECK_BUS=false`` on Lambda.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.packaging.tree import (
    PackagingError,
    TreeSize,
    distributions,
    measure,
    present,
    prune,
    write_zip,
)
from app.settings import PROJECT_ROOT

#: Lambda's limit on a function's unzipped code and layers: 250 MiB.
UNZIPPED_LIMIT = 262_144_000
#: What the API never needs; any of them inside means an extra or a dependency went wrong.
FORBIDDEN = ("pyspark", "pyarrow", "pandas", "streamlit")
DEFAULT_EXTRAS = ("api", "mongo")
DEFAULT_CONSTRAINTS = PROJECT_ROOT / "infra" / "local" / "constraints.txt"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """The interpreter and platform the package is for (pip's ``--python-version`` etc.)."""

    python_version: str = "3.11"
    implementation: str = "cp"
    platform: str = "manylinux2014_x86_64"


@dataclass(frozen=True)
class LambdaPackage:
    """A built package: where it is, what it holds and how big it is."""

    path: Path
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    distributions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def build_lambda_zip(
    out: Path,
    *,
    extras: Sequence[str] = DEFAULT_EXTRAS,
    constraints: Path | None = DEFAULT_CONSTRAINTS,
    project_root: Path = PROJECT_ROOT,
    target: Target = Target(),  # noqa: B008 - frozen, so one shared default is safe
    limit_bytes: int = UNZIPPED_LIMIT,
    progress: Progress = lambda _: None,
) -> LambdaPackage:
    """Build the zip at ``out`` (replaced if present) and describe it.

    Raises:
        PackagingError: pip failed, a forbidden package got in, or the tree is over
            ``limit_bytes``; nothing is written to ``out`` then.
    """
    started = time.perf_counter()
    if not (project_root / "pyproject.toml").is_file():
        msg = f"{project_root} is not a streamkit checkout (no pyproject.toml): build from one"
        raise PackagingError(msg)
    if constraints is not None and not constraints.is_file():
        msg = f"constraints file {constraints} not found (pass None to install without one)"
        raise PackagingError(msg)
    with tempfile.TemporaryDirectory(prefix="streamkit-lambda-") as tmp:
        wheel = build_wheel(project_root, Path(tmp) / "wheel", progress)
        staging = Path(tmp) / "package"
        install(wheel, extras, staging, constraints, target, progress)
        gone = prune_for_lambda(staging)
        progress(f"pruned {gone.files:,} files ({_mib(gone.bytes)}): scripts, bytecode, tests")
        installed = check(staging, limit_bytes, progress)
        progress(f"zipping into {out}")
        written = write_zip(staging, out)
    return LambdaPackage(
        path=out,
        files=written.files,
        unzipped_bytes=written.bytes,
        zipped_bytes=out.stat().st_size,
        distributions=installed,
        seconds=time.perf_counter() - started,
    )


def build_wheel(project_root: Path, into: Path, progress: Progress) -> Path:
    """Build streamkit's wheel from ``project_root`` into directory ``into``; returns its path."""
    progress(f"building the streamkit wheel from {project_root}")
    _pip(["wheel", "--no-deps", "--wheel-dir", str(into), str(project_root)], "wheel build")
    wheels = sorted(into.glob("streamkit-*.whl"))
    if len(wheels) != 1:
        msg = f"expected one streamkit wheel in {into}, found {[w.name for w in wheels]}"
        raise PackagingError(msg)
    return wheels[0]


def install_args(
    wheel: Path, extras: Sequence[str], into: Path, constraints: Path | None, target: Target
) -> list[str]:
    """The pip arguments that install ``wheel[extras]`` and its dependencies for ``target``."""
    args = ["install", "--target", str(into), "--no-compile", "--only-binary=:all:"]
    args += ["--platform", target.platform, "--implementation", target.implementation]
    args += ["--python-version", target.python_version]
    if constraints is not None:
        args += ["--constraint", str(constraints)]
    requirement = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    return [*args, requirement]


def install(
    wheel: Path,
    extras: Sequence[str],
    into: Path,
    constraints: Path | None,
    target: Target,
    progress: Progress,
) -> None:
    """``pip install --target into`` the wheel and its dependencies for ``target``."""
    pins = f", constraints {constraints}" if constraints else ""
    progress(
        f"installing streamkit[{','.join(extras)}] for {target.implementation}"
        f"{target.python_version} {target.platform}{pins}"
    )
    _pip(install_args(wheel, extras, into, constraints, target), "install")


def prune_for_lambda(staging: Path) -> TreeSize:
    """Remove what the function never runs; returns what was removed."""
    scripts = staging / "bin"  # console scripts with the build machine's shebang
    removed = measure(scripts) if scripts.is_dir() else TreeSize(0, 0)
    shutil.rmtree(scripts, ignore_errors=True)
    # direct_url.json records the temporary wheel's path: it would make every zip differ.
    for record in staging.glob("*.dist-info/direct_url.json"):
        removed = TreeSize(removed.files + 1, removed.bytes + record.stat().st_size)
        record.unlink()
    pruned = prune(staging)
    return TreeSize(removed.files + pruned.files, removed.bytes + pruned.bytes)


def check(staging: Path, limit_bytes: int, progress: Progress) -> dict[str, str]:
    """The distributions in ``staging``, once it is known to be deployable.

    Raises:
        PackagingError: a ``FORBIDDEN`` package is inside, or the tree exceeds ``limit_bytes``.
    """
    installed = distributions(staging)
    progress(
        f"{len(installed)} distributions: " + ", ".join(f"{n} {v}" for n, v in installed.items())
    )
    if found := present(staging, FORBIDDEN):
        msg = (
            f"the Lambda package must not hold {', '.join(found)}: an extra or a dependency of "
            "the API pulls it in (see `pip show` for who requires it)"
        )
        raise PackagingError(msg)
    size = measure(staging)
    share = 100 * size.bytes / limit_bytes
    progress(
        f"unzipped: {size.files:,} files, {_mib(size.bytes)} of {_mib(limit_bytes)} ({share:.0f} %)"
    )
    if size.bytes > limit_bytes:
        msg = (
            f"the package unzips to {_mib(size.bytes)}, over Lambda's limit of {_mib(limit_bytes)} "
            "(code and layers together); drop an extra or deploy a container image instead"
        )
        raise PackagingError(msg)
    return installed


def _pip(args: list[str], step: str) -> None:
    """Run pip with this interpreter; a failure becomes a ``PackagingError`` with pip's reason."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode == 0:
        return
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    msg = f"pip {step} failed (exit {done.returncode}):\n{tail}{missing_wheel_hint(done.stderr)}"
    raise PackagingError(msg)


def missing_wheel_hint(stderr: str) -> str:
    """Why pip found no wheel, when that is the failure: the usual cause on this target."""
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    if not missing:
        return ""
    return (
        f"\nno manylinux2014 (glibc <= 2.26) wheel of {missing[0]}: Lambda's python3.11 runtime "
        "(Amazon Linux 2) cannot load newer ones. Leave out the extra that needs it "
        "(kafka: set STREAMKIT_API__CHECK_BUS=false instead)."
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.0f} KiB"
