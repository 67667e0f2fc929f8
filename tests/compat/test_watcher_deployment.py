"""The asset-watcher example on a real deployment of each Airflow 3 line (``make test-compat``): A2I's events through
EventBridge and SQS to the line's triggerer (its Amazon provider's ``SqsSensorTrigger``) and scheduler; each loop
appended once, a duplicate message appending nothing, events waiting in SQS while the DAG is paused.

LocalExecutor and SQLite (no PostgreSQL or Redis needed), every process from ``.compat/LINE/bin/python`` with the
airflow-a2i *wheel* (the working tree off the path). Airflow 2 has no asset watchers: its lines are skipped here
(test_airflow_lines.py checks that the file parses there and that its reconcile DAG runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.test_events_watcher import appends_once_and_waits_in_sqs_while_paused, watched_deployment

ROOT = Path(__file__).resolve().parents[2]
LINES = os.environ.get("A2I_COMPAT_LINES", "").split()

pytestmark = [
    pytest.mark.skipif(not LINES, reason="the Airflow lines run under `make test-compat` (A2I_COMPAT_LINES)"),
    pytest.mark.parametrize("line", LINES),
    pytest.mark.timeout(600),
    pytest.mark.deployment,
]


def test_the_watcher_appends_once_and_events_wait_while_paused(line: str, session_dir: Path, local_service: str):
    from tests.airflow_deployment import DeploymentOptions

    if line.startswith("2."):
        pytest.skip("Airflow 2 has no asset watchers: the example defines only its reconcile DAG there")
    python = ROOT / ".compat" / line / "bin" / "python"
    if not python.exists():
        pytest.fail(f".compat/{line} does not exist: `make test-compat` builds it (compat/build-venv {line})")
    options = DeploymentOptions(python=str(python), working_tree_on_path=False)
    with watched_deployment(session_dir / unique(f"watcher-{line}"), local_service, options) as watched:
        appends_once_and_waits_in_sqs_while_paused(watched, local_service)
