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
