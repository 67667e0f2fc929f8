"""The Textract and Rekognition operators in real DAG runs (``dag.test()``) on the local service, and the results
operator merging people's corrections into the machine's result.

Real data: ``fixtures/textract-employment-application.json`` is a real Textract AnalyzeDocument response and
``fixtures/a2i-textract-output.json`` the output.json of a real A2I built-in Textract loop (its answer holds the
reviewer's corrected blocks), both from the public repository aws-samples/amazon-textract-response-parser
(Apache-2.0); see ``fixtures/README.md``.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.client
import pytest
from airflow.sdk import DAG

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.local.portal.elements import find_elements, shape_answer
from airflow_a2i.operators.rekognition import RekognitionDetectModerationLabelsOperator
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.operators.textract import TextractAnalyzeDocumentOperator
from airflow_a2i.preflight import CORS_RULE
from airflow_a2i.results.built_in import built_in_answer, final_labels, merge_blocks, moderation_labels, textract_fields
from airflow_a2i.results.items import parse_human_loops
from airflow_a2i.results.output import parse_output
from tests.aws_calls import AwsCallRecorder, readme_iam_actions
from tests.conftest import unique, workteam_arn
from tests.flows import create_flow
from tests.loops import set_policy

TEXTRACT = "AWS/Textract/AnalyzeDocument/Forms/V1"
REKOGNITION = "AWS/Rekognition/DetectModerationLabels/Image/V3"
PII_FREE = "FreeOfPersonallyIdentifiableInformation"
PUBLIC_WORKTEAM = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
FIXTURES = Path(__file__).parent / "fixtures"
# Real Textract response; key-value confidences: "Home Address:" 95, "Mailing Address:" 92, "Phone Number:" 91,
# "Full Name:" 87 (value "Jane Doe").
EMPLOYMENT = json.loads((FIXTURES / "textract-employment-application.json").read_text())
# The same document read with more confidence: every key-value pair at 95 or more.
CONFIDENT_EMPLOYMENT = copy.deepcopy(EMPLOYMENT)
for _block in CONFIDENT_EMPLOYMENT["Blocks"]:
    if _block["BlockType"] == "KEY_VALUE_SET":
        _block["Confidence"] = max(_block["Confidence"], 95.0)
FULL_NAME_BELOW_90 = {"ConditionType": "ImportantFormKeyConfidenceCheck",
                      "ConditionParameters": {"ImportantFormKey": "Full Name:", "KeyValueBlockConfidenceLessThan": 90}}
ANY_LABEL_BELOW_95 = {"ConditionType": "ModerationLabelConfidenceCheck",
                      "ConditionParameters": {"ModerationLabelName": "*", "ConfidenceLessThan": 95}}


def moderation_response(*labels: tuple[str, str, float]) -> dict:
    return {"ModerationLabels": [{"Name": name, "ParentName": parent, "Confidence": confidence}
                                 for name, parent, confidence in labels], "ModerationModelVersion": "7.0"}


UNCERTAIN_LABELS = moderation_response(("Suggestive", "", 90.0), ("Female Swimwear Or Underwear", "Suggestive", 99.0))
CONFIDENT_LABELS = moderation_response(("Alcohol", "", 99.5))
SERVICES = {
    "textract": {"operator": TextractAnalyzeDocumentOperator, "source": TEXTRACT, "conditions": [FULL_NAME_BELOW_90],
                 "uncertain": EMPLOYMENT, "confident": CONFIDENT_EMPLOYMENT, "operation": "AnalyzeDocument"},
    "rekognition": {"operator": RekognitionDetectModerationLabelsOperator, "source": REKOGNITION,
                    "conditions": [ANY_LABEL_BELOW_95], "uncertain": UNCERTAIN_LABELS, "confident": CONFIDENT_LABELS,
                    "operation": "DetectModerationLabels"},
}


# Helpers --------------------------------------------------------------------------------------------------------


def make_bucket(region: str = "us-east-1", cors: bool = True) -> str:
    name = unique("a2i-docs")
    s3 = boto3.client("s3", region_name=region)
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **extra)
    if cors:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [CORS_RULE]})
    return name


@pytest.fixture(scope="module")
def documents(local_service: str) -> str:
    """A us-east-1 bucket with the CORS rule A2I needs, for documents, images and their stored analyses."""
    return make_bucket()


def upload(bucket: str, analysis: dict, service: str, region: str = "us-east-1") -> str:
    """Put a document or image (any bytes) and the response the local service answers for it; returns the key."""
    s3 = boto3.client("s3", region_name=region)
    key = f"inbox/{unique('item')}.png"
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x89PNG not really an image")
    s3.put_object(Bucket=bucket, Key=f"{key}.{service}.json", Body=json.dumps(analysis).encode())
    return key


def make_flow(source: str, output_bucket: str, conditions: list[dict] | None, *, region: str = "us-east-1",
              workteam: str | None = None) -> str:
    return create_flow(boto3.client("sagemaker", region_name=region),
                       output_path=f"s3://{output_bucket}/built-in-operators",
                       workteam_arn=workteam or workteam_arn(region), source=source or None, conditions=conditions)


def loops_of(flow_arn: str) -> list[dict]:
    return boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]


def read_json(uri: str) -> Any:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def read_lines(uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def object_exists(uri: str) -> bool:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] > 0


def new_dag(**kwargs: Any) -> DAG:
    return DAG(unique("builtin").replace("-", "_"), schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
               **kwargs)


@contextlib.contextmanager
def analysis_requests() -> Iterator[list[tuple[str, dict]]]:
    """(operation, params) of every Textract and Rekognition request made meanwhile (the calls still go out)."""
    calls: list[tuple[str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        if client.meta.service_model.service_name in ("textract", "rekognition"):
            calls.append((operation_name, copy.deepcopy(api_params)))
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def context(task_id: str = "direct") -> dict:
    """What ``execute`` reads of a task's context, for operators called outside a DAG run."""
    return {"ti": SimpleNamespace(dag_id="direct_calls", task_id=task_id, map_index=-1), "run_id": unique("run")}


# A loop started, none started, no flow definition ------------------------------------------------------------


@pytest.mark.parametrize("service", ["textract", "rekognition"])
def test_a_loop_starts_only_when_the_conditions_hold(airflow_dags, local_service, documents, output_bucket, service):
    spec = SERVICES[service]
    flow = make_flow(spec["source"], output_bucket, spec["conditions"])
    uncertain, confident = upload(documents, spec["uncertain"], service), upload(documents, spec["confident"], service)
    analyses = f"s3://{output_bucket}/{unique('analyses')}"
    operator = spec["operator"]
    with new_dag() as dag:
        for task_id, key, flow_arn in (("reviewed", uncertain, flow), ("confident", confident, flow),
                                       ("no_flow", uncertain, None)):
            operator(task_id=task_id, s3_bucket=documents, s3_key=key, analysis_output_s3_uri=analyses,
                     flow_definition_arn=flow_arn)
    with AwsCallRecorder(ignored=None) as recorder:  # records every thread's calls
        run = airflow_dags.run(dag)
    assert airflow_dags.task_states(run) == {"reviewed": "success", "confident": "success", "no_flow": "success"}

    reviewed = airflow_dags.xcom(run, "reviewed")
    [loop] = loops_of(flow)
    name = loop["HumanLoopName"]
    assert name.startswith("reviewed-") and loop["HumanLoopStatus"] == "InProgress"
    described = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)
    assert reviewed == {"Document": f"s3://{documents}/{uncertain}", "AnalysisS3Uri": f"{analyses}/{name}.json",
                        "HumanLoopStarted": True, "HumanLoopName": name, "HumanLoopArn": described["HumanLoopArn"],
                        "HumanLoopActivationReasons": ["ConditionsEvaluation"]}
    written = read_json(reviewed["AnalysisS3Uri"])
    assert written["HumanLoopActivationOutput"]["HumanLoopArn"] == described["HumanLoopArn"]
    assert json.loads(written["HumanLoopActivationOutput"]["HumanLoopActivationConditionsEvaluationResults"]) == \
        {"Conditions": [{**spec["conditions"][0], "EvaluationResult": True}]}
    assert "ResponseMetadata" not in written
    if service == "textract":
        assert written["Blocks"] == EMPLOYMENT["Blocks"]
    else:
        assert written["ModerationLabels"] == UNCERTAIN_LABELS["ModerationLabels"]

    for task_id, key in (("confident", confident), ("no_flow", uncertain)):
        result = airflow_dags.xcom(run, task_id)
        assert result["HumanLoopStarted"] is False, task_id
        assert (result["HumanLoopName"], result["HumanLoopArn"], result["HumanLoopActivationReasons"]) == \
            (None, None, [])
        assert result["Document"] == f"s3://{documents}/{key}"
        assert result["AnalysisS3Uri"].startswith(f"{analyses}/{task_id.replace('_', '-')}-")
        written = read_json(result["AnalysisS3Uri"])
        if task_id == "confident":  # conditions evaluated, none held: the results without HumanLoopArn
            assert json.loads(written["HumanLoopActivationOutput"].pop(
                "HumanLoopActivationConditionsEvaluationResults")) == \
                {"Conditions": [{**spec["conditions"][0], "EvaluationResult": False}]}
            assert written.pop("HumanLoopActivationOutput") == {}
        assert "HumanLoopActivationOutput" not in written  # no_flow: no HumanLoopConfig, no member
        assert ("Blocks" if service == "textract" else "ModerationLabels") in written

    # Every call is one the README's IAM table lists for the operator.
    used = recorder.iam_actions()
    listed = readme_iam_actions({operator.__name__})
    assert used <= listed, used - listed
    assert {f"{service}:{spec['operation']}", "s3:GetBucketLocation", "s3:GetBucketCors",
            "sagemaker:DescribeFlowDefinition", "sagemaker:DescribeHumanLoop", "s3:PutObject"} <= used


# Waiting -------------------------------------------------------------------------------------------------------


def test_waiting_under_the_core_policies(airflow_dags, local_service, documents, output_bucket):
    answered = make_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    set_policy(local_service, answered, delaySeconds=[0.2, 0.4], answer={"mode": "echo"})
    failing = make_flow(REKOGNITION, output_bucket, [ANY_LABEL_BELOW_95])
    set_policy(local_service, failing, delaySeconds=[0.2, 0.4], failureRate=1.0)
    analyses = f"s3://{output_bucket}/{unique('analyses')}"
    with new_dag() as dag:
        TextractAnalyzeDocumentOperator(
            task_id="answered", s3_bucket=documents, s3_key=upload(documents, EMPLOYMENT, "textract"),
            analysis_output_s3_uri=analyses, flow_definition_arn=answered, wait_for_completion=True,
            deferrable=True, poll_interval=0.2)
        for policy in ("fail", "skip", "continue"):
            RekognitionDetectModerationLabelsOperator(
                task_id=f"failed_{policy}", s3_bucket=documents,
                s3_key=upload(documents, UNCERTAIN_LABELS, "rekognition"), analysis_output_s3_uri=analyses,
                flow_definition_arn=failing, wait_for_completion=True, poll_interval=0.2, on_loop_failure=policy)
        # A confident document: nothing to wait for, even with wait_for_completion.
        TextractAnalyzeDocumentOperator(
            task_id="nothing_to_wait_for", s3_bucket=documents,
            s3_key=upload(documents, CONFIDENT_EMPLOYMENT, "textract"), analysis_output_s3_uri=analyses,
            flow_definition_arn=answered, wait_for_completion=True, poll_interval=0.2)
    run = airflow_dags.run(dag)
    assert airflow_dags.task_states(run) == {"answered": "success", "failed_fail": "failed", "failed_skip": "skipped",
                                             "failed_continue": "success", "nothing_to_wait_for": "success"}

    done = airflow_dags.xcom(run, "answered")
    assert done["HumanLoopStatus"] == "Completed" and done["HumanLoopStarted"] is True
    assert done["OutputS3Uri"].endswith(f"/{done['HumanLoopName']}/output.json")
    assert done["AnalysisS3Uri"] == f"{analyses}/{done['HumanLoopName']}.json"
    output = read_json(done["OutputS3Uri"])
    selected = output["inputContent"]["selectedAiServiceResponse"]
    assert output["humanAnswers"][0]["answerContent"] == {TEXTRACT: selected}  # the echoing worker

    failed = airflow_dags.xcom(run, "failed_continue")
    assert failed["HumanLoopStatus"] == "Failed" and "OutputS3Uri" not in failed
    assert sorted(loop["HumanLoopStatus"] for loop in loops_of(failing)) == ["Failed"] * 3
    assert airflow_dags.xcom(run, "nothing_to_wait_for")["HumanLoopStarted"] is False
    assert "HumanLoopStatus" not in airflow_dags.xcom(run, "nothing_to_wait_for")


# A retry adopts the loop its first attempt started -------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_retry_after_a_lost_response_adopts_the_loop(airflow_dags, local_service, documents, output_bucket):
    flow = make_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    key = upload(documents, EMPLOYMENT, "textract")
    analyses = f"s3://{output_bucket}/{unique('analyses')}"
    with new_dag() as dag:
        # Two wire attempts per call (one botocore retry, which meets the open loop and gets it again), then
        # the task fails; its retry must adopt the loop, not send the name again.
        TextractAnalyzeDocumentOperator(
            task_id="analyse", s3_bucket=documents, s3_key=key, analysis_output_s3_uri=analyses,
            flow_definition_arn=flow, retries=1, retry_delay=timedelta(0),
            botocore_config={"retries": {"mode": "standard", "total_max_attempts": 2}})
    admin = AdminClient(local_service)
    # The rule goes after two requests: both wire attempts of the first task attempt lose their response.
    admin.add_fault("AnalyzeDocument", lost_response=True, count=2)
    try:
        with analysis_requests() as calls:
            run = airflow_dags.run(dag)
    finally:
        admin.clear_faults()
    assert airflow_dags.task_states(run) == {"analyse": "success"}
    [loop] = loops_of(flow)
    name = loop["HumanLoopName"]
    with_loop = [params["HumanLoopConfig"]["HumanLoopName"] for _, params in calls if "HumanLoopConfig" in params]
    assert with_loop == [name]  # the first attempt only; the retry analysed without HumanLoopConfig
    assert [operation for operation, _ in calls] == ["AnalyzeDocument", "AnalyzeDocument"]
    result = airflow_dags.xcom(run, "analyse")
    assert (result["HumanLoopStarted"], result["HumanLoopName"], result.get("Adopted")) == (True, name, True)
    arn = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)["HumanLoopArn"]
    assert result["HumanLoopArn"] == arn
    written = read_json(result["AnalysisS3Uri"])
    assert written["HumanLoopActivationOutput"]["HumanLoopArn"] == arn
    assert written["Blocks"] == EMPLOYMENT["Blocks"]


# Preflight: what A2I would fail on later fails before any analysis -------------------------------------------


def preflight_failure(operator: Any) -> tuple[str, list]:
    """Run the operator outside a DAG; returns its error message and the analysis requests it made."""
    with analysis_requests() as calls, pytest.raises(A2IValidationError) as caught:
        operator.execute(context())
    return str(caught.value), calls


@pytest.mark.parametrize("service", ["textract", "rekognition"])
def test_a_bucket_in_another_region_than_the_flow_definition(local_service, output_bucket, service):
    spec = SERVICES[service]
    bucket = make_bucket("eu-west-1")
    key = upload(bucket, spec["uncertain"], service, region="eu-west-1")
    flow = make_flow(spec["source"], output_bucket, None)
    analyses = f"s3://{output_bucket}/{unique('analyses')}"
    message, calls = preflight_failure(spec["operator"](
        task_id="analyse", s3_bucket=bucket, s3_key=key, analysis_output_s3_uri=analyses, flow_definition_arn=flow))
    assert calls == [] and loops_of(flow) == [] and not object_exists(analyses)
    assert f"Bucket {bucket!r} is in eu-west-1 but flow definition {flow} is in us-east-1" in message
    assert "Use a flow definition in eu-west-1" in message


def test_a_bucket_without_the_cors_rule(local_service, output_bucket):
    bucket = make_bucket(cors=False)
    key = upload(bucket, UNCERTAIN_LABELS, "rekognition")
    flow = make_flow(REKOGNITION, output_bucket, [ANY_LABEL_BELOW_95])
    analyses = f"s3://{output_bucket}/{unique('analyses')}"
    operator = RekognitionDetectModerationLabelsOperator(
        task_id="moderate", s3_bucket=bucket, s3_key=key, analysis_output_s3_uri=analyses, flow_definition_arn=flow)
    message, calls = preflight_failure(operator)
    assert calls == [] and loops_of(flow) == [] and not object_exists(analyses)
    assert f"Bucket {bucket!r} has no CORS rule" in message
    assert json.dumps([CORS_RULE]) in message and "check_cors=False" in message

    # The rule the message quotes is the fix.
    quoted, _ = json.JSONDecoder().raw_decode(message.split("(put-bucket-cors): ", 1)[1])
    boto3.client("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": quoted})
    with analysis_requests() as calls:
        result = operator.execute(context("moderate"))
    assert result["HumanLoopStarted"] is True and [loop["HumanLoopName"] for loop in loops_of(flow)] == \
        [result["HumanLoopName"]]
    assert [operation for operation, _ in calls] == ["DetectModerationLabels"]


def test_the_public_workforce_needs_the_pii_classifier(local_service, documents, output_bucket):
    flow = make_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90], workteam=PUBLIC_WORKTEAM)
    key = upload(documents, EMPLOYMENT, "textract")
    analyses = f"s3://{output_bucket}/{unique('analyses')}"

    def operator(**extra: Any) -> TextractAnalyzeDocumentOperator:
        return TextractAnalyzeDocumentOperator(task_id="analyse", s3_bucket=documents, s3_key=key,
                                               analysis_output_s3_uri=analyses, flow_definition_arn=flow, **extra)

    for classifiers in (None, ["FreeOfAdultContent"]):
        message, calls = preflight_failure(operator(content_classifiers=classifiers))
        assert calls == [] and loops_of(flow) == [] and not object_exists(analyses)
        assert "public workforce" in message and f"content_classifiers=[{PII_FREE!r}]" in message

    with analysis_requests() as calls:
        result = operator(content_classifiers=[PII_FREE]).execute(context("analyse"))
    assert result["HumanLoopStarted"] is True
    [(_, params)] = calls
    assert params["HumanLoopConfig"]["DataAttributes"] == {"ContentClassifiers": [PII_FREE]}


def test_a_flow_definition_of_another_task_type(local_service, documents, output_bucket, flow_definition_arn):
    key = upload(documents, EMPLOYMENT, "textract")
    for flow, kind in ((flow_definition_arn, "a custom task type"),
                       (make_flow(REKOGNITION, output_bucket, None), REKOGNITION)):
        message, calls = preflight_failure(TextractAnalyzeDocumentOperator(
            task_id="analyse", s3_bucket=documents, s3_key=key, flow_definition_arn=flow,
            analysis_output_s3_uri=f"s3://{output_bucket}/{unique('analyses')}"))
        assert calls == [] and loops_of(flow) == []
        assert f"Flow definition {flow} is not for {TEXTRACT} (it is {kind})" in message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"flow_definition_arn": "arn:aws:sagemaker:us-east-1:xyz:flow-definition/f"},
         "the account 'xyz' is not a 12-digit AWS account id"),
        ({"flow_definition_arn": "flow-definition/f"}, "is not a flow definition ARN"),
        ({"analysis_output_s3_uri": "my-bucket/analyses"}, "analysis_output_s3_uri must be an s3://bucket/prefix URI"),
        ({"analysis_output_s3_uri": "s3:///analyses"}, "analysis_output_s3_uri must be an s3://bucket/prefix URI"),
        ({"human_loop_name": "human_loop_name"}, "'human_loop_name' is not a valid A2I name"),
        ({"content_classifiers": ["FreeOfPII"]}, "Unknown content classifier"),
        ({"on_loop_failure": "retry"}, "on_loop_failure"),
    ],
)
@pytest.mark.parametrize("operator", [TextractAnalyzeDocumentOperator, RekognitionDetectModerationLabelsOperator])
def test_bad_input_fails_at_parse_time(operator, arguments, message):
    kwargs = {"task_id": "analyse", "s3_bucket": "docs", "s3_key": "a.png",
              "analysis_output_s3_uri": "s3://out/analyses",
              "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f", **arguments}
    with pytest.raises(A2IValidationError, match=message):
        operator(**kwargs)


def test_templated_values_are_checked_once_rendered(local_service, output_bucket):
    operator = TextractAnalyzeDocumentOperator(
        task_id="analyse", s3_bucket="docs", s3_key="a.png", analysis_output_s3_uri="{{ params.out }}",
        flow_definition_arn="{{ params.flow }}")  # nothing to check yet
    operator.analysis_output_s3_uri, operator.flow_definition_arn = "s3://out/a", "arn:aws:sagemaker:us-east-1:1:x"
    with analysis_requests() as calls, pytest.raises(A2IValidationError, match="12-digit AWS account id"):
        operator.execute(context())
    assert calls == []


# Results: people's corrections merged into the machine's result ---------------------------------------------


def test_merging_the_recorded_textract_loop():
    # The real A2I output: "Total" (key-value confidence 41.3) was selected and kept as it was; the reviewer
    # added "Policy Number:" and "Device ID:" pairs (new blocks); the other pairs were not shown.
    recorded = parse_output(json.loads((FIXTURES / "a2i-textract-output.json").read_text()))
    assert recorded.ai_service_response is not None
    answer = built_in_answer(recorded.consolidate().consolidated, TEXTRACT)
    assert answer is not None and len(answer["blocks"]) == 14
    fields = {field["key"]: field for field in textract_fields(recorded.ai_service_response, answer)}
    assert list(fields) == ["Labor Charges", "Screen Replace", "Date:", "Device S/N:", "Customer Name:", "Policy:",
                            "Total", "Policy Number:", "Device ID:"]
    assert fields["Total"] == {"key": "Total", "machine_value": "$148.99",
                               "machine_confidence": pytest.approx(41.29178), "human_value": "$148.99",
                               "reviewed": True, "corrected": False, "added_by_reviewer": False}
    # The key A2I found missing (MissingImportantFormKey "Policy Number:"), added by the worker.
    assert fields["Policy Number:"] == {"key": "Policy Number:", "machine_value": None, "machine_confidence": None,
                                        "human_value": "AG133441", "reviewed": True, "corrected": True,
                                        "added_by_reviewer": True}
    assert fields["Device ID:"]["human_value"] == "424403233" and fields["Device ID:"]["added_by_reviewer"]
    assert fields["Policy:"] == {"key": "Policy:", "machine_value": "AG133441",
                                 "machine_confidence": pytest.approx(46.362053), "human_value": None,
                                 "reviewed": False, "corrected": False, "added_by_reviewer": False}
    # Without an answer nothing is reviewed, and the machine's pairs are all there is.
    unreviewed = textract_fields(recorded.ai_service_response, None)
    assert [field["key"] for field in unreviewed] == list(fields)[:7]
    assert not any(field["reviewed"] or field["corrected"] or field["added_by_reviewer"] for field in unreviewed)


def test_merging_replaces_blocks_by_id_and_reads_either_spelling():
    # The real Textract response (PascalCase, as the operator writes it) and a correction of "Jane" (camelCase,
    # as reviewers' answers are).
    jane = next(block for block in EMPLOYMENT["Blocks"] if block.get("Text") == "Jane")
    corrected = [{"blockType": "WORD", "id": jane["Id"], "text": "Janet"}]
    merged = merge_blocks([{"id": "a", "text": "x"}, {"id": jane["Id"], "text": "Jane"}],
                          [*corrected, {"id": "new", "text": "y"}])
    assert merged == [{"id": "a", "text": "x"}, corrected[0], {"id": "new", "text": "y"}]
    fields = {field["key"]: field for field in textract_fields(EMPLOYMENT, {"blocks": corrected})}
    assert fields["Full Name:"] == {"key": "Full Name:", "machine_value": "Jane Doe", "machine_confidence": 87.0,
                                    "human_value": "Janet Doe", "reviewed": True, "corrected": True,
                                    "added_by_reviewer": False}
    assert [field["reviewed"] for field in fields.values()] == [False, False, False, True]


def test_moderation_labels_kept_by_name():
    machine = moderation_response(("Suggestive", "", 90.0), ("Female Swimwear Or Underwear", "Suggestive", 99.0),
                                  ("Alcohol", "", 70.0))
    shown = {"moderationLabels": [{"name": "Suggestive", "parentName": "", "confidence": 90.0},
                                  {"name": "Alcohol", "parentName": "", "confidence": 70.0}]}
    answer = {"moderationLabels": [{"name": "Alcohol", "parentName": ""}, {"name": "Drugs", "parentName": ""}]}
    labels = moderation_labels(machine, answer, shown)
    assert labels == [
        {"name": "Suggestive", "parent_name": "", "machine_confidence": 90.0, "kept_by_reviewer": False},
        # Not shown to the reviewer and not chosen: nobody reviewed it, the machine's label stands.
        {"name": "Female Swimwear Or Underwear", "parent_name": "Suggestive", "machine_confidence": 99.0,
         "kept_by_reviewer": None},
        {"name": "Alcohol", "parent_name": "", "machine_confidence": 70.0, "kept_by_reviewer": True},
        {"name": "Drugs", "parent_name": "", "machine_confidence": None, "kept_by_reviewer": True},
    ]
    assert final_labels(labels) == ["Female Swimwear Or Underwear", "Alcohol", "Drugs"]
    assert final_labels(moderation_labels(machine, None)) == ["Suggestive", "Female Swimwear Or Underwear", "Alcohol"]
    # Without the selected response every label counts as shown.
    assert final_labels(moderation_labels(machine, answer)) == ["Alcohol", "Drugs"]


def test_the_built_in_operators_xcom_are_result_items():
    items = parse_human_loops([
        {"Document": "s3://docs/a.png", "AnalysisS3Uri": "s3://out/a.json", "HumanLoopStarted": True,
         "HumanLoopName": "loop-a", "HumanLoopArn": "arn", "HumanLoopActivationReasons": []},
        {"Document": "s3://docs/b.png", "AnalysisS3Uri": "s3://out/b.json", "HumanLoopStarted": False,
         "HumanLoopName": None, "HumanLoopArn": None, "HumanLoopActivationReasons": []},
        {"item_key": "c", "human_loop_name": None, "machine_result_s3_uri": "s3://out/c.json"},
    ])
    assert [(item.item_key, item.human_loop_name, item.machine_result_s3_uri) for item in items] == [
        ("s3://docs/a.png", "loop-a", "s3://out/a.json"), ("s3://docs/b.png", None, "s3://out/b.json"),
        ("c", None, "s3://out/c.json")]
    with pytest.raises(A2IValidationError, match=r"human_loops\[0\].AnalysisS3Uri must be an s3:// URI"):
        parse_human_loops([{"HumanLoopName": "loop-a", "Document": "d", "AnalysisS3Uri": "out/a.json"}])
    with pytest.raises(A2IValidationError, match="HumanLoopName None and no Document"):
        parse_human_loops([{"HumanLoopName": None}])


def added_pair_blocks(blocks: list[dict], key: str, value: str) -> list[dict]:
    """The blocks the worker portal answers for a pair the worker added (airflow_a2i.local.portal.elements)."""
    literal = json.dumps(blocks).replace("&", "&amp;").replace('"', "&quot;")
    page = f'<crowd-textract-analyze-document initial-value="{literal}"></crowd-textract-analyze-document>'
    posted = {"__a2i_textract": [json.dumps([{"key": key, "value": value}])]}
    return shape_answer(find_elements(page), posted)[TEXTRACT]["blocks"]


def test_results_merge_service_written_outputs(airflow_dags, local_service, documents, output_bucket):
    jane = next(block for block in EMPLOYMENT["Blocks"] if block.get("Text") == "Jane")
    textract_flow = make_flow(TEXTRACT, output_bucket, [FULL_NAME_BELOW_90])
    # The reviewer corrects a word and adds a key the machine did not find.
    added = added_pair_blocks(EMPLOYMENT["Blocks"], "Date of Birth:", "1990-05-06")
    set_policy(local_service, textract_flow, delaySeconds=[0.1, 0.2],
               answer={"mode": "fixed", "answer": {"blocks": [{"blockType": "WORD", "id": jane["Id"],
                                                               "text": "Janet"}, *added]}})
    rekognition_flow = make_flow(REKOGNITION, output_bucket, [ANY_LABEL_BELOW_95])
    set_policy(local_service, rekognition_flow, delaySeconds=[0.1, 0.2],
               answer={"mode": "fixed", "answer": {"moderationLabels": []}})  # "Suggestive" does not apply
    analyses, results_uri = f"s3://{output_bucket}/{unique('analyses')}", f"s3://{output_bucket}/{unique('results')}"
    with new_dag() as dag:
        analysed = []
        for task_id, operator, flow, analysis, service in (
                ("form", TextractAnalyzeDocumentOperator, textract_flow, EMPLOYMENT, "textract"),
                ("clean_form", TextractAnalyzeDocumentOperator, textract_flow, CONFIDENT_EMPLOYMENT, "textract"),
                ("image", RekognitionDetectModerationLabelsOperator, rekognition_flow, UNCERTAIN_LABELS,
                 "rekognition"),
                ("clean_image", RekognitionDetectModerationLabelsOperator, rekognition_flow, CONFIDENT_LABELS,
                 "rekognition")):
            analysed.append(operator(task_id=task_id, s3_bucket=documents, s3_key=upload(documents, analysis, service),
                                     analysis_output_s3_uri=analyses, flow_definition_arn=flow,
                                     wait_for_completion=True, poll_interval=0.2))
        results = A2IHumanLoopResultsOperator(task_id="results", human_loops=[task.output for task in analysed],
                                              output_s3_uri=results_uri)
        analysed >> results
    run = airflow_dags.run(dag)
    assert str(run.state) == "success", airflow_dags.task_states(run)
    assert airflow_dags.xcom(run, "results")["statuses"] == {"Completed": 2}
    rows = {row["item_key"]: row for row in read_lines(f"{results_uri}/results.jsonl")}
    form, clean_form, image, clean_image = (rows[airflow_dags.xcom(run, task_id)["Document"]]
                                            for task_id in ("form", "clean_form", "image", "clean_image"))

    assert (form["status"], form["request_source"]) == ("Completed", TEXTRACT)
    assert form["machine_result_s3_uri"] == airflow_dags.xcom(run, "form")["AnalysisS3Uri"]
    assert {field["key"]: field["human_value"] for field in form["fields"]} == {
        "Home Address:": None, "Mailing Address:": None, "Phone Number:": None, "Full Name:": "Janet Doe",
        "Date of Birth:": "1990-05-06"}
    assert [field for field in form["fields"] if field["corrected"]] == [
        {"key": "Full Name:", "machine_value": "Jane Doe", "machine_confidence": 87.0, "human_value": "Janet Doe",
         "reviewed": True, "corrected": True, "added_by_reviewer": False},
        {"key": "Date of Birth:", "machine_value": None, "machine_confidence": None, "human_value": "1990-05-06",
         "reviewed": True, "corrected": True, "added_by_reviewer": True}]
    assert form["labels"] is None and form["final_labels"] is None
    summary = json.loads(boto3.client("s3").get_object(
        Bucket=output_bucket, Key=f"{results_uri.split('/', 3)[3]}/summary.json")["Body"].read())
    assert (summary["fields"], summary["fields_reviewed"], summary["fields_corrected"], summary["fields_added"]) == \
        (5 + 4, 2, 2, 1)  # the reviewed form's 5 fields and the clean form's 4

    # No loop: the machine's result, read from the operator's AnalysisS3Uri.
    assert (clean_form["human_loop_name"], clean_form["status"], clean_form["request_source"]) == \
        (None, None, TEXTRACT)
    assert [field["machine_value"] for field in clean_form["fields"]] == \
        ["123 Any Street, Any Town, USA", "same as home address", "555-0100", "Jane Doe"]
    assert not any(field["reviewed"] for field in clean_form["fields"])

    assert (image["status"], image["request_source"], image["fields"]) == ("Completed", REKOGNITION, None)
    assert image["labels"] == [
        {"name": "Suggestive", "parent_name": "", "machine_confidence": 90.0, "kept_by_reviewer": False},
        {"name": "Female Swimwear Or Underwear", "parent_name": "Suggestive", "machine_confidence": 99.0,
         "kept_by_reviewer": None}]
    assert image["final_labels"] == ["Female Swimwear Or Underwear"]
    assert (clean_image["status"], clean_image["final_labels"]) == (None, ["Alcohol"])
    assert clean_image["labels"][0]["kept_by_reviewer"] is None
