"""The Lambda package's policies on small real trees: prune, refuse, measure, zip reproducibly.

The full build (pip against PyPI) is tests/integration/test_lambda_package.py.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from app.packaging.lambda_zip import (
    FORBIDDEN,
    Target,
    build_lambda_zip,
    check,
    install_args,
    missing_wheel_hint,
    prune_for_lambda,
)
from app.packaging.tree import PackagingError, distributions, measure, present, write_zip


def write(root: Path, relative: str, data: bytes | str = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def dist_info(root: Path, name: str, version: str) -> None:
    folder = f"{name.replace('-', '_')}-{version}.dist-info"
    write(root, f"{folder}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    write(root, f"{folder}/RECORD", "")


def site(tmp_path: Path) -> Path:
    """A tree like ``pip install --target`` leaves: packages, dist-info, scripts, caches."""
    root = tmp_path / "site"
    write(root, "fastapi/__init__.py", "VERSION = 1\n")
    write(root, "fastapi/__pycache__/__init__.cpython-311.pyc", b"\0" * 100)
    write(root, "somepkg/tests/test_it.py", "def test(): pass\n")
    write(root, "somepkg/tests/data/big.bin", b"\0" * 1000)
    write(root, "somepkg/testing.py", "HELPERS = 1\n")  # a module, not a test suite: kept
    write(root, "somepkg/core.pyc", b"\0" * 10)
    write(root, "bin/uvicorn", "#!/build/machine/python\n")
    dist_info(root, "fastapi", "0.165.0")
    write(root, "fastapi-0.165.0.dist-info/direct_url.json", '{"url": "file:///tmp/xyz"}')
    return root


def test_prune_removes_scripts_bytecode_test_suites_and_build_paths(tmp_path: Path) -> None:
    root = site(tmp_path)
    before = measure(root)
    removed = prune_for_lambda(root)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == [
        "fastapi-0.165.0.dist-info/METADATA",
        "fastapi-0.165.0.dist-info/RECORD",
        "fastapi/__init__.py",
        "somepkg/testing.py",
    ]
    assert removed.files == before.files - len(left)
    assert removed.bytes == before.bytes - measure(root).bytes


@pytest.mark.parametrize("name", FORBIDDEN)
def test_a_forbidden_distribution_is_refused(tmp_path: Path, name: str) -> None:
    root = site(tmp_path)
    dist_info(root, name, "1.0")
    with pytest.raises(PackagingError, match=f"must not hold {name}"):
        check(root, 10**9, lambda _: None)


def test_a_forbidden_package_without_metadata_is_found_by_its_folder(tmp_path: Path) -> None:
    root = site(tmp_path)
    write(root, "pyarrow/__init__.py")
    assert present(root, FORBIDDEN) == ["pyarrow"]


def test_distribution_names_are_normalised(tmp_path: Path) -> None:
    root = tmp_path / "site"
    dist_info(root, "Prometheus_Client", "0.26.0")
    assert distributions(root) == {"prometheus-client": "0.26.0"}


def test_the_size_limit_is_enforced_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "site"
    write(root, "pkg/blob.bin", b"\0" * 5000)
    lines: list[str] = []
    check(root, 5000, lines.append)  # at the limit: fine
    assert any("unzipped: 1 files" in line for line in lines)
    with pytest.raises(PackagingError, match="over Lambda's limit"):
        check(root, 4999, lines.append)


def test_the_zip_is_reproducible_and_keeps_modes(tmp_path: Path) -> None:
    trees = []
    for n, stamp in enumerate((1_000_000_000, 1_700_000_000)):
        root = tmp_path / f"tree{n}"
        # Created in opposite orders and with different times: neither may show in the zip.
        names = ["b/lib.so", "a/__init__.py", "a/mod.py"]
        for name in names if n == 0 else reversed(names):
            path = write(root, name, name * 50)
            os.utime(path, (stamp, stamp))
        (root / "b/lib.so").chmod(0o755)
        trees.append(root)
    digests = []
    for n, root in enumerate(trees):
        out = tmp_path / f"out{n}.zip"
        written = write_zip(root, out)
        assert written.files == 3 and written.bytes == measure(root).bytes
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    with zipfile.ZipFile(tmp_path / "out0.zip") as z:
        assert z.namelist() == ["a/__init__.py", "a/mod.py", "b/lib.so"]
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in z.infolist()}
        assert modes == {"a/__init__.py": 0o644, "a/mod.py": 0o644, "b/lib.so": 0o755}
        assert z.read("a/mod.py") == b"a/mod.py" * 50
    assert not (tmp_path / "out0.zip.part").exists()


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    target = write(root, "real.py")
    (root / "link.py").symlink_to(target)
    with pytest.raises(PackagingError, match="symlink"):
        write_zip(root, tmp_path / "out.zip")
    assert list(tmp_path.glob("out.zip*")) == []


def test_pip_installs_only_wheels_for_lambdas_platform(tmp_path: Path) -> None:
    wheel = tmp_path / "streamkit-0.1.0-py3-none-any.whl"
    args = install_args(wheel, ("api", "mongo"), tmp_path / "t", tmp_path / "c.txt", Target())
    assert args[-1] == f"{wheel}[api,mongo]"
    assert "--only-binary=:all:" in args
    pairs = dict(zip(args, args[1:], strict=False))
    assert pairs["--platform"] == "manylinux2014_x86_64"
    assert pairs["--python-version"] == "3.11" and pairs["--implementation"] == "cp"
    assert pairs["--constraint"] == str(tmp_path / "c.txt")
    assert "--constraint" not in install_args(wheel, (), tmp_path, None, Target())


def test_a_missing_wheel_is_explained() -> None:
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement confluent-kafka==2.16.1\n"
        "ERROR: No matching distribution found for confluent-kafka==2.16.1\n"
    )
    assert "confluent-kafka==2.16.1" in missing_wheel_hint(
        stderr
    ) and "glibc" in missing_wheel_hint(stderr)
    assert missing_wheel_hint("ERROR: some other failure") == ""


def test_building_needs_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="not a streamkit checkout"):
        build_lambda_zip(tmp_path / "out.zip", project_root=tmp_path)
    assert not (tmp_path / "out.zip").exists()
