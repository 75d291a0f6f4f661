"""The Dockerfile, its build context and the compose services built from it must agree.

No Docker engine here: these read the files. The API's entry command is also run natively in
tests/integration/test_container_entry.py, and compose validates the file in
tests/integration/test_compose_config.py.
"""

from __future__ import annotations

import fnmatch

import yaml

from app.cli.dashboard import SCRIPT
from tests.support.dockerfile import ROOT, argv, stage, stages

FINAL = ("api", "dashboard")


def test_the_api_is_the_default_target_and_the_dashboard_a_named_one() -> None:
    names = [s.name for s in stages()]
    assert names[-1] == "api"
    assert "dashboard" in names
    assert len(names) == len(set(names))


def test_images_start_from_python_311_slim() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert {s.base for s in stages() if s.name in ("build", "runtime")} == {"${PYTHON_IMAGE}"}


def test_each_image_installs_only_its_extras_under_the_constraints() -> None:
    api = " ".join(stage("build-api").all("RUN"))
    dashboard = " ".join(stage("build-dashboard").all("RUN"))
    assert '".[api,mongo,kafka]"' in api and "--constraint constraints.txt" in api
    assert '".[dashboard]"' in dashboard and "--constraint constraints.txt" in dashboard
    assert "spark" not in api + dashboard


def test_final_images_run_as_an_unprivileged_user_on_port() -> None:
    for name in FINAL:
        final = stage(name)
        user = final.last("USER").split(":")[0]
        assert user.isdigit() and int(user) >= 1000, name
        assert final.all("HEALTHCHECK"), name
    script = argv(stage("api").last("CMD"))
    assert script[:2] == ["sh", "-c"] and script[2].startswith("exec ")
    assert '"${PORT:-8080}"' in script[2]
    assert stage("runtime").all("EXPOSE") == ["8080"]


def test_the_dashboard_execs_the_command_of_streamkit_dashboard() -> None:
    ran = argv(stage("dashboard").last("CMD"))
    assert ran[:2] == ["python", "-c"]
    code = ran[2]
    # Takes the CLI's own command (no copied flags to drift) and replaces itself with it.
    assert "from app.cli.dashboard import command" in code
    assert "os.execv(" in code and "os.environ.get('PORT')" in code
    assert "'0.0.0.0'" in code
    assert SCRIPT.is_file()


def context_allows(path: str) -> bool:
    """Whether .dockerignore lets ``path`` (a COPY source) into the build context."""
    allowed = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        hit = fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
        if hit:
            allowed = negate
    return allowed


def test_every_copied_file_is_in_the_build_context() -> None:
    sources = []
    for s in stages():
        for value in s.all("COPY"):
            words = value.split()
            if any(w.startswith("--from") for w in words):
                continue
            sources += [w for w in words[:-1] if not w.startswith("--")]
    assert sources, "no COPY found"
    for source in sources:
        assert (ROOT / source).exists(), source
        assert context_allows(source), f"{source} is excluded by .dockerignore"
    for excluded in (".git", ".venv", ".streamkit", "data", "dist", "tests", "app/__pycache__"):
        assert not context_allows(excluded), excluded


def test_compose_builds_targets_that_exist() -> None:
    services = yaml.safe_load((ROOT / "infra/local/compose.yaml").read_text())["services"]
    names = {s.name for s in stages()}
    built = {n: s["build"] for n, s in services.items() if "build" in s}
    assert set(built) == {"api", "dashboard"}
    for name, build in built.items():
        assert build["target"] == name and build["target"] in names
        assert (ROOT / "infra/local" / build["context"]).resolve() == ROOT
    api, dashboard = services["api"], services["dashboard"]
    assert api["environment"]["STREAMKIT_BUS_URL"].startswith("kafka://kafka:29092/")
    assert api["environment"]["STREAMKIT_HOT_STORE_URL"].startswith("mongodb://mongo:27017/")
    assert api["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert dashboard["environment"]["STREAMKIT_DASHBOARD__API_URL"] == "http://api:8080"
    assert api["ports"] == ["127.0.0.1:8000:8080"]
    assert dashboard["ports"] == ["127.0.0.1:8501:8080"]


def test_the_served_dashboard_shows_viewers_no_tracebacks() -> None:
    from app.cli.dashboard import command  # noqa: PLC0415 - the one name this test needs

    argv = command("0.0.0.0", 8501)  # noqa: S104 - a container's interface
    at = argv.index("--client.showErrorDetails")
    assert argv[at + 1] == "none"
