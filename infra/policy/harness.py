"""Run a Pulumi program under mocks and record what it registers: no CLI, plugin or cloud.

``pulumi.runtime.set_mocks`` is process-wide, so each program runs in a process of its own:
tests call :func:`run_in_subprocess`, which runs this module's command line::

    python -m infra.policy.harness infra/aws --stack dev --set api.lambdaZip=/tmp/lambda.zip
    python -m infra.policy.harness --fixtures infra.policy.fixtures.aws

and prints JSON: the recorded resources, the stack outputs, the program's warnings
(``pulumi.log.warn``) and the policy violations. The
program's configuration is read as the CLI would: ``Pulumi.yaml`` for the project name and
``Pulumi.<stack>.yaml`` for the values, with ``--set`` overrides on top (``--path`` style).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import runpy
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from infra.policy.checks import run_checks
from infra.policy.mock_outputs import MockContext, call_result, resource_state
from infra.policy.recorded import Resource, Resources, reveal, secret

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ProgramRun:
    """What one program registered and exported."""

    resources: Resources
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """Inputs as JSON-ready data: assets and archives become small dicts."""
    if isinstance(value, pulumi.FileAsset | pulumi.StringAsset | pulumi.RemoteAsset):
        kind = type(value).__name__.removesuffix("Asset").lower()
        return {
            "asset": kind,
            "path": getattr(value, "path", None),
            "text": getattr(value, "text", None),
        }
    if isinstance(value, pulumi.FileArchive | pulumi.RemoteArchive):
        return {"archive": "file", "path": value.path}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": "assets", "assets": {k: _plain(v) for k, v in value.assets.items()}}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer with plausible outputs and record every registration."""

    def __init__(self, ctx: MockContext) -> None:
        """Answer as if the resources lived where ``ctx`` says."""
        self.ctx = ctx
        self.resources: list[Resource] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Record the registration and answer with the type's plausible outputs."""
        resource_id, state = resource_state(args.typ, args.name, args.inputs, self.ctx)
        record = Resource(args.typ, args.name, _plain(args.inputs), resource_id, bool(args.custom))
        self.resources.append(record)
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """Answer a data source (invoke) with fixed, plausible values."""
        self.calls.append(args.token)
        return call_result(args.token, args.args, self.ctx)


class WarningLog(logging.Handler):
    """What a program logs at warning level or above (``pulumi.log.warn``, ``.error``).

    The mock engine hands the program's log messages to a :class:`logging.Logger`; this one
    keeps them, so a test can read a warning the CLI would print.
    """

    def __init__(self) -> None:
        """Keep warnings and errors."""
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message."""
        self.messages.append(record.getMessage())

    def logger(self) -> logging.Logger:
        """A logger of one run's own (not registered: nothing else writes to it)."""
        logger = logging.Logger("pulumi-program")
        logger.addHandler(self)
        return logger


async def _settle() -> dict[str, Any]:
    """The stack's outputs, a secret one wrapped as a secret (its wire form)."""
    await wait_for_rpcs()
    root = get_root_resource()
    settled = {}
    for key, value in (getattr(root, "outputs", {}) or {}).items():
        output = pulumi.Output.from_input(value)
        plain = _plain(await output.future())
        settled[key] = secret(plain) if await output.is_secret() else plain
    return settled


def run_program(
    program: Path | Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    ctx: MockContext | None = None,
) -> ProgramRun:
    """Run ``program`` (a ``__main__.py`` path or a callable) under recording mocks."""
    mocks = RecordingMocks(ctx or _context(config))
    log = WarningLog()
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, logger=log.logger()
    )
    pulumi.runtime.set_all_config(dict(config), [])
    SETTINGS.rpc_manager.clear()
    root = get_root_resource()
    if root is not None:
        root.outputs.clear()
    if callable(program):
        program()
    else:
        runpy.run_path(str(program), run_name="__main__")
    outputs = _sync_await(_settle())
    return ProgramRun(
        Resources(mocks.resources, outputs), reveal(outputs), mocks.calls, log.messages
    )


def _context(config: Mapping[str, str]) -> MockContext:
    return MockContext(
        aws_region=config.get("aws:region", "eu-west-1"),
        gcp_project=config.get("gcp:project", "streamkit-test"),
        gcp_region=config.get("gcp:region", "europe-west1"),
    )


def _config_value(value: Any) -> str:
    if isinstance(value, dict) and "secure" in value:
        msg = "encrypted config values cannot be read without the CLI; pass them with --set"
        raise ValueError(msg)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def stack_config(program_dir: Path, stack: str) -> tuple[str, dict[str, str]]:
    """The project name and the config of ``Pulumi.<stack>.yaml``, as the CLI passes them."""
    project = yaml.safe_load((program_dir / "Pulumi.yaml").read_text())["name"]
    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    values = (
        (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
        if stack_file.exists()
        else {}
    )
    config = {}
    for key, value in values.items():
        full = key if ":" in key else f"{project}:{key}"
        config[full] = _config_value(value)
    return project, config


def set_path(config: dict[str, str], project: str, item: str) -> None:
    """Apply ``key=value`` as ``pulumi config set --path`` would.

    ``job.wheel=x`` sets one key of the ``job`` object; the value is JSON when it parses as
    JSON, else a string.
    """
    key, _, raw = item.partition("=")
    key = key if ":" in key else f"{project}:{key}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    group, dot, field = key.partition(".")
    if not dot:
        config[key] = _config_value(value)
        return
    current = json.loads(config.get(group, "{}"))
    current[field] = value
    config[group] = json.dumps(current)


def _run_fixtures(module_name: str) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    report = {}
    for name, fixture in module.FIXTURES.items():
        run = run_program(fixture.program, project="fixture", stack=name, config=fixture.config)
        report[name] = {
            "expect": sorted(fixture.expect),
            "resources": run.resources.to_json(),
            "violations": [v.to_json() for v in run_checks(run.resources)],
        }
    return {"fixtures": report}


def _run_stack(program_dir: Path, stack: str, overrides: list[str]) -> dict[str, Any]:
    project, config = stack_config(program_dir, stack)
    for item in overrides:
        set_path(config, project, item)
    run = run_program(program_dir / "__main__.py", project=project, stack=stack, config=config)
    return {
        "project": project,
        "stack": stack,
        "resources": run.resources.to_json(),
        "outputs": run.outputs,
        "calls": run.calls,
        "warnings": run.warnings,
        "violations": [v.to_json() for v in run_checks(run.resources)],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run a program (or a fixtures module) and print the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m infra.policy.harness", description=__doc__)
    parser.add_argument("program", nargs="?", type=Path, help="directory holding Pulumi.yaml")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--fixtures", metavar="MODULE", help="run a fixtures module instead")
    parser.add_argument(
        "--summary", action="store_true", help="print resource counts and violations, not JSON"
    )
    args = parser.parse_args(argv)
    if args.fixtures:
        report = _run_fixtures(args.fixtures)
    elif args.program:
        report = _run_stack(args.program.resolve(), args.stack, args.set)
    else:
        parser.error("give a program directory or --fixtures MODULE")
    if args.summary:
        sys.stdout.write(_summary(report))
        return 1 if _violations(report) and not args.fixtures else 0
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    return 0


def _violations(report: dict[str, Any]) -> list[dict[str, str]]:
    if "fixtures" in report:
        return [v for f in report["fixtures"].values() for v in f["violations"]]
    return list(report["violations"])


def _summary(report: dict[str, Any]) -> str:
    """A human-readable report: what was registered, exported and found."""
    if "fixtures" in report:
        lines = [
            f"{name}: expects {', '.join(f['expect'])}; found "
            + ", ".join(sorted({v["check"] for v in f["violations"]}) or ["nothing"])
            for name, f in report["fixtures"].items()
        ]
        return "\n".join(lines) + "\n"
    counts: dict[str, int] = {}
    for resource in report["resources"]:
        counts[resource["type"]] = counts.get(resource["type"], 0) + 1
    lines = [f"{report['project']} ({report['stack']}): {len(report['resources'])} resources"]
    lines += [f"  {n:3d}  {t}" for t, n in sorted(counts.items())]
    lines += ["outputs:"] + [f"  {k} = {v}" for k, v in report["outputs"].items()]
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    found = report["violations"]
    lines += [f"policy: {len(found)} violations"] + [
        f"  [{v['check']}] {v['type']} {v['name']}: {v['message']}" for v in found
    ]
    return "\n".join(lines) + "\n"


def run_in_subprocess(*args: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Run the harness command line in a fresh interpreter (mocks are process-wide)."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "infra.policy.harness", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"harness {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        raise RuntimeError(msg)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    raise SystemExit(main())
