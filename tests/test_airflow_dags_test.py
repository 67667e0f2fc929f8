"""``airflow dags test a2i_batch_document_review``, Airflow's own CLI, run for real against the local service.

Airflow fails a task whose static outlet asset is not active (AirflowInactiveAssetInInletOrOutletException),
and under ``airflow dags test`` nothing may have activated it: no DAG processor ran (apache/airflow#51644: Airflow
3.0, even in a fresh home), or its URI is already taken by an asset of another name (any Airflow 3; here a
downstream DAG written for the DAG's earlier asset name, which is how this test reproduces it on every line).
The results task therefore announces its asset through an AssetAlias, resolved when the event is emitted.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from demo.samples import upload_samples, write_samples
from tests.conftest import ROLE_ARN, unique, workteam_arn

pytestmark = pytest.mark.dag  # starts processes of its own (see TIERS in tests/conftest.py)

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "a2i_batch_document_review"
# Downstream DAGs, deployed before the batch DAG: one scheduled on the results through the alias, and one on the
# results' URI under the asset name the DAG used before (that asset stays active and holds the URI).
DOWNSTREAM_DAGS = """
import pendulum
from airflow.providers.common.compat.sdk import DAG, Asset, AssetAlias, task

for dag_id, schedule in (("on_reviewed_alias", [AssetAlias(name="a2i_reviewed_documents")]),
                         ("on_reviewed_earlier_name", [Asset(name="reviewed_documents", uri={uri!r})])):
    with DAG(dag_id=dag_id, schedule=schedule, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        @task
        def read_results():
            return 1

        read_results()
    globals()[dag_id] = dag
"""


def airflow(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def demo_environment(home: Path, endpoint: str, bucket: str) -> dict[str, str]:
    """What scripts/demo.py gives Airflow, in a home of the test's own."""
    return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AWS_ENDPOINT_URL": endpoint, "A2I_ROLE_ARN": ROLE_ARN,
            "A2I_WORKTEAM_ARN": workteam_arn(), "A2I_INPUT_S3_URI": f"s3://{bucket}/input",
            "A2I_OUTPUT_S3_URI": f"s3://{bucket}/output"}


def rows(home: Path, query: str) -> list[tuple]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(query).fetchall()


@pytest.mark.timeout(420)
def test_airflow_dags_test_runs_the_batch_dag_and_announces_the_results(local_service, s3, tmp_path):
    bucket = unique("dags-test")
    write_samples(tmp_path / "samples", count=3)
    upload_samples(s3, tmp_path / "samples", bucket)
    home = tmp_path / "airflow-home"
    (home / "dags").mkdir(parents=True)
    env = demo_environment(home, local_service, bucket)
    results_asset_uri = f"s3://{bucket}/output/reviewed"
    (home / "dags" / "downstream.py").write_text(textwrap.dedent(DOWNSTREAM_DAGS.format(uri=results_asset_uri)))
    migrated = airflow(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    deployed = airflow(env, "dags", "reserialize")  # the downstream DAGs' assets are active from here on
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    shutil.copy(ROOT / "dags" / f"{DAG_ID}.py", home / "dags")
    shutil.copytree(ROOT / "dags" / "templates", home / "dags" / "templates")

    # Nobody answers: the reviews time out after a few seconds and the run goes on with the machine's values.
    conf = {"flow_definition_name": unique("dags-test-flow"), "review_timeout_seconds": 3, "chunk_size": 2,
            "poll_seconds": 0.5}
    run = airflow(env, "dags", "test", DAG_ID, "--conf", json.dumps(conf))
    logged = run.stdout + run.stderr

    assert "AirflowInactiveAssetInInletOrOutletException" not in logged
    assert run.returncode == 0, logged[-4000:]
    states = dict(rows(home, f"SELECT task_id, state FROM task_instance WHERE dag_id = '{DAG_ID}' "
                             "AND map_index = -1"))
    assert states["results"] == "success", states
    events = rows(home, "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                        f"WHERE a.uri = '{results_asset_uri}' AND e.source_dag_id = '{DAG_ID}'")
    assert len(events) == 1
    assert json.loads(events[0][0])["results_uri"].startswith(f"s3://{bucket}/output/runs/")
    queued = {dag_id for (dag_id,) in rows(home, "SELECT target_dag_id FROM asset_dag_run_queue")}
    assert "on_reviewed_alias" in queued  # a downstream DAG scheduled on the results runs next


def results_operator(**kwargs):
    from airflow_a2i.operators.results import A2IHumanLoopResultsOperator

    return A2IHumanLoopResultsOperator(task_id=unique("results"), human_loops=["loop-1"],
                                       output_s3_uri="s3://bucket/results", **kwargs)


def test_results_asset_goes_with_an_alias_outlet() -> None:
    from airflow.providers.common.compat.sdk import Asset, AssetAlias

    from airflow_a2i.exceptions import A2IValidationError

    results_operator(outlets=[AssetAlias(name="reviewed")], results_asset=Asset(uri="s3://bucket/reviewed"))
    results_operator(outlets=[Asset(uri="s3://bucket/reviewed")])  # a static outlet asset, as before
    with pytest.raises(A2IValidationError, match=r"add outlets=\[AssetAlias\(name='...'\)\]"):
        results_operator(results_asset=Asset(uri="s3://bucket/reviewed"))
    with pytest.raises(A2IValidationError, match=r"The outlet AssetAlias 'reviewed' has no asset .* results_asset="):
        results_operator(outlets=[AssetAlias(name="reviewed")])
    with pytest.raises(A2IValidationError, match="results_asset must be an Asset"):
        results_operator(outlets=[AssetAlias(name="reviewed")], results_asset="s3://bucket/reviewed")


def test_on_airflow_2_the_results_asset_is_the_outlet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 2 refuses no static outlet, and its `airflow dags test` cannot announce through an unregistered
    alias: there the asset replaces the alias outlet, as the DAG declared it before."""
    from airflow.providers.common.compat.sdk import Asset, AssetAlias

    from airflow_a2i.operators import results

    monkeypatch.setattr(results, "_airflow_refuses_inactive_outlets", lambda: False)
    asset = Asset(uri="s3://bucket/reviewed")
    assert results_operator(outlets=[AssetAlias(name="reviewed")], results_asset=asset).outlets == [asset]
