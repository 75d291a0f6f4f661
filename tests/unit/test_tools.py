"""The local stack names the fix when a build tool is missing or too old."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.localstack.tools import LocalStackError, require, require_java, run_build


def test_a_missing_tool_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LocalStackError, match=r"`mvn` is not on PATH; install Maven"):
        require("mvn", "install Maven")


def fake_java(tmp_path: Path, version_line: str) -> str:
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', True),
        ('openjdk version "21" 2023-09-19', True),
        ('openjdk version "11.0.2" 2019-01-15', False),
        ('java version "1.8.0_391"', False),
        ("garbage", False),
    ],
)
def test_java_version_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, ok: bool
) -> None:
    monkeypatch.setenv("PATH", fake_java(tmp_path, line))
    if ok:
        assert require_java(17).endswith("/java")
    else:
        with pytest.raises(LocalStackError, match="Java 17"):
            require_java(17)


def test_a_failed_build_shows_its_output_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError, match=r"(?s)exit 3.*boom.*do this"):
        run_build(["sh", "-c", "echo boom; exit 3"], tmp_path, "the step", "do this")
