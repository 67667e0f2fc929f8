"""The Makefile installs what each target needs: the demo the `[local]` and `[report]` extras only, the tests the dev
tools too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

ROOT = Path(__file__).resolve().parent.parent
DEMO_INSTALL = "pip install --quiet -e '.[local,report]'"
DEV_INSTALL = "pip install --quiet -e '.[local,report,dev]'"

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory with the project's pyproject.toml and a venv, as after `python -m venv .venv`."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    os.utime(tmp_path / "pyproject.toml", (1_000_000, 1_000_000))  # older than any stamp made below
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    return tmp_path


def planned(checkout: Path, target: str) -> str:
    """The commands ``make TARGET`` would run there (``make -n``: printed, not run)."""
    result = subprocess.run(["make", "-n", "-f", str(ROOT / "Makefile"), "-C", str(checkout), target],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_make
def test_demo_installs_the_local_extra_only(checkout: Path) -> None:
    commands = planned(checkout, "demo")
    assert DEMO_INSTALL in commands
    assert "dev" not in commands
    assert "scripts/demo.py" in commands


@needs_make
def test_test_after_demo_installs_the_dev_tools(checkout: Path) -> None:
    (checkout / ".venv" / ".installed-local").touch()  # what `make demo` leaves
    assert DEMO_INSTALL not in planned(checkout, "demo")
    for target in ("test", "lint", "bench", "bench-scale"):
        assert DEV_INSTALL in planned(checkout, target)


@needs_make
def test_nothing_is_installed_again_after_test(checkout: Path) -> None:
    (checkout / ".venv" / ".installed-dev").touch()  # `make test` leaves both stamps
    (checkout / ".venv" / ".installed-local").touch()
    for target in ("demo", "test", "lint"):
        assert "pip install" not in planned(checkout, target)


@needs_make
def test_a_changed_pyproject_reinstalls(checkout: Path) -> None:
    (checkout / ".venv" / ".installed-local").touch()
    os.utime(checkout / ".venv" / ".installed-local", (500_000, 500_000))  # older than pyproject.toml
    assert DEMO_INSTALL in planned(checkout, "demo")


# Runs with the dev extra's modules unimportable, as in a venv `make demo` made: importing the demo, the local
# service, the sample generator and the DAG it runs must not need them.
DEMO_IMPORTS = """
import runpy, sys
from importlib.abc import MetaPathFinder

BLOCKED = set(sys.argv[1].split(","))

class WithoutDevExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r} (the dev extra is not installed)", name=name)
        return None

sys.meta_path.insert(0, WithoutDevExtra())
runpy.run_path(sys.argv[2], run_name="demo")
import airflow_a2i.local.serving, demo.samples
from demo.dag_runner import load_dag_file

print(load_dag_file(__import__("pathlib").Path(sys.argv[3])).dag_id)
"""


def dev_extra_modules() -> set[str]:
    """The top-level modules the dev extra's distributions install. Not the providers' airflow.providers.*
    packages: Airflow imports every installed provider's entry point, so blocking one would not be its absence."""
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {canonicalize_name(Requirement(spec).name) for spec in project["optional-dependencies"]["dev"]}
    return {module for module, distributions in packages_distributions().items()
            if module != "airflow" and dev & {canonicalize_name(name) for name in distributions}}


def test_the_demo_needs_nothing_from_the_dev_extra() -> None:
    blocked = dev_extra_modules()
    assert {"pytest", "hypothesis", "playwright", "awscli", "mypy"} <= blocked
    result = subprocess.run([sys.executable, "-c", DEMO_IMPORTS, ",".join(sorted(blocked)),
                             str(ROOT / "scripts" / "demo.py"), str(ROOT / "dags" / "a2i_batch_document_review.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("a2i_batch_document_review")
