"""A2IReviewReportOperator in a DAG: results read from S3 (the local service's), the report written beside them."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.operators.report import A2IReviewReportOperator
from tests.conftest import unique
from tests.report_data import conditions, generate_pages, result_rows


def _put_results(s3, bucket: str, key: str, rows: list) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps(row) + "\n" for row in rows).encode())
    return f"s3://{bucket}/{key}"


@pytest.mark.timeout(180)
def test_the_operator_writes_the_report_beside_the_results(airflow_dags, s3, output_bucket):
    from airflow.providers.common.compat.sdk import DAG, task

    first, _ = result_rows(generate_pages(20, 200), conditions(80, 10), seed=20)
    second, _ = result_rows(generate_pages(21, 200), conditions(80, 10), seed=21)
    first_uri = _put_results(s3, output_bucket, "runs/1/results/results.jsonl", first)
    second_uri = _put_results(s3, output_bucket, "runs/2/results/results.jsonl", second)
    with DAG(unique("report"), schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:

        @task
        def results() -> dict:  # what A2IHumanLoopResultsOperator returns, trimmed
            return {"results_uri": first_uri, "items": len(first)}

        A2IReviewReportOperator(task_id="report", results=[results(), second_uri],
                                target_accuracy="{{ 0.9 + 0.05 }}")
    run = airflow_dags.run(dag)
    assert airflow_dags.task_states(run) == {"results": "success", "report": "success"}
    returned = airflow_dags.xcom(run, "report")
    assert returned["report_uri"] == f"s3://{output_bucket}/runs/1/results/report/report.html"
    assert returned["figures_uri"] == f"s3://{output_bucket}/runs/1/results/report/report.json"
    figures = json.loads(s3.get_object(Bucket=output_bucket, Key="runs/1/results/report/report.json")["Body"].read())
    assert figures["sources"] == [first_uri, second_uri] and returned["pages"] == figures["volume"]["pages"] == 400
    assert figures["recommendation"]["target_accuracy"] == pytest.approx(0.95)
    assert returned["recommended_conditions"] == figures["recommendation"]["conditions"]
    assert returned["sample"] == figures["estimate"]["sample"] > 0
    low, high = returned["estimated_accuracy_interval"]
    assert low <= returned["estimated_accuracy"] <= high
    page = s3.get_object(Bucket=output_bucket, Key="runs/1/results/report/report.html")["Body"].read().decode()
    assert page.startswith("<!DOCTYPE html>") and "Review report" in page
    assert len(json.dumps(returned)) < 2000  # XCom: references and headline figures only


def test_bad_arguments_are_refused_when_the_dag_is_parsed():
    def make(**kwargs):
        return A2IReviewReportOperator(task_id=unique("report"), **{"results": "s3://bucket/results.jsonl", **kwargs})

    with pytest.raises(A2IValidationError, match="between 0 and 1"):
        make(target_accuracy=99)
    with pytest.raises(A2IValidationError, match="not both"):
        make(target_accuracy=0.99, review_budget=0.3)
    with pytest.raises(A2IValidationError, match="from 0 to 100"):
        make(sampling_percentage=150)
    with pytest.raises(A2IValidationError, match="results must be"):
        make(results=[])
    with pytest.raises(A2IValidationError, match="output_s3_uri"):
        make(output_s3_uri="bucket/prefix")
    with pytest.raises(A2IValidationError, match="activation_conditions"):
        make(activation_conditions={"Conditions": []})
    make(target_accuracy="{{ params.target }}", results="{{ ti.xcom_pull('results') }}")  # checked once rendered


def test_the_command_reads_results_from_s3(s3, output_bucket, tmp_path, capsys):
    """`airflow-a2i report s3://...`: boto3 with AWS_ENDPOINT_URL, as the session's local service sets it."""
    from airflow_a2i.cli import main

    rows, _ = result_rows(generate_pages(22, 120), conditions(80, 10), seed=22)
    _put_results(s3, output_bucket, "runs/9/results/results.jsonl", rows)
    assert main(["report", f"s3://{output_bucket}/runs/9/results", "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pages"] == 120
    assert main(["report", f"s3://{output_bucket}/runs/none/results", "--out", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err
