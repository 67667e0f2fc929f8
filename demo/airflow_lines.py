"""The metadata-database internals that running a DAG in-process needs, which differ between Airflow 2.11 and 3.x.

Not part of the installed package: the package's operators, sensors, triggers and the example DAGs import Airflow's
classes from ``airflow.providers.common.compat.sdk`` and need nothing version-specific. Only
:mod:`demo.dag_runner` (the demo, the tests, ``make test-compat``) needs these.
Each helper looks for the newest API first, so a new Airflow release needs no change.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

# The bundle Airflow 3 gives the DAGs folder; DAGs registered by hand go there, as the DAG processor would put them.
DAGS_FOLDER_BUNDLE = "dags-folder"


def write_dag_to_db(dag: Any) -> None:
    """Serialize ``dag`` into the metadata DB as the DAG processor would (``dag.test()`` runs only such DAGs)."""
    try:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
    except ImportError:  # Airflow 2: no bundles; dag.test() reads the DAG object it is given
        dag.sync_to_db()
        return
    DagBundlesManager().sync_bundles_to_db()
    if getattr(dag, "relative_fileloc", "") is None:  # Airflow 3.0: set by a DagBag that loads files, and needed
        dag.relative_fileloc = dag.fileloc
    dagbag = _dagbag_module()
    bag = dagbag.DagBag(dag_folder=os.devnull, collect_dags=False)
    bag.bag_dag(dag)
    if hasattr(dagbag, "sync_bag_to_db"):  # Airflow 3.1+
        dagbag.sync_bag_to_db(bag, DAGS_FOLDER_BUNDLE, None)
    else:  # Airflow 3.0
        bag.sync_to_db(DAGS_FOLDER_BUNDLE, None)


def _dagbag_module() -> Any:
    try:  # Airflow 3.2+
        from airflow.dag_processing import dagbag
    except ImportError:
        from airflow.models import dagbag  # type: ignore[no-redef]
    return dagbag


def read_xcom(dag_run: DagRun, task_id: str, key: str) -> Any:
    """The XCom ``key`` that ``task_id`` pushed in ``dag_run``, deserialized; None when absent."""
    from airflow.utils.session import create_session

    try:  # Airflow 3: values are stored as JSON
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2: the configured XCom backend (de)serializes
        from airflow.models.xcom import XCom

        return XCom.get_one(run_id=dag_run.run_id, dag_id=dag_run.dag_id, task_id=task_id, key=key)
    with create_session() as session:
        row = (session.query(XComModel)
               .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key)
               .one_or_none())
        return None if row is None else row.value

