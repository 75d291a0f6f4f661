"""Bad input everywhere: every CLI error is a short message naming the fix, never a traceback.

Runs the real entry point (``python -m app.cli``) in a subprocess, with every
service URL pointing at a closed port, so "service down" is real and nothing
touches the local stack. Usage errors (bad options, missing files) are
typer's boxed message; everything else one ``error:`` paragraph.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.errors import ConfigurationError
from app.cli import main as cli_main
from app.cli.output import fail_on_error

ROOT = Path(__file__).resolve().parents[2]
CLOSED_BUS = "kafka://127.0.0.1:1/events_raw"
CLOSED_DEADLETTER = "kafka://127.0.0.1:1/events_deadletter"
# URL options win over the binding's 5 s defaults: a refused port needs no longer.
CLOSED_STORE = "mongodb://127.0.0.1:1/streamkit?serverSelectionTimeoutMS=2000"
#: A closed port must be reported within this many seconds (Kafka's metadata wait is 10 s).
BOUND_S = 30.0
BOX = str.maketrans(dict.fromkeys("│╭╮╰╯─", " "))


@dataclass(frozen=True)
class Case:
    args: list[str]
    phrases: tuple[str, ...]  # each must appear in the message
    env: dict[str, str] = field(default_factory=dict)
    usage: bool = False  # typer's usage error (exit 2, boxed) rather than an `error:` line
    code: int = 2


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs that are wrong in one way each."""
    root = tmp_path_factory.mktemp("inputs")
    made = {
        "garbage.csv": bytes(range(256)) * 64,
        "wrong-header.csv": b"when,what,who\n2026-11-25T18:00:00Z,view,u1\n",
        "not-gzip.csv.gz": b"event_id,event_time\ne1,2026-11-25T18:00:00Z\n",
        "valid.jsonl": b'{"event_id": "e1", "event_type": "page_view"}\n',
        "outputs-garbage.json": b"\x00\x01 not json",
        "outputs-empty.json": b"{}",
        "a-file": b"not a directory",
    }
    for name, data in made.items():
        (root / name).write_bytes(data)
    return {name: root / name for name in made} | {"dir": root}


CASES: dict[str, Case] = {
    # ------------------------------------------------------------ missing files
    "replay/missing-file": Case(["replay", "{dir}/nope.csv"], ("does not exist",), usage=True),
    "demo/missing-input": Case(
        ["demo", "--no-up", "--input", "{dir}/nope.csv"], ("does not exist",), usage=True
    ),
    "job/missing-outputs": Case(
        ["job", "status", "--env", "aws", "--outputs", "{dir}/nope.json"],
        ("does not exist",),
        usage=True,
    ),
    "generate/out-under-a-file": Case(
        ["generate", "--events", "1000", "--out", "{dir}/a-file/events.csv"],
        ("cannot write", "pass --out a path in a writable directory"),
    ),
    "generate/out-is-a-directory": Case(
        ["generate", "--events", "1000", "--out", "{dir}"], ("is a directory; name a file",)
    ),
    "schema/out-under-a-file": Case(
        ["schema", "show", "--out", "{dir}/a-file/schema.json"],
        ("cannot write", "pass --out a file in a writable directory"),
    ),
    "schema/check-missing-file": Case(
        ["schema", "check", "{dir}/nope.json", "{dir}/nope2.json"],
        ("cannot read", "pass the path of a JSON Schema file"),
    ),
    # ------------------------------------------------------------ wrong formats
    "replay/binary-garbage": Case(
        ["replay", "{dir}/garbage.csv"], ("cannot tell the format", "--format native"), usage=True
    ),
    "replay/csv-wrong-header": Case(
        ["replay", "{dir}/wrong-header.csv"], ("cannot tell the format", "rees46"), usage=True
    ),
    "replay/csv-wrong-header-native": Case(
        ["replay", "--format", "native", "{dir}/wrong-header.csv"],
        ("needs a header row naming the contract's fields",),
        usage=True,
    ),
    "replay/gz-not-gzip": Case(
        ["replay", "{dir}/not-gzip.csv.gz"], ("gzipped only if named .gz",), usage=True
    ),
    "job/outputs-not-json": Case(
        ["job", "status", "--env", "aws", "--outputs", "{dir}/outputs-garbage.json"],
        ("is not JSON", "pulumi stack output --json"),
    ),
    "job/outputs-of-another-stack": Case(
        ["job", "status", "--env", "aws", "--outputs", "{dir}/outputs-empty.json"],
        ("no 'job_run_request'", "infra/aws"),
    ),
    # ----------------------------------------------------------------- bad URLs
    "replay/bus-unknown-scheme": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_BUS_URL", "known: kafka://"),
        env={"STREAMKIT_BUS_URL": "nats://127.0.0.1:1/events"},
    ),
    "replay/bus-without-host": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_BUS_URL", "expected kafka://host:port/topic"),
        env={"STREAMKIT_BUS_URL": "kafka:///events_raw"},
    ),
    "replay/bus-without-topic": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_BUS_URL", "must name exactly one topic"),
        env={"STREAMKIT_BUS_URL": "kafka://127.0.0.1:1"},
    ),
    "replay/bus-bad-port": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_BUS_URL", "bad port in '127.0.0.1:99999'", "expected host:port"),
        env={"STREAMKIT_BUS_URL": "kafka://127.0.0.1:99999/events_raw"},
    ),
    "replay/bus-unknown-kafka-option": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_BUS_URL", 'No such configuration property: "no.such.option"'),
        env={"STREAMKIT_BUS_URL": "kafka://127.0.0.1:1/events_raw?no.such.option=1"},
    ),
    "replay/deadletter-unknown-scheme": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("STREAMKIT_DEADLETTER_URL", "known: kafka://"),
        env={"STREAMKIT_DEADLETTER_URL": "amqp://127.0.0.1:1/dead"},
    ),
    "kpis/store-unknown-scheme": Case(
        ["kpis"],
        ("STREAMKIT_HOT_STORE_URL", "known: memory://, mongodb://"),
        env={"STREAMKIT_HOT_STORE_URL": "redis://127.0.0.1:1/0"},
    ),
    "kpis/store-malformed": Case(
        ["kpis"],
        ("STREAMKIT_HOT_STORE_URL", "bad MongoDB URL"),
        env={"STREAMKIT_HOT_STORE_URL": "mongodb://127.0.0.1:port/streamkit"},
    ),
    "api/store-unknown-scheme": Case(
        ["api", "--port", "1"],
        ("STREAMKIT_HOT_STORE_URL", "known: memory://, mongodb://"),
        env={"STREAMKIT_HOT_STORE_URL": "postgres://127.0.0.1:1/x"},
    ),
    "pipeline/archive-unknown-scheme": Case(
        ["pipeline", "--once"],
        ("STREAMKIT_ARCHIVE_URL", "known: file://"),
        env={"STREAMKIT_ARCHIVE_URL": "ftp://127.0.0.1:1/archive"},
    ),
    # ------------------------------------------------------------ services down
    "replay/kafka-down": Case(
        ["replay", "{dir}/valid.jsonl"],
        ("did not answer", "streamkit local up", "point STREAMKIT_BUS_URL at a reachable one"),
    ),
    "kpis/mongo-down": Case(
        ["kpis"], ("streamkit local up", "point STREAMKIT_HOT_STORE_URL at a reachable one")
    ),
    "pipeline/kafka-down": Case(
        ["pipeline", "--once"],
        ("did not answer", "streamkit local up", "point STREAMKIT_BUS_URL at a reachable one"),
    ),
    # ------------------------------------------------------- bad option values
    "unknown-command": Case(["replya"], ("No such command 'replya'",), usage=True),
    "replay/bad-rate": Case(
        ["replay", "--rate", "fast", "{dir}/valid.jsonl"],
        ("--rate must be a positive number",),
        usage=True,
    ),
    "kpis/bad-time": Case(["kpis", "--from", "yesterday"], ("ISO 8601",), usage=True),
    "generate/zero-events": Case(
        ["generate", "--events", "0"], ("greater than or equal to 1",), usage=True
    ),
    "generate/bad-start": Case(
        ["generate", "--events", "1000", "--start", "soon", "--out", "{dir}/new.csv"],
        ("not an ISO 8601 time with offset",),
    ),
    "job/unknown-cloud": Case(
        ["job", "status", "--env", "azure", "--outputs", "{dir}/outputs-empty.json"],
        ("knows aws", "gcp"),
    ),
    "rehearse/unknown-target": Case(
        ["rehearse", "--to", "azure"], ("not a binding set", "choose"), usage=True
    ),
    "bench/bad-job-env": Case(
        ["bench", "backfill", "--no-up", "--job-env", "SPARK=1"],
        ("STREAMKIT_NAME=VALUE",),
        usage=True,
    ),
    "dashboard/api-not-http": Case(
        ["dashboard", "--api", "ftp://127.0.0.1:1"], ("--api must be an http",), usage=True
    ),
    "config/setting-not-a-number": Case(
        ["config"],
        ("STREAMKIT_PIPELINE__TRIGGER_SECONDS", "unset it for the default"),
        env={"STREAMKIT_PIPELINE__TRIGGER_SECONDS": "fast"},
    ),
    "config/setting-not-json": Case(
        ["config"],
        ("STREAMKIT_SPARK__*", "unset it for the default"),
        env={"STREAMKIT_SPARK__CONF": "{not json"},
    ),
    "kpis/unknown-environment": Case(
        ["kpis"], ("STREAMKIT_ENV", "'development'"), env={"STREAMKIT_ENV": "staging"}
    ),
    "api/production-without-keys": Case(
        ["api", "--port", "1"],
        ("no STREAMKIT_API__KEYS", "STREAMKIT_API__ALLOW_OPEN=true"),
        env={"STREAMKIT_ENV": "production"},
    ),
}


def environment(tmp: Path, **changes: str) -> dict[str, str]:
    """No STREAMKIT_* of the caller; every service on a closed port; state in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env |= {
        "STREAMKIT_BUS_URL": CLOSED_BUS,
        "STREAMKIT_DEADLETTER_URL": CLOSED_DEADLETTER,
        "STREAMKIT_HOT_STORE_URL": CLOSED_STORE,
        "STREAMKIT_STATE_DIR": str(tmp / "state"),
        "STREAMKIT_CACHE_DIR": str(tmp / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
    return env | changes


def streamkit(
    args: list[str], env: dict[str, str], *, timeout: float = BOUND_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def plain(text: str) -> str:
    """``text`` without typer's box and with its line wrapping undone."""
    return " ".join(text.translate(BOX).split())


def error_paragraph(stderr: str) -> list[str]:
    """The lines of stderr, which must be one ``error:`` paragraph and nothing else."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error: "), stderr
    return lines


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_is_a_short_error_naming_the_fix(
    name: str, files: dict[str, Path], tmp_path: Path
) -> None:
    case = CASES[name]
    args = [a.format(dir=files["dir"]) for a in case.args]
    started = time.monotonic()
    result = streamkit(args, environment(tmp_path, **case.env))
    elapsed = time.monotonic() - started
    assert result.returncode == case.code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    if case.usage:
        assert "Usage: " in result.stderr, result.stderr
    else:
        assert len(error_paragraph(result.stderr)) <= 3, result.stderr
    for phrase in case.phrases:
        assert phrase in plain(result.stderr), result.stderr
    assert elapsed < BOUND_S


# ------------------------------------------------------------- unexpected errors

BOOM = (
    "import app.cli.main as m\n"
    "def boom():\n"
    "    raise RuntimeError('boom\\nsecond line')\n"
    "m.load_settings = boom\n"
    "m.run()\n"
)


@pytest.mark.parametrize(
    ("args", "env", "debug"),
    [
        (["config"], {}, False),
        (["--debug", "config"], {}, True),
        (["config"], {"STREAMKIT_DEBUG": "1"}, True),
    ],
    ids=["default", "--debug", "STREAMKIT_DEBUG=1"],
)
def test_an_unexpected_error_is_one_line_unless_debugging(
    args: list[str], env: dict[str, str], debug: bool, tmp_path: Path
) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-c", BOOM, *args],
        cwd=ROOT,
        env=environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        check=False,
    )
    assert result.returncode == 1
    if debug:
        assert "Traceback (most recent call last)" in result.stderr
        assert "RuntimeError: boom" in result.stderr
    else:
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [
            "error: unexpected RuntimeError: boom second line — this is a bug; "
            "rerun with --debug for the traceback"
        ]


def test_debug_also_shows_where_a_known_error_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse() -> None:
        msg = "STREAMKIT_BUS_URL: no bus binding"
        raise ConfigurationError(msg)

    monkeypatch.setenv("STREAMKIT_DEBUG", "0")  # restored after the test: --debug sets it
    monkeypatch.setattr(cli_main, "load_settings", refuse)
    quiet = CliRunner().invoke(cli_main.app, ["config"])
    loud = CliRunner().invoke(cli_main.app, ["--debug", "config"])
    assert (quiet.exit_code, loud.exit_code) == (2, 2)
    assert quiet.stderr == "error: STREAMKIT_BUS_URL: no bus binding\n"
    assert "Traceback" in loud.stderr
    assert loud.stderr.endswith("error: STREAMKIT_BUS_URL: no bus binding\n")


def test_typer_exits_and_usage_errors_pass_through() -> None:
    @fail_on_error
    def stops(code: int) -> None:
        if code:
            raise typer.Exit(code)
        msg = "--x must be positive"
        raise typer.BadParameter(msg)

    with pytest.raises(typer.Exit):
        stops(3)
    with pytest.raises(typer.BadParameter):
        stops(0)


# ------------------------------------------------------------- every command


def commands(app: typer.Typer, path: str = "streamkit") -> dict[str, object]:
    """Each command and group callback of ``app``, by its command line."""
    found: dict[str, object] = {}
    if app.registered_callback and app.registered_callback.callback and path != "streamkit":
        found[path] = app.registered_callback.callback
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or info.callback.__name__.replace("_", "-")
        found[f"{path} {name}"] = info.callback
    for group in app.registered_groups:
        assert group.typer_instance is not None
        found |= commands(group.typer_instance, f"{path} {group.name}")
    return found


def test_every_command_is_wrapped_by_fail_on_error() -> None:
    wrapper = fail_on_error(print).__code__
    found = commands(cli_main.app)
    assert len(found) >= 23, sorted(found)
    unwrapped = [name for name, fn in found.items() if getattr(fn, "__code__", None) is not wrapper]
    assert unwrapped == []
