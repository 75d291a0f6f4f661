"""The job's entry script: the platform's session first, then `streamkit pipeline <args>`."""

from __future__ import annotations

import os
import sys

import pytest
from typer.testing import CliRunner

from infra.common import spark_entry


@pytest.fixture(autouse=True)
def _restore_jars_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() sets STREAMKIT_SPARK__JARS: have it restored (other tests build Spark sessions)."""
    monkeypatch.setenv("STREAMKIT_SPARK__JARS", "")
    monkeypatch.delenv("STREAMKIT_SPARK__JARS")


def test_runs_the_pipeline_command_on_the_platform_session(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(sys, "argv", ["entry.py"])
    spark_entry.main(
        ["--once"],
        session=lambda: calls.append("session"),
        cli=lambda: calls.append(list(sys.argv)),
    )
    assert calls == ["session", ["streamkit", "pipeline", "--once"]]
    assert os.environ["STREAMKIT_SPARK__JARS"]  # no Maven resolution in the clouds


def test_the_default_cli_is_streamkits_console_script(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.cli.main

    seen: list[list[str]] = []
    monkeypatch.setattr(app.cli.main, "run", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["entry.py"])
    spark_entry.main(["--reset"], session=lambda: None)
    assert seen == [["streamkit", "pipeline", "--reset"]]


def test_the_pipeline_command_takes_the_arguments_the_entry_passes() -> None:
    from app.cli.main import app

    result = CliRunner().invoke(app, ["pipeline", "--help"])
    assert result.exit_code == 0
    assert "--once" in result.output and "--reset" in result.output
