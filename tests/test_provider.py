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


@pytest.mark.parametrize("dag_file", sorted((Path(__file__).resolve().parent.parent / "dags").glob("a2i_*.py")),
                         ids=lambda path: path.stem)
def test_the_example_dags_let_the_dag_processor_pre_import_the_aws_base(dag_file: Path) -> None:
    """Airflow's DAG processor imports a file's airflow.* modules once, before its many parses; the AWS base is
    what our operators spend their import time on (benchmarks/parse.py, the pre-import rows)."""
    from airflow.utils.file import iter_airflow_imports

    assert "airflow.providers.amazon.aws.operators.base_aws" in set(iter_airflow_imports(str(dag_file)))
