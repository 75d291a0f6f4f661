"""The file-tree steps of a deployment package: prune, measure, inspect, zip deterministically.

Nothing here knows about Lambda or pip; :mod:`app.packaging.lambda_zip` applies these
steps to a ``pip install --target`` tree.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from adapters.errors import StreamkitError

#: Directories no deployed package needs: bytecode caches (the runtime compiles in memory
#: when the code directory is read-only) and the test suites some wheels ship.
PRUNED_DIRS = frozenset({"__pycache__", "tests", "test"})
PRUNED_SUFFIXES = (".pyc", ".pyo")
#: Every entry gets this time: the zip's bytes then depend only on the files' contents.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(StreamkitError):
    """A package could not be built, or was built but must not be deployed."""


@dataclass(frozen=True)
class TreeSize:
    """Regular files under a directory and their total size."""

    files: int
    bytes: int


def prune(root: Path) -> TreeSize:
    """Delete ``PRUNED_DIRS`` and stray bytecode under ``root``; returns what was removed."""
    removed_files = removed_bytes = 0
    # Deepest first, so a pruned directory never hides one below it from the count.
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_symlink() or not path.exists():
            continue
        if path.is_dir() and path.name in PRUNED_DIRS:
            size = measure(path)
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in PRUNED_SUFFIXES:
            size = TreeSize(1, path.stat().st_size)
            path.unlink()
        else:
            continue
        removed_files += size.files
        removed_bytes += size.bytes
    return TreeSize(removed_files, removed_bytes)


def measure(root: Path) -> TreeSize:
    """The regular files under ``root`` (symlinks not followed): what unzipping would write."""
    sizes = [p.lstat().st_size for p in root.rglob("*") if stat.S_ISREG(p.lstat().st_mode)]
    return TreeSize(len(sizes), sum(sizes))


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``PyYAML`` -> ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(root: Path) -> dict[str, str]:
    """The distributions installed in ``root`` (by their ``*.dist-info``): name -> version."""
    found = metadata.distributions(path=[str(root)])
    return dict(sorted((normalize(d.metadata["Name"]), d.version) for d in found))


def present(root: Path, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` ``root`` holds, as a distribution or as a top-level import name.

    Both, because a package vendored without its ``dist-info`` is still imported by its
    directory or module name.
    """
    installed = distributions(root)
    tops = {p.name if p.is_dir() else p.name.split(".")[0] for p in root.iterdir()}
    return [n for n in names if normalize(n) in installed or n.replace("-", "_") in tops]


def write_zip(root: Path, out: Path) -> TreeSize:
    """Zip every regular file under ``root`` into ``out``, byte-for-byte reproducibly.

    Entries in sorted path order, each with a fixed time and a mode of 0644 (0755 when the
    owner may execute it), deflated at a fixed level: the same tree gives the same zip on any
    machine and at any time. Returns the files and uncompressed bytes written.

    Raises:
        PackagingError: ``root`` holds a symlink (a zip for Lambda cannot carry one).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    files = sorted(
        (p for p in root.rglob("*") if not p.is_dir()), key=lambda p: p.relative_to(root).parts
    )
    if links := [p for p in files if p.is_symlink()]:
        msg = f"{links[0]} is a symlink; a zip for Lambda needs real files"
        raise PackagingError(msg)
    total = 0
    with zipfile.ZipFile(partial, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so unzip and Lambda honour the mode below
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            data = path.read_bytes()
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            total += len(data)
    partial.replace(out)  # never leave a half-written zip under the final name
    return TreeSize(len(files), total)
