"""Run real DAGs in tests with Airflow 3's ``dag.test()``: a metadata DB once per session, and helpers.

Use it from a test module with ``pytest_plugins = ("tests.airflow_fixtures",)`` (do not import it as
well: pytest could then not rewrite its asserts), and the ``airflow_dags`` fixture::

    def test_my_dag(airflow_dags):
        dag_run = airflow_dags.run(dag)            # register the DAG, then dag.test()
        assert airflow_dags.task_states(dag_run) == {"my_task": "success"}
        assert airflow_dags.xcom(dag_run, "my_task") == {...}

Why this is needed (Airflow 3.3):

- ``conftest.py`` points ``AIRFLOW_HOME`` at a throwaway directory, whose SQLite metadata DB starts
  empty: ``airflow_db`` creates its tables once per session, in process, with
  ``airflow.utils.db.initdb()`` (about 3 s; ``airflow db migrate`` in a subprocess does the same in ~9 s).
- ``dag.test()`` only runs DAGs that are serialized in the DB, and it serializes only what it finds in
  the DAG bundles (the empty ``AIRFLOW_HOME/dags``): a DAG built inside a test fails with "Cannot create
  DagRun ... because the dag is not serialized". ``run_dag`` therefore writes the DAG to the DB under the
  ``dags-folder`` bundle first, as the DAG processor would, then calls ``dag.test()``.
- ``dag.test()`` runs the tasks in this process, through an in-process Execution API; it logs a task's
  exception and marks the task failed instead of raising: look at the returned DagRun's state and at
  the task states (``task_states``). The first ``dag.test()`` of a session takes a few seconds more
  (it starts the in-process API).
- XComs are read back from the DB with ``xcom`` (values are stored as JSON).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from demo.dag_runner import load_dag_file, register_dag, run_dag, task_states, xcom

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG


@pytest.fixture(scope="session")
def airflow_db(session_dir) -> str:
    """The session's Airflow metadata DB, with its tables created; returns its SQLAlchemy URL."""
    from airflow import settings
    from airflow.utils.db import initdb

    assert os.environ["AIRFLOW_HOME"].startswith(str(session_dir)), "tests must never touch a real Airflow home"
    initdb()
    return str(settings.engine.url) if settings.engine is not None else ""


class AirflowDags:
    """What a test needs to run DAGs: :func:`run_dag`, :func:`task_states`, :func:`xcom`."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def run(self, dag: DAG, **test_kwargs: Any) -> DagRun:
        return run_dag(dag, **test_kwargs)

    def register(self, dag: DAG) -> None:
        register_dag(dag)

    def run_source(self, source: str, dag_id: str, conf: dict | None = None) -> DagRun:
        """Write a DAG file into the DAGs folder, import it and run its ``dag``, as a user's file would be."""
        return run_dag(load_dag_file(write_dag_file(source, dag_id)), run_conf=conf)

    def task_states(self, dag_run: DagRun) -> dict[str, str | None]:
        return task_states(dag_run)

    def xcom(self, dag_run: DagRun, task_id: str, key: str = "return_value") -> Any:
        return xcom(dag_run, task_id, key)


@pytest.fixture
def airflow_dags(airflow_db: str) -> AirflowDags:
    """Run DAGs with ``dag.test()`` against the session's metadata DB."""
    return AirflowDags(airflow_db)


def write_dag_file(source: str, dag_id: str) -> Path:
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_text(source)
    return path


__all__ = ["load_dag_file", "register_dag", "run_dag", "task_states", "write_dag_file", "xcom"]
