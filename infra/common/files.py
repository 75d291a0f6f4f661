"""Local files a stack uploads (job environment, wheel, Lambda zip, CA bundle), checked early."""

from __future__ import annotations

from pathlib import Path

#: The repository root: stack config paths are relative to it, wherever `pulumi` runs.
REPO_ROOT = Path(__file__).resolve().parents[2]


def local_file(path: str, what: str, how: str) -> Path:
    """``path`` (relative to the repository root) as an absolute path that must exist.

    Raises FileNotFoundError naming the file's purpose and how to build it, so ``pulumi up``
    fails before any resource is touched instead of half-way through an upload.
    """
    resolved = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    if not resolved.is_file():
        msg = f"{what} not found at {resolved}: {how}"
        raise FileNotFoundError(msg)
    return resolved
