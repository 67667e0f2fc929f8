"""Run a DAG once in this process with Airflow's ``dag.test()``, for demos and tests of DAG files.

On Airflow 3 ``dag.test()`` only runs DAGs serialized in the metadata DB, and serializes only what it finds
in the DAG bundles; :func:`run_dag` first writes the DAG to the DB (under the ``dags-folder`` bundle), as the
DAG processor would. It runs on every supported Airflow line (the differences are in :mod:`demo.airflow_lines`).
Task failures do not raise: look at the DagRun's state and :func:`task_states`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo.airflow_lines import read_xcom, write_dag_to_db

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.providers.common.compat.sdk import DAG


def register_dag(dag: DAG) -> None:
    """Serialize ``dag`` into the metadata DB (bundle ``dags-folder``), as the DAG processor would."""
    write_dag_to_db(dag)


def load_dag_file(path: Path, attribute: str = "dag") -> DAG:
    """Import a DAG file as the DAG processor would (its folder is the DAG's ``fileloc``)."""
    spec = importlib.util.spec_from_file_location(f"dag_file_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def run_dag(dag: DAG, **test_kwargs: Any) -> DagRun:
    """Register ``dag`` and run it once with ``dag.test()``; returns the finished DagRun."""
    register_dag(dag)
    return dag.test(**test_kwargs)


def task_states(dag_run: DagRun) -> dict[str, str | None]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: (None if ti.state is None else str(getattr(ti.state, "value", ti.state)))
                for ti in dag_run.get_task_instances(session=session)}


def xcom(dag_run: DagRun, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` a task of ``dag_run`` pushed (its return value by default); None when absent."""
    return read_xcom(dag_run, task_id, key)
