"""A person in a real browser answers through the portal while real DAGs wait on the loops, then go on.

Chromium runs in the reviewer's thread (Playwright's sync API must stay in the thread that started it,
and while it runs that thread counts as running an event loop); the DAGs run in the test's thread with
``dag.test()``, the custom one deferring to its trigger as it would on a triggerer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.operators.results import A2IHumanLoopResultsOperator
from airflow_a2i.operators.textract import TextractAnalyzeDocumentOperator
from airflow_a2i.preflight import CORS_RULE
from demo import samples
from tests.airflow_fixtures import load_dag_file
from tests.browser import CHROMIUM_ARGS, chromium_path, require_browser, save_screenshot
from tests.conftest import ACCOUNT, ROLE_ARN, unique
from tests.flows import create_flow

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
TEXTRACT = "AWS/Textract/AnalyzeDocument/Forms/V1"
# Shown as text, never run: a script element, an image whose error handler runs code, an attribute breakout.
SCRIPT_PAYLOAD = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"
ATTRIBUTE_PAYLOAD = "\" onmouseover=\"window.__pwned = 3\" data-x=\""
WAIT_SECONDS = 60


class Reviewer(threading.Thread):
    """A worker at a browser: logs in, then takes each step in turn (each waits for its task to appear)."""

    def __init__(self, endpoint: str, name: str, credential: str, steps: list[Callable[[Page], None]]) -> None:
        super().__init__(name="portal-reviewer", daemon=True)
        self.endpoint, self.worker_name, self.credential, self.steps = endpoint, name, credential, steps
        self.error: BaseException | None = None
        self.dialogs: list[str] = []

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
                log_in(page, self.endpoint, self.worker_name, self.credential, screenshot="portal-login")
                for step in self.steps:
                    step(page)
                browser.close()
        except BaseException as error:  # re-raised by the test's thread
            self.error = error


def log_in(page: Page, endpoint: str, name: str, credential: str, screenshot: str = "") -> None:
    page.goto(f"{endpoint}/portal/tasks")
    assert "/portal/login" in page.url  # the portal asks who you are first
    page.get_by_label("Worker name").fill(name)
    page.get_by_label("Credential").fill(credential)
    if screenshot:
        save_screenshot(page, screenshot)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/tasks")


def open_next_task(page: Page, endpoint: str, screenshot: str = "") -> str:
    """Wait until a task is listed, open it; returns the loop's name."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        page.goto(f"{endpoint}/portal/tasks")
        links = page.locator("table a")
        if links.count():
            if screenshot:
                save_screenshot(page, screenshot)
            name = links.first.inner_text()
            links.first.click()
            page.wait_for_load_state()
            return name
        time.sleep(0.3)
    raise AssertionError("no task reached the portal's task list")


def answer_custom_task(endpoint: str, seen: dict[str, Any]) -> Callable[[Page], None]:
    def step(page: Page) -> None:
        seen["custom"] = open_next_task(page, endpoint, screenshot="portal-task-list")
        page.get_by_text("window.__pwned = 1", exact=False).wait_for()
        seen["payload_shown"] = page.get_by_text(SCRIPT_PAYLOAD, exact=False).count() > 0
        seen["attribute_payload_shown"] = page.get_by_text(ATTRIBUTE_PAYLOAD.strip(), exact=False).count() > 0
        page.get_by_label("Your answer").fill("1,250.00 EUR")
        page.mouse.move(10, 10)
        page.hover("main, body")
        seen["pwned"] = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        seen["injected"] = page.locator("img[src='x'], [onmouseover], [onerror]").count()
        save_screenshot(page, "portal-custom-task")
        page.get_by_role("button", name="Submit").click()
        # The worker's next task (the Textract one, if it is open already), or the task list.
        page.wait_for_url(lambda url: "done=" in url)
        seen["after_submit"] = page.locator("[role=status]").first.inner_text()
    return step


def correct_textract_value(endpoint: str, key: str, value: str, seen: dict[str, Any]) -> Callable[[Page], None]:
    def step(page: Page) -> None:
        seen["textract"] = open_next_task(page, endpoint)
        field = page.get_by_label(f"Value for {key}")
        seen["machine_value"] = field.input_value()
        page.wait_for_function("() => [...document.images].every((image) => image.complete)")
        seen["image_loaded"] = page.evaluate(
            "() => [...document.images].some((image) => image.naturalWidth > 0)")
        field.fill(value)
        save_screenshot(page, "portal-textract-review")
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(lambda url: "done=" in url)
    return step


def check_other_team(endpoint: str, outsider: str, credential: str, seen: dict[str, Any]) -> Callable[[Page], None]:
    def step(page: Page) -> None:
        page.context.clear_cookies()
        log_in(page, endpoint, outsider, credential)
        seen["outsider_list"] = page.locator("main").inner_text()
        page.goto(f"{endpoint}/portal/tasks/us-east-1/{seen['custom']}")
        seen["outsider_task"] = page.locator("main").inner_text()
    return step


def textract_document(bucket: str) -> tuple[str, str, str]:
    """A generated one-page PNG form and its stored Textract analysis; returns (key, a key name, its value)."""
    document = next(doc for doc in samples.generate_documents(seed=7, count=6)
                    if doc.format == "png" and len(doc.pages) == 1)
    s3 = boto3.client("s3")
    key = f"inbox/{unique('form')}.png"
    s3.put_object(Bucket=bucket, Key=key, Body=samples.render_png(document), ContentType="image/png")
    s3.put_object(Bucket=bucket, Key=f"{key}.textract.json", Body=json.dumps(document.analyses[0]).encode())
    form_key = next(iter(document.readings))
    return key, form_key, document.readings[form_key].text


def textract_flow(output_bucket: str, team: str, form_key: str) -> str:
    conditions = [{"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": {
        "ImportantFormKey": form_key, "KeyValueBlockConfidenceLessThan": 100}}]
    return create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/portal-browser",
                       workteam_arn=workteam(team), source=TEXTRACT, conditions=conditions,
                       template=(ROOT / "dags" / "templates" / "textract_review.liquid.html").read_text(),
                       name=unique("textract-review"))


def workteam(team: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/{team}"


def read_lines(uri: str) -> list[dict]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


@pytest.mark.timeout(300)
def test_a_worker_answers_in_the_browser_and_the_dags_go_on(airflow_dags, local_service, portal_endpoint,
                                                           output_bucket):
    require_browser()
    team = unique("reviewers")
    admin = AdminClient(local_service)
    worker_name, outsider = unique("ana"), unique("outsider")
    added = admin.add_worker(worker_name, team)
    outsider_credential = admin.add_worker(outsider, unique("other-team"))["credential"]

    documents = unique("a2i-docs")
    boto3.client("s3").create_bucket(Bucket=documents)
    boto3.client("s3").put_bucket_cors(Bucket=documents, CORSConfiguration={"CORSRules": [CORS_RULE]})
    document_key, form_key, machine_value = textract_document(documents)
    textract_flow_arn = textract_flow(output_bucket, team, form_key)

    seen: dict[str, Any] = {}
    reviewer = Reviewer(portal_endpoint, worker_name, added["credential"], [
        answer_custom_task(portal_endpoint, seen),
        correct_textract_value(portal_endpoint, form_key, "CORRECTED 42", seen),
        check_other_team(portal_endpoint, outsider, outsider_credential, seen),
    ])
    reviewer.start()

    custom_dag = load_dag_file(ROOT / "dags" / "a2i_custom_review.py")
    flow_name = unique("portal-review")
    custom_run = airflow_dags.run(custom_dag, run_conf={
        "role_arn": ROLE_ARN, "workteam_arn": workteam(team), "flow_definition_name": flow_name,
        "output_s3_path": f"s3://{output_bucket}/{flow_name}", "text": SCRIPT_PAYLOAD, "question": ATTRIBUTE_PAYLOAD,
        "review_timeout_seconds": 120, "poll_seconds": 0.5})
    textract_run = airflow_dags.run(textract_dag(documents, document_key, textract_flow_arn, output_bucket))
    reviewer.join(timeout=60)
    if reviewer.error is not None:
        raise reviewer.error
    assert not reviewer.is_alive()

    # The custom task: answered in the browser, the DAG went on and read the answer.
    assert airflow_dags.task_states(custom_run) == {"task_ui": "success", "flow_definition": "success",
                                                    "review": "success", "read_answer": "success"}
    [row] = read_lines(airflow_dags.xcom(custom_run, "read_answer")["results_uri"])
    assert row["human_loop_name"] == seen["custom"]
    assert row["consolidated_answer"] == {"answer": "1,250.00 EUR"}
    assert row["answers"][0]["worker_id"] == added["workerId"]
    link = airflow_dags.xcom(custom_run, "review", key="a2i_portal_task")
    assert link["portal_url"] == f"{portal_endpoint}/portal" and link["human_loop_name"] == seen["custom"]

    # The payloads were shown as text and nothing ran.
    assert seen["payload_shown"] and seen["attribute_payload_shown"]
    assert (seen["pwned"], seen["injected"], reviewer.dialogs) == (None, 0, [])
    assert seen["custom"] in seen["after_submit"]

    # The Textract review: the document was shown, the corrected value went into the merged results.
    assert str(textract_run.state) == "success", airflow_dags.task_states(textract_run)
    assert seen["image_loaded"] and seen["machine_value"] == machine_value
    [result] = read_lines(airflow_dags.xcom(textract_run, "results")["results_uri"])
    corrected = {field["key"]: field["human_value"] for field in result["fields"] if field["corrected"]}
    assert corrected == {form_key: "CORRECTED 42"}
    assert airflow_dags.xcom(textract_run, "review", key="a2i_portal_task")["human_loop_name"] == seen["textract"]

    # A worker of another team saw no task and could not open it.
    assert "No task is waiting for you." in seen["outsider_list"]
    assert "There is no task" in seen["outsider_task"]


def textract_dag(bucket: str, key: str, flow_arn: str, output_bucket: str) -> Any:
    from airflow.sdk import DAG

    with DAG(dag_id=unique("portal_textract").replace("-", "_"), schedule=None) as dag:
        review = TextractAnalyzeDocumentOperator(
            task_id="review", s3_bucket=bucket, s3_key=key, flow_definition_arn=flow_arn,
            analysis_output_s3_uri=f"s3://{output_bucket}/{unique('analyses')}", wait_for_completion=True,
            deferrable=False, poll_interval=0.5, review_timeout=120)
        results = A2IHumanLoopResultsOperator(task_id="results", human_loops=[review.output],
                                              output_s3_uri=f"s3://{output_bucket}/{unique('results')}")
        review >> results
    return dag
