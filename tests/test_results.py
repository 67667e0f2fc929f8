"""The output.json model, the consolidation of several workers, and the results operator run in a real DAG."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, task

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.results.consolidation import consolidate
from airflow_a2i.results.items import parse_human_loops, parse_output_s3_uri
from airflow_a2i.results.output import HumanAnswer, OutputParseError, parse_output, parse_output_json
from tests.conftest import unique
from tests.loops import start_loop

FIXTURES = Path(__file__).parent / "fixtures"  # copies of ../shared/fixtures, recorded by AWS
SOURCE = "AWS/Textract/AnalyzeDocument/Forms/V1"
INPUT_KEYS = ("aiServiceRequest", "aiServiceResponse", "humanTaskActivationConditionResults",
              "selectedAiServiceResponse")


@pytest.fixture(scope="module")
def recorded() -> dict:
    # The output.json of a real A2I human loop of the built-in Textract type, recorded by AWS and published
    # in aws-samples/amazon-textract-response-parser (Apache-2.0). Saved flattened: the input keys at the
    # top level instead of under inputContent, and no acceptanceTime/timeSpentInSeconds in the answer.
    return json.loads((FIXTURES / "a2i-textract-output.json").read_text())


def nested(flat: dict) -> dict:
    """The same document in the shape A2I documents: the input keys under inputContent."""
    document = {key: value for key, value in flat.items() if key not in INPUT_KEYS}
    document["inputContent"] = {key: flat[key] for key in INPUT_KEYS}
    return document


# --- parsing ---------------------------------------------------------------------------------------------


def test_the_recorded_textract_output_parses(recorded):
    output = parse_output(recorded)
    assert output.human_loop_name == "ivf-25e512f2-75a2-11ea-ab9f-36f379a2239d"
    assert output.flow_definition_arn == \
        "arn:aws:sagemaker:us-east-1:298034081971:flow-definition/insurance-validation-flowv6"
    assert output.aws_managed_human_loop_request_source == SOURCE and output.is_built_in
    assert sorted(output.input_content) == sorted(INPUT_KEYS)
    assert output.ai_service_request is not None and output.ai_service_response is not None
    assert output.selected_ai_service_response is not None
    assert output.human_task_activation_condition_results is not None
    assert output.ai_service_request["document"]["s3Object"] == {"bucket": "textract-documentsbucket-sirajama",
                                                                 "name": "inputDocuments/mr2.png"}
    assert len(output.ai_service_response["blocks"]) == 94
    assert len(output.selected_ai_service_response["blocks"]) == 4
    assert output.human_task_activation_condition_results["Conditions"][0]["EvaluationResult"] is True

    [answer] = output.human_answers
    assert answer == HumanAnswer(answer_content=recorded["humanAnswers"][0]["answerContent"],
                                 worker_id="66b74ced2dbe1cfd", submission_time="2020-04-03T11:59:51.470Z")
    assert answer.acceptance_time is None and answer.time_spent_in_seconds is None
    assert list(answer.answer_content) == [SOURCE]  # built-in answers are keyed by the request source
    blocks = answer.answer_content[SOURCE]["blocks"]
    assert len(blocks) == 14
    words = [block["text"] for block in blocks if block["blockType"] == "WORD"]
    assert words == ["Policy", "Number:", "AG133441", "Device", "ID:", "424403233", "Total", "$148.99"]
    assert {tuple(block["entityTypes"]) for block in blocks if block["blockType"] == "KEY_VALUE_SET"} == \
        {("KEY",), ("VALUE",)}


def test_the_documented_nested_shape_parses_the_same(recorded):
    reshaped = nested(recorded)
    assert set(reshaped) == {"flowDefinitionArn", "humanLoopName", "humanAnswers",
                             "awsManagedHumanLoopRequestSource", "inputContent"}
    assert parse_output(reshaped) == parse_output(recorded)
    assert parse_output_json(json.dumps(reshaped)) == parse_output(recorded)


def test_a_custom_task_output_with_every_answer_field():
    document = {
        "flowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
        "humanLoopName": "loop-1",
        "inputContent": {"prompt": "{{ 7 * 7 }}", "code": "__import__('os').system('false')"},
        "humanAnswers": [{
            "answerContent": {"answer": "${jndi:x}", "ok": {"on": True}},
            "acceptanceTime": "2026-11-25T12:00:00.000Z", "submissionTime": "2026-11-25T12:02:45.529Z",
            "timeSpentInSeconds": 165, "workerId": "7fe4cd6b55282093",
            "workerMetadata": {"identityData": {"identityProviderType": "Cognito", "sub": "s"}},
        }],
    }
    output = parse_output(document)
    # Untrusted data is kept as data: nothing is rendered or evaluated.
    assert output.input_content == {"prompt": "{{ 7 * 7 }}", "code": "__import__('os').system('false')"}
    assert not output.is_built_in and output.ai_service_response is None
    [answer] = output.human_answers
    assert answer.time_spent_in_seconds == 165.0 and isinstance(answer.time_spent_in_seconds, float)
    assert answer.acceptance_time == "2026-11-25T12:00:00.000Z"
    assert answer.worker_metadata == {"identityData": {"identityProviderType": "Cognito", "sub": "s"}}
    assert output.consolidate().consolidated == {"answer": "${jndi:x}", "ok": {"on": True}}


def _broken(change):
    document = nested(json.loads((FIXTURES / "a2i-textract-output.json").read_text()))
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "it must be a JSON object, not an array"),
        ("output.json", "it must be a JSON object, not a string"),
        ({}, "it has no 'humanLoopName'"),
        (_broken(lambda d: d.update(humanLoopName=7)), "'humanLoopName' must be a non-empty string, not a number"),
        (_broken(lambda d: d.pop("flowDefinitionArn")), "it has no 'flowDefinitionArn'"),
        (_broken(lambda d: d.pop("humanAnswers")), "it has no 'humanAnswers'"),
        (_broken(lambda d: d.update(humanAnswers={"a": 1})), "'humanAnswers' must be an array of answers, "
                                                             "not an object"),
        (_broken(lambda d: d.update(humanAnswers=["yes"])), "humanAnswers[0] must be a JSON object, not a string"),
        (_broken(lambda d: d["humanAnswers"][0].update(answerContent="cat")),
         "humanAnswers[0].answerContent must be a JSON object (the submitted form), not a string"),
        (_broken(lambda d: d["humanAnswers"][0].pop("answerContent")), "humanAnswers[0] has no 'answerContent'"),
        (_broken(lambda d: d["humanAnswers"][0].pop("workerId")), "it has no 'humanAnswers[0].workerId'"),
        (_broken(lambda d: d["humanAnswers"][0].update(timeSpentInSeconds="fast")),
         "humanAnswers[0].timeSpentInSeconds must be a number, not a string"),
        (_broken(lambda d: d["humanAnswers"][0].update(timeSpentInSeconds=True)),
         "humanAnswers[0].timeSpentInSeconds must be a number, not a boolean"),
        (_broken(lambda d: d.update(inputContent=["x"])), "'inputContent' must be a JSON object"),
        (_broken(lambda d: d["inputContent"].update(aiServiceResponse="blocks")),
         "'inputContent.aiServiceResponse' must be a JSON object, not a string"),
    ],
)
def test_unreadable_documents_say_what_is_wrong(document, message):
    with pytest.raises(OutputParseError) as raised:
        parse_output(document, source="s3://bucket/key/output.json")
    assert message in str(raised.value)
    assert str(raised.value).startswith("s3://bucket/key/output.json is not a readable A2I output.json: ")
    assert isinstance(raised.value, A2IValidationError)


def test_a_foreign_document_is_refused():
    # A real Textract AnalyzeDocument response (same sample repository) is JSON, but not an output.json.
    textract = (FIXTURES / "textract-employment-application.json").read_text()
    with pytest.raises(OutputParseError, match="it has no 'humanLoopName'"):
        parse_output_json(textract)
    with pytest.raises(OutputParseError, match=r"it is not valid JSON \(Expecting value"):
        parse_output_json("<html>AccessDenied</html>", source="s3://b/k")


# --- consolidation ---------------------------------------------------------------------------------------

THREE_WORKERS: list[dict[str, Any]] = [
    {"label": "cat", "box": {"corner": {"x": 1, "y": 2}}, "tags": ["a", "b"], "note": "first"},
    {"label": "cat", "box": {"corner": {"x": 1, "y": 3}}, "tags": ["a", "b"], "note": "second"},
    {"label": "dog", "box": {"corner": {"y": 4, "x": 1}}, "tags": ["b", "a"]},
]


def test_three_workers_majority_per_leaf_with_ties():
    result = consolidate(THREE_WORKERS)
    assert result.consolidated == {"label": "cat", "box": {"corner": {"x": 1, "y": 2}}, "tags": ["a", "b"],
                                   "note": "first"}
    # box.corner.y: 2, 3, 4; note: "first", "second", left out: each a three-way tie, won by the earliest answer
    assert result.ties == ["box.corner.y", "note"]
    assert result.path_agreement == pytest.approx({"label": 2 / 3, "box.corner.x": 1.0, "box.corner.y": 1 / 3,
                                                   "tags": 2 / 3, "note": 1 / 3})
    assert result.agreement == pytest.approx((2 / 3 + 1 + 1 / 3 + 2 / 3 + 1 / 3) / 5)
    assert result.answers == THREE_WORKERS


def test_a_tie_goes_to_the_earliest_answer():
    result = consolidate(list(reversed(THREE_WORKERS)))
    assert result.consolidated == {"label": "cat", "box": {"corner": {"x": 1, "y": 4}}, "tags": ["a", "b"]}
    assert result.ties == ["box.corner.y", "note"]
    two = consolidate([{"a": 1, "b": "same"}, {"a": 2, "b": "same"}])  # TaskCount 2: a two-way tie
    assert (two.consolidated, two.ties, two.agreement) == ({"a": 1, "b": "same"}, ["a"], 0.75)


def test_what_most_workers_left_out_is_left_out_and_values_compare_as_json():
    answers: list[dict[str, Any]] = [{"a": 1, "extra": "x"}, {"a": "1"}, {"a": 1, "flags": {"on": True}}]
    result = consolidate(answers)
    assert result.consolidated == {"a": 1}
    assert result.ties == []
    assert result.path_agreement == pytest.approx({"a": 2 / 3, "extra": 2 / 3, "flags.on": 2 / 3})
    assert consolidate([{"on": True}, {"on": 1}, {"on": 1}]).consolidated == {"on": 1}


def test_one_answer_agrees_with_itself_and_none_gives_no_agreement():
    single = consolidate([THREE_WORKERS[0]])
    assert (single.consolidated, single.agreement, single.ties) == (THREE_WORKERS[0], 1.0, [])
    assert consolidate([{}, {}]).agreement == 1.0
    assert consolidate([{"empty": {}}, {"empty": {}}]).consolidated == {"empty": {}}
    empty = consolidate([])
    assert (empty.consolidated, empty.agreement) == ({}, None)


# --- operator arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("my-bucket/results", "must start with 's3://'"),
        ("s3://my-bucket", "has no prefix"),
        ("s3://my-bucket/", "has no prefix"),
        ("s3://My_Bucket/results", "is not an S3 bucket name"),
        (None, "must be an s3:// URI"),
    ],
)
def test_output_uri_must_be_a_bucket_and_a_prefix(uri, message):
    with pytest.raises(A2IValidationError, match=message):
        A2IHumanLoopResultsOperator(task_id="results", human_loops=["a"], output_s3_uri=uri)


def test_output_uri_parts():
    assert parse_output_s3_uri("s3://my-bucket/a2i/results/") == ("my-bucket", "a2i/results")


@pytest.mark.parametrize(
    ("loops", "message"),
    [
        ("loop-1", "human_loops must be a list, not the string 'loop-1'"),
        ({"human_loop_name": "a"}, "must be a list of loop names or of dicts, not dict"),
        ([3], r"human_loops\[0\] is int"),
        (["ok", "Not_Valid"], r"human_loops\[1\]: human_loop_name 'Not_Valid' is not a valid A2I name"),
        ([{"name": "a"}], r"human_loops\[0\] is a dict without 'human_loop_name' or 'HumanLoopName'"),
        ([{"human_loop_name": None}], "has neither an item_key nor a human_loop_name"),
    ],
)
def test_human_loops_must_be_a_list_of_loops(loops, message):
    with pytest.raises(A2IValidationError, match=message):
        A2IHumanLoopResultsOperator(task_id="results", human_loops=loops, output_s3_uri="s3://b-1/p")


def test_the_entries_human_loops_takes():
    items = parse_human_loops(["loop-a", {"item_key": "doc-1", "human_loop_name": None},
                               {"item_key": "doc-2", "human_loop_name": "loop-b"},
                               {"HumanLoopName": "loop-c", "HumanLoopArn": "arn", "HumanLoopStatus": "Completed"}])
    assert [(item.item_key, item.human_loop_name) for item in items] == [
        ("loop-a", "loop-a"), ("doc-1", None), ("doc-2", "loop-b"), ("loop-c", "loop-c")]
    assert [item.human_loop_name for item in parse_human_loops('["x-1", "x-2"]')] == ["x-1", "x-2"]


def test_templates_are_checked_once_rendered_and_before_any_request(monkeypatch):
    operator = A2IHumanLoopResultsOperator(task_id="results", human_loops="{{ ti.xcom_pull('start') }}",
                                           output_s3_uri="s3://bucket/{{ run_id }}")
    assert set(operator.template_fields) >= {"human_loops", "output_s3_uri", "aws_conn_id", "region_name"}

    def no_requests(*args, **kwargs):
        raise AssertionError("no request may be sent before the arguments are checked")

    monkeypatch.setattr(A2IHook, "describe_human_loop", no_requests)
    monkeypatch.setattr(A2IHumanLoopResultsOperator, "s3_hook", property(no_requests))
    operator.human_loops, operator.output_s3_uri = ["loop-a"], "s3://bucket"  # as rendered
    with pytest.raises(A2IValidationError, match="has no prefix"):
        operator.execute({})
    operator.human_loops, operator.output_s3_uri = "['loop-a']", "s3://bucket/run"  # a Python repr, not JSON
    with pytest.raises(A2IValidationError, match="render_template_as_native_obj=True"):
        operator.execute({})


# --- the operator in a DAG, against the local service ----------------------------------------------------


def read_lines(s3, uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]


def read_json(s3, uri: str) -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture
def reviewed_loops(local_service, a2i, make_flow_definition) -> dict[str, str]:
    """Loops in every state the operator reports; answered by distinct workers through the admin API."""
    admin = AdminClient(local_service)
    three, one = make_flow_definition(task_count=3), make_flow_definition(task_count=1)
    loops = {
        "majority": start_loop(three, client=a2i, content={"text": "a cat"}),
        "tie": start_loop(three, client=a2i, content={"text": "a pet"}),
        "single": start_loop(one, client=a2i, content={"text": "one reviewer"}),
        "open": start_loop(three, client=a2i, content={"text": "still open"}),
    }
    for worker, (label, x, spent) in enumerate([("cat", 1, 10.0), ("cat", 2, 20.0), ("dog", 1, 30.5)]):
        admin.answer(loops["majority"], {"label": label, "box": {"x": x}}, worker_id=f"worker-{worker}",
                     time_spent=spent)
    for worker, label in enumerate(["bird", "fish", "frog"]):
        admin.answer(loops["tie"], {"label": label}, worker_id=f"worker-{worker}", time_spent=1.0)
    admin.answer(loops["single"], {"label": "solo"}, worker_id="worker-9", time_spent=4.0)
    admin.answer(loops["open"], {"label": "early"}, worker_id="worker-0")  # 1 of 3: still InProgress
    loops["missing"] = unique("never-started")
    return loops


def results_dag(loops: dict[str, str], output_uri: str, **operator_kwargs) -> DAG:
    with DAG(unique("results"), schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:

        @task
        def list_loops() -> list:
            # What a batch start would hand over: item keys, and None for the item that needed no review.
            return [
                {"item_key": "doc-majority", "human_loop_name": loops["majority"]},
                {"item_key": "doc-tie", "human_loop_name": loops["tie"]},
                {"HumanLoopName": loops["single"], "HumanLoopArn": "ignored", "HumanLoopStatus": "InProgress"},
                loops["open"],
                {"item_key": "doc-missing", "human_loop_name": loops["missing"]},
                {"item_key": "doc-confident", "human_loop_name": None},
            ]

        A2IHumanLoopResultsOperator(task_id="results", human_loops=list_loops(), output_s3_uri=output_uri,
                                    **operator_kwargs)
    return dag


def test_the_operator_reads_the_local_services_outputs_in_a_dag(airflow_dags, reviewed_loops, s3, output_bucket,
                                                                caplog):
    from airflow.models.connection import Connection

    loops = reviewed_loops
    # No aws_default connection: AwsBaseHook falls back to boto3's defaults, which read AWS_ENDPOINT_URL.
    with pytest.raises(Exception, match="aws_default"):
        Connection.get_connection_from_secrets("aws_default")

    dag = results_dag(loops, f"s3://{output_bucket}/results/{{{{ dag.dag_id }}}}/")
    dag_run = airflow_dags.run(dag)
    assert airflow_dags.task_states(dag_run) == {"list_loops": "success", "results": "success"}
    assert dag_run.state == "success"

    prefix = f"s3://{output_bucket}/results/{dag.dag_id}"
    returned = airflow_dags.xcom(dag_run, "results")
    assert returned == {"results_uri": f"{prefix}/results.jsonl", "summary_uri": f"{prefix}/summary.json",
                        "items": 6, "loops": 5, "answers": 7,
                        "statuses": {"Completed": 3, "InProgress": 1, "Missing": 1}}

    rows = {row["item_key"]: row for row in read_lines(s3, returned["results_uri"])}
    assert list(rows) == ["doc-majority", "doc-tie", loops["single"], loops["open"], "doc-missing", "doc-confident"]
    columns = ["item_key", "human_loop_name", "human_loop_arn", "status", "failure_code", "failure_reason",
               "output_s3_uri", "output_error", "answers", "consolidated_answer", "agreement", "ties",
               # built-in task types only (tests/test_builtin_operators.py); null for custom ones
               "activation_results", "request_source", "machine_result_s3_uri", "fields", "labels", "final_labels",
               "sampled"]
    assert all(list(row) == columns for row in rows.values())
    assert all(row[column] is None for row in rows.values() for column in columns[-7:-1])
    # a custom loop says nothing of Sampling; an item without a loop was not drawn
    assert [row["sampled"] for row in rows.values()] == [None, None, None, None, None, False]

    majority = rows["doc-majority"]
    assert majority["human_loop_name"] == loops["majority"]
    assert majority["human_loop_arn"] == f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{loops['majority']}"
    assert majority["status"] == "Completed" and majority["output_error"] is None
    assert majority["output_s3_uri"].startswith(f"s3://{output_bucket}/a2i-output/")
    assert majority["output_s3_uri"].endswith(f"/{loops['majority']}/output.json")
    assert [(a["worker_id"], a["answer"], a["time_spent_in_seconds"]) for a in majority["answers"]] == [
        ("worker-0", {"label": "cat", "box": {"x": 1}}, 10.0),
        ("worker-1", {"label": "cat", "box": {"x": 2}}, 20.0),
        ("worker-2", {"label": "dog", "box": {"x": 1}}, 30.5),
    ]
    assert all(a["submission_time"].endswith("Z") for a in majority["answers"])
    assert majority["consolidated_answer"] == {"label": "cat", "box": {"x": 1}}
    assert majority["agreement"] == pytest.approx(2 / 3) and majority["ties"] == []

    tie = rows["doc-tie"]
    assert (tie["consolidated_answer"], tie["ties"]) == ({"label": "bird"}, ["label"])
    assert tie["agreement"] == pytest.approx(1 / 3)

    single = rows[loops["single"]]
    assert (single["status"], single["consolidated_answer"], single["agreement"]) == \
        ("Completed", {"label": "solo"}, 1.0)
    assert [a["worker_id"] for a in single["answers"]] == ["worker-9"]

    still_open = rows[loops["open"]]
    assert (still_open["status"], still_open["answers"], still_open["output_s3_uri"]) == ("InProgress", None, None)

    missing = rows["doc-missing"]
    assert (missing["human_loop_name"], missing["status"], missing["human_loop_arn"]) == \
        (loops["missing"], "Missing", None)

    confident = rows["doc-confident"]
    assert confident["human_loop_name"] is None
    assert all(confident[column] is None for column in columns[1:-1]) and confident["sampled"] is False

    summary = read_json(s3, returned["summary_uri"])
    assert summary == {
        "format": "airflow-a2i.results/1", "results_uri": returned["results_uri"],
        "items": 6, "items_without_loop": 1, "loops": 5,
        "statuses": {"Completed": 3, "InProgress": 1, "Missing": 1},
        "outputs_read": 3, "output_errors": 0, "answers": 7, "workers": 4,
        "mean_agreement": pytest.approx((2 / 3 + 1 / 3 + 1) / 3), "loops_with_ties": 1,
        "time_spent_in_seconds": 10.0 + 20.0 + 30.5 + 3 * 1.0 + 4.0,
        # nearest-rank percentiles of [1, 1, 1, 4, 10, 20, 30.5]
        "time_spent_percentiles": {"p50": 4.0, "p90": 30.5, "p99": 30.5},
        "fields": 0, "fields_reviewed": 0, "fields_corrected": 0, "fields_added": 0,  # custom tasks: no form fields
        "documents": 0, "documents_reviewed": 0,  # nor documents of a batch
    }


def test_fail_on_missing_output_fails_the_task_after_writing_the_results(airflow_dags, reviewed_loops, s3,
                                                                         output_bucket, local_service):
    loops = reviewed_loops
    output_uri = f"s3://{output_bucket}/{unique('strict')}"
    dag_run = airflow_dags.run(results_dag(loops, output_uri, fail_on_missing_output=True))
    assert airflow_dags.task_states(dag_run) == {"list_loops": "success", "results": "failed"}
    assert dag_run.state == "failed"
    # The results were still written, for whoever looks into the failure.
    rows = read_lines(s3, f"{output_uri}/results.jsonl")
    assert [row["status"] for row in rows] == ["Completed", "Completed", "Completed", "InProgress", "Missing", None]

    # Once the open loop is answered and the missing item dropped, the same strict run succeeds.
    admin = AdminClient(local_service)
    admin.answer(loops["open"], {"label": "late"}, worker_id="worker-1")
    admin.answer(loops["open"], {"label": "late"}, worker_id="worker-2")
    loops_done = {**loops, "missing": loops["majority"]}
    dag_run = airflow_dags.run(results_dag(loops_done, output_uri, fail_on_missing_output=True))
    assert airflow_dags.task_states(dag_run)["results"] == "success"
    rows = read_lines(s3, f"{output_uri}/results.jsonl")
    assert rows[3]["consolidated_answer"] == {"label": "late"}
    assert rows[3]["agreement"] == pytest.approx(2 / 3)


def test_an_unreadable_output_is_reported_not_fatal(airflow_dags, local_service, a2i, s3, make_flow_definition,
                                                    output_bucket):
    flow = make_flow_definition(task_count=1)
    name = start_loop(flow, client=a2i, content={"text": "x"})
    AdminClient(local_service).answer(name, {"label": "ok"}, worker_id="worker-1")
    uri = a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"not": "an output"}')
    output_uri = f"s3://{output_bucket}/{unique('unreadable')}"
    with DAG(unique("results"), schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        A2IHumanLoopResultsOperator(task_id="results", human_loops=[name], output_s3_uri=output_uri)
    dag_run = airflow_dags.run(dag)
    assert airflow_dags.task_states(dag_run) == {"results": "success"}
    [row] = read_lines(s3, f"{output_uri}/results.jsonl")
    assert row["status"] == "Completed" and row["answers"] is None
    assert row["output_error"] == f"{uri} is not a readable A2I output.json: it has no 'humanLoopName'"
    summary = read_json(s3, f"{output_uri}/summary.json")
    assert (summary["outputs_read"], summary["output_errors"], summary["mean_agreement"]) == (0, 1, None)

    s3.delete_object(Bucket=bucket, Key=key)
    dag_run = airflow_dags.run(dag)
    [row] = read_lines(s3, f"{output_uri}/results.jsonl")
    assert row["output_error"] == f"the output {uri} does not exist"

