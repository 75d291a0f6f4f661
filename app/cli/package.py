"""``streamkit package``: deployment packages (the Lambda zip of the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import echo, fail_on_error

app = typer.Typer(
    help="Build deployment packages: the AWS Lambda zip of the KPI API.",
    no_args_is_help=True,
)


@app.callback()
@fail_on_error
def package() -> None:
    """Build deployment packages: the AWS Lambda zip of the KPI API."""


@app.command("lambda")
@fail_on_error
def package_lambda(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the zip (replaced if present).")
    ] = Path("dist") / "lambda.zip",
    extras: Annotated[
        str,
        typer.Option(
            help="Comma-separated extras of streamkit to install with it. Not kafka: its wheels "
            "need a newer glibc than the python3.11 runtime has."
        ),
    ] = "api,mongo",
    constraints: Annotated[
        Path | None,
        typer.Option(
            help="pip constraints file pinning the dependencies "
            "[default: infra/local/constraints.txt of the project]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the Lambda zip of the API: streamkit with its api and mongo extras, no Spark.

    Builds streamkit's wheel, installs it with its extras for CPython 3.11 on
    manylinux2014_x86_64 (the wheels Lambda's Amazon Linux 2 can load, from any build
    machine), prunes bytecode, scripts and test suites, refuses pyspark, pyarrow, pandas
    and streamlit, checks Lambda's 250 MiB unzipped limit and writes a reproducible zip.
    Needs PyPI (pip's cache makes later builds quick). Deploy with the handler
    app.api.lambda_handler.handler (see that module for the steps).
    """
    from app.packaging.lambda_zip import DEFAULT_CONSTRAINTS, build_lambda_zip

    wanted = tuple(e.strip() for e in extras.split(",") if e.strip())
    package = build_lambda_zip(
        out, extras=wanted, constraints=constraints or DEFAULT_CONSTRAINTS, progress=echo
    )
    echo(
        f"wrote {package.path}: {package.files:,} files, {package.unzipped_bytes / 2**20:,.1f} MiB "
        f"unzipped, {package.zipped_bytes / 2**20:,.1f} MiB zipped, in {package.seconds:.0f} s"
    )
