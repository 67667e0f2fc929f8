"""Airflow sees the package as a provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_a2i

pytestmark = pytest.mark.dag  # starts processes of its own (see TIERS in tests/conftest.py)


def test_airflow_providers_list_shows_airflow_a2i():
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "providers", "list", "--output", "json"], capture_output=True,
                            text=True, timeout=120, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    start = result.stdout.index("[")
    providers = {entry["package_name"]: entry for entry in json.loads(result.stdout[start:])}
    assert providers["airflow-a2i"]["version"] == airflow_a2i.__version__


def test_provider_info_names_the_distribution():
    assert airflow_a2i.get_provider_info()["package-name"] == "airflow-a2i"


# What Airflow's DAG processor has imported before it parses a file: its own modules, then every airflow.* module the
# file names ([dag_processor] parsing_pre_import_modules); then the file's airflow_a2i imports, listing what they add.
_IMPORTED_BY_A_PARSE = """
import ast, importlib, json, sys
import airflow.sdk, airflow.dag_processing.processor
from airflow.utils.file import iter_airflow_imports
path = sys.argv[1]
for module in iter_airflow_imports(path):
    importlib.import_module(module)
ours = {node.module for node in ast.walk(ast.parse(open(path).read()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow_a2i")}
before = set(sys.modules)
for module in sorted(ours):
    importlib.import_module(module)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("dag_file", sorted((Path(__file__).resolve().parent.parent / "dags").glob("a2i_*.py")),
                         ids=lambda path: path.stem)
def test_the_example_dags_let_the_dag_processor_pre_import_the_aws_base(dag_file: Path) -> None:
    """Airflow's DAG processor imports a file's airflow.* modules once, before its many parses: the example DAGs
    name the Amazon provider's AWS base, so each parse imports airflow-a2i's own modules and nothing of Airflow or
    the provider (benchmarks/parse.py, the pre-import rows)."""
    result = subprocess.run([sys.executable, "-c", _IMPORTED_BY_A_PARSE, str(dag_file)], capture_output=True,
                            text=True, timeout=120, env=os.environ.copy(), check=True)
    added = json.loads(result.stdout.splitlines()[-1])
    assert any(module.startswith("airflow_a2i.operators.") for module in added)
    assert [module for module in added if not module.startswith("airflow_a2i")] == []


# What only a task run needs: the triggers (and Airflow's trigger base under them) and the waits' machinery.
_RUN_TIME_ONLY = ("airflow.triggers.base", "airflow_a2i.triggers.", "airflow_a2i.waiting.policies",
                  "airflow_a2i.waiting.sync", "airflow_a2i.waiting.completion", "airflow_a2i.waiting.events",
                  "airflow_a2i.waiting.batch")
_DAG_FACING = sorted(f"airflow_a2i.{path.parent.name}.{path.stem}"
                     for folder in ("operators", "sensors")
                     for path in (Path(airflow_a2i.__file__).parent / folder).glob("*.py") if path.stem != "__init__")


def test_operator_and_sensor_modules_leave_the_run_time_parts_to_the_run() -> None:
    """Importing any operator or sensor module (what a DAG file does at every parse) imports no trigger and none of
    the waits' machinery: a sensor defers, pokes and reports through them only when its task runs (benchmarks:
    import cost)."""
    code = ("import importlib, json, sys\nfor name in sys.argv[2:]:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[1].split(','))))))")
    result = subprocess.run([sys.executable, "-c", code, ",".join(_RUN_TIME_ONLY), *_DAG_FACING],
                            capture_output=True, text=True, timeout=120, env=os.environ.copy(), check=True)
    assert "airflow_a2i.sensors.human_loop" in _DAG_FACING and "airflow_a2i.operators.textract" in _DAG_FACING
    assert json.loads(result.stdout.splitlines()[-1]) == []
