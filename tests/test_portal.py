"""The worker portal over HTTP: logins, teams, CSRF, answering once, TaskCount, timings, documents, RenderUiTemplate."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from airflow_a2i.local.portal.accounts import Accounts, UrlSigner
from airflow_a2i.local.store import Store
from tests.conftest import ACCOUNT, ROLE_ARN, unique
from tests.flows import create_flow
from tests.loops import start_loop
from tests.portal_client import PortalClient, add_worker

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

TEMPLATE = """<crowd-form>
  <p>{{ task.input.question }}</p>
  <crowd-classifier name="verdict" categories="['approve', 'reject']" header="Decide"></crowd-classifier>
  <crowd-input name="note" label="Note"></crowd-input>
</crowd-form>"""


def team_workteam(team: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/{team}"


def team_flow(output_bucket: str, team: str, *, task_count: int = 1, template: str = TEMPLATE,
              source: str | None = None, endpoint: str | None = None) -> str:
    return create_flow(boto3.client("sagemaker", endpoint_url=endpoint), output_path=f"s3://{output_bucket}/portal",
                       workteam_arn=team_workteam(team), template=template, task_count=task_count, source=source)


def output_of(name: str) -> dict:
    described = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed", described
    bucket, key = described["HumanLoopOutput"]["OutputS3Uri"][5:].split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def worker(portal: str, team: str, api: str | None = None) -> PortalClient:
    """A signed-in worker of ``team`` on the portal at ``portal``, added through the admin API at ``api``."""
    name = unique("worker")
    client = PortalClient(portal)
    assert client.log_in(name, add_worker(api, name, team)).status_code == 200
    return client


@pytest.fixture
def team() -> str:
    return unique("team")


def test_portal_needs_a_login(portal_endpoint: str) -> None:
    response = requests.get(f"{portal_endpoint}/portal/tasks", allow_redirects=False, timeout=30)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/portal/login")


def test_a_wrong_credential_is_refused(local_service: str, portal_endpoint: str, team: str) -> None:
    name = unique("worker")
    add_worker(local_service, name, team)
    client = PortalClient(portal_endpoint)
    refused = client.log_in(name, "not-the-credential")
    assert refused.status_code == 401
    assert "The name or the credential is wrong." in refused.text
    assert client.task_list().url.endswith("/portal/login?next=/portal/tasks")


def test_a_worker_answers_once_and_output_json_says_who_and_when(portal_endpoint: str, output_bucket: str,
                                                                 team: str) -> None:
    flow_arn = team_flow(output_bucket, team)
    name = start_loop(flow_arn, {"question": "Is the invoice total right?"})
    client = worker(portal_endpoint, team)
    assert name in client.task_list().text
    page = client.open_task("us-east-1", name)
    assert page.status_code == 200
    assert "Is the invoice total right?" in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    time.sleep(0.3)  # time spent on the task, measured between opening and submitting
    submitted = client.submit("us-east-1", name, {"verdict": "approve", "note": "totals match"})
    assert submitted.status_code == 303
    assert name not in client.task_list().text

    human_answer = output_of(name)["humanAnswers"][0]
    assert human_answer["answerContent"] == {"verdict": {"label": "approve"}, "note": "totals match"}
    assert 0.3 <= human_answer["timeSpentInSeconds"] < 30
    assert human_answer["acceptanceTime"] < human_answer["submissionTime"]
    identity = human_answer["workerMetadata"]["identityData"]
    assert identity["identityProviderType"] == "Cognito"  # one of A2I's values: the portal stands in for Cognito
    assert identity["issuer"] == f"{portal_endpoint}/portal" and str(uuid.UUID(identity["sub"])) == identity["sub"]
    assert len(human_answer["workerId"]) == 16

    again = client.submit("us-east-1", name, {"verdict": "reject"})
    assert again.status_code == 409
    assert "Completed" in again.text


def test_task_count_two_needs_two_different_workers(portal_endpoint: str, output_bucket: str, team: str) -> None:
    flow_arn = team_flow(output_bucket, team, task_count=2)
    name = start_loop(flow_arn, {"question": "Two opinions"})
    first, second = worker(portal_endpoint, team), worker(portal_endpoint, team)
    assert first.submit("us-east-1", name, {"verdict": "approve"}).status_code == 303
    twice = first.submit("us-east-1", name, {"verdict": "reject"})
    assert twice.status_code == 409 and "answered task" in twice.text
    assert name not in first.task_list().text
    assert name in second.task_list().text
    a2i = boto3.client("sagemaker-a2i-runtime")
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"
    assert second.submit("us-east-1", name, {"verdict": "reject"}).status_code == 303
    answers = output_of(name)["humanAnswers"]
    assert [answer["answerContent"]["verdict"]["label"] for answer in answers] == ["approve", "reject"]
    assert len({answer["workerId"] for answer in answers}) == 2


def test_another_team_neither_sees_nor_submits(portal_endpoint: str, output_bucket: str, team: str) -> None:
    name = start_loop(team_flow(output_bucket, team), {"question": "Team only"})
    outsider = worker(portal_endpoint, unique("other-team"))
    assert name not in outsider.task_list().text
    assert outsider.open_task("us-east-1", name).status_code == 404
    refused = outsider.submit("us-east-1", name, {"verdict": "approve"}, csrf=outsider_csrf(outsider))
    assert refused.status_code == 404
    described = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "InProgress"


def outsider_csrf(client: PortalClient) -> str:
    from tests.portal_client import csrf_of

    return csrf_of(client.task_list().text)


def test_a_submission_without_the_csrf_token_is_refused(portal_endpoint: str, output_bucket: str, team: str) -> None:
    name = start_loop(team_flow(output_bucket, team), {"question": "CSRF"})
    client = worker(portal_endpoint, team)
    refused = client.submit("us-east-1", name, {"verdict": "approve"}, csrf="forged")
    assert refused.status_code == 403
    assert boto3.client("sagemaker-a2i-runtime").describe_human_loop(
        HumanLoopName=name)["HumanLoopStatus"] == "InProgress"


def test_an_answer_the_page_does_not_allow_is_refused_with_the_reason(portal_endpoint: str, output_bucket: str,
                                                                     team: str) -> None:
    name = start_loop(team_flow(output_bucket, team), {"question": "Bad label"})
    client = worker(portal_endpoint, team)
    refused = client.submit("us-east-1", name, {"verdict": "maybe"})
    assert refused.status_code == 400
    assert "maybe" in refused.text
    assert name in client.task_list().text  # nothing recorded: the worker can still answer


def test_sessions_expire(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    accounts = Accounts(store, session_seconds=0.2)
    worker_row, credential = accounts.add_worker("ana", "reviewers")
    token, session = accounts.log_in("ana", credential)
    assert accounts.session(token) == session
    time.sleep(0.3)
    assert accounts.session(token) is None
    assert store.get_worker("ana") == worker_row
    store.close()


def test_bad_worker_names_and_teams_are_refused_with_what_to_change(local_service: str) -> None:
    from airflow_a2i.local.admin_client import AdminClient, AdminError

    client = AdminClient(local_service)
    with pytest.raises(AdminError, match=r"worker name '\.\./x' is not valid"):
        client.add_worker("../x", "reviewers")
    with pytest.raises(AdminError, match="give the work team's name"):
        client.add_worker(unique("w"), "no spaces allowed")
    name = unique("w")
    client.add_worker(name, "reviewers")
    with pytest.raises(AdminError, match="exists already"):
        client.add_worker(name, "reviewers")


def test_grant_read_access_serves_the_object_through_a_signed_link(portal_endpoint: str, output_bucket: str,
                                                                   team: str) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=output_bucket, Key="docs/page.png", Body=b"\x89PNG fake image", ContentType="image/png")
    template = ('<crowd-form><img alt="document" src="{{ task.input.document | grant_read_access }}">'
                '<crowd-input name="n"></crowd-input></crowd-form>')
    name = start_loop(team_flow(output_bucket, team, template=template),
                      {"document": f"s3://{output_bucket}/docs/page.png"})
    reviewer = worker(portal_endpoint, team)
    page = reviewer.open_task("us-east-1", name).text
    link = page.split('alt="document" src="', 1)[1].split('"', 1)[0]
    assert link.startswith(f"{portal_endpoint}/portal/objects/") and link.endswith("/page.png")
    fetched = reviewer.http.get(link, timeout=30)  # short-lived, and only in the worker's own session
    assert fetched.content == b"\x89PNG fake image"
    assert requests.get(link, timeout=30).status_code == 403  # without the session: nothing
    assert fetched.headers["Content-Type"] == "image/png"
    token = link.split("/portal/objects/", 1)[1].split("/", 1)[0]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert requests.get(f"{portal_endpoint}/portal/objects/{tampered}/page.png", timeout=30).status_code == 403


def test_signed_links_expire() -> None:
    signer = UrlSigner(b"k" * 32, lifetime_seconds=60)
    token = signer.sign("bucket", "a/b.png", worker_id="w1", now=1000)
    assert signer.verify(token, worker_id="w1", now=1059) == ("bucket", "a/b.png")
    assert signer.verify(token, worker_id="w1", now=1061) is None
    assert signer.verify(token, worker_id="w2", now=1000) is None  # bound to the worker it was made for
    assert UrlSigner(b"x" * 32).verify(token, worker_id="w1", now=1000) is None


def test_render_ui_template_renders_or_names_the_line(local_service: str) -> None:
    sagemaker = boto3.client("sagemaker")
    rendered = sagemaker.render_ui_template(
        UiTemplate={"Content": "<p>{{ task.input.name }}</p>\n<p>{{ task.input.items }}</p>"},
        Task={"Input": json.dumps({"name": "<b>Ana</b>", "items": [1, 2]})}, RoleArn=ROLE_ARN)
    assert rendered["Errors"] == []
    assert "&lt;b&gt;Ana&lt;/b&gt;" in rendered["RenderedContent"]
    assert "[1, 2]" in rendered["RenderedContent"] or "[1,2]" in rendered["RenderedContent"]
    broken = sagemaker.render_ui_template(UiTemplate={"Content": "<p>ok</p>\n<p>\n{% if %}</p>"},
                                          Task={"Input": "{}"}, RoleArn=ROLE_ARN)
    assert broken["Errors"][0]["Message"].startswith("line 3:")
    with pytest.raises(sagemaker.exceptions.ClientError, match=r"Task\.Input"):
        sagemaker.render_ui_template(UiTemplate={"Content": "x"}, Task={"Input": "not json"}, RoleArn=ROLE_ARN)


def test_the_start_response_tells_where_the_portal_is(portal_endpoint: str, output_bucket: str, team: str) -> None:
    from airflow_a2i.hooks.a2i import A2IHook

    started = A2IHook(aws_conn_id=None, region_name="us-east-1").start_human_loop(
        unique("loop"), team_flow(output_bucket, team), json.dumps({"question": "link"}))
    assert started["PortalUrl"] == f"{portal_endpoint}/portal"


def test_beyond_loopback_the_admin_api_needs_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_a2i.local.admin_client import AdminClient, AdminError
    from demo.service import ServiceProcess

    monkeypatch.setenv("AIRFLOW_A2I_CREDENTIALS", "AKIDBEYOND:beyond-secret")  # required beyond loopback
    with ServiceProcess(tmp_path / "service", "--host", "0.0.0.0") as service:
        assert requests.get(f"{service.endpoint}/_a2i/health", timeout=30).status_code == 200
        with pytest.raises(AdminError, match="needs the admin token"):
            AdminClient(service.endpoint, token="").add_worker("ana", "reviewers")
        with pytest.raises(AdminError, match="needs the admin token"):
            AdminClient(service.endpoint, token="wrong").request("GET", "workers")
        token = (tmp_path / "service" / "admin-token").read_text().strip()
        assert oct((tmp_path / "service" / "admin-token").stat().st_mode & 0o777) == "0o600"
        assert AdminClient(service.endpoint, token=token).add_worker("ana", "reviewers")["credential"]
        assert "beyond loopback. Reviewers reach only the portal's port" in service.log_path.read_text()


def test_the_login_cannot_be_turned_off_beyond_loopback(tmp_path: Path) -> None:
    import subprocess
    import sys

    refused = subprocess.run([sys.executable, "-m", "airflow_a2i.cli", "local", "serve", "--host", "0.0.0.0",
                              "--port", "0", "--no-login", "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "Refusing to listen on 0.0.0.0 with the portal's login off" in refused.stderr


def test_without_login_each_browser_is_a_worker_of_every_team(tmp_path: Path, output_bucket: str) -> None:
    from demo.service import ServiceProcess

    with ServiceProcess(tmp_path / "service", "--no-login") as service:
        s3 = boto3.client("s3", endpoint_url=service.endpoint)
        s3.create_bucket(Bucket=output_bucket)
        flow_arn = team_flow(output_bucket, "any", task_count=2, endpoint=service.endpoint)
        boto3.client("sagemaker-a2i-runtime", endpoint_url=service.endpoint).start_human_loop(
            HumanLoopName="open-loop", FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": "{}"})
        first, second = PortalClient(service.portal), PortalClient(service.portal)
        assert "open-loop" in first.task_list().text
        assert first.submit("us-east-1", "open-loop", {"verdict": "approve"}).status_code == 303
        assert "open-loop" not in first.task_list().text
        assert second.submit("us-east-1", "open-loop", {"verdict": "reject"}).status_code == 303
        workers = {answer["worker_id"] for answer in admin_loop(service.endpoint, "open-loop")["answers"]}
        assert len(workers) == 2


def admin_loop(endpoint: str, name: str) -> dict:
    from airflow_a2i.local.admin_client import AdminClient

    return AdminClient(endpoint).request("GET", f"human-loops/{name}")["humanLoops"][0]


def test_only_the_local_service_gives_a_portal_link() -> None:
    from airflow_a2i.hooks.a2i import portal_url_of
    from airflow_a2i.links.a2i import A2IPortalLink

    assert portal_url_of({"ResponseMetadata": {"HTTPHeaders": {"x-amzn-requestid": "r"}}}) is None  # real A2I
    assert portal_url_of({"ResponseMetadata": {"HTTPHeaders": {"x-airflow-a2i-portal": "javascript:x"}}}) is None
    local = {"ResponseMetadata": {"HTTPHeaders": {"x-airflow-a2i-portal": "http://127.0.0.1:4566/portal"}}}
    assert portal_url_of(local) == "http://127.0.0.1:4566/portal"
    assert A2IPortalLink().format_link(portal_url="http://127.0.0.1:4566/portal", region_name="us-east-1",
                                       human_loop_name="loop-1") == "http://127.0.0.1:4566/portal/tasks/us-east-1/loop-1"


REKOGNITION = "AWS/Rekognition/DetectModerationLabels/Image/V3"


def moderation_flow(output_bucket: str, team: str) -> str:
    template = (Path(__file__).resolve().parent.parent / "dags" / "templates" / "moderation_review.liquid.html")
    return team_flow(output_bucket, team, template=template.read_text(), source=REKOGNITION)


def test_a_moderation_review_answers_in_rekognitions_shape(portal_endpoint: str, output_bucket: str,
                                                           team: str) -> None:
    s3 = boto3.client("s3")
    key = f"images/{unique('image')}.png"
    s3.put_object(Bucket=output_bucket, Key=key, Body=b"\x89PNG image", ContentType="image/png")
    labels = {"ModerationLabels": [{"Name": "Suggestive", "ParentName": "", "Confidence": 61.0},
                                   {"Name": "Revealing Clothes", "ParentName": "Suggestive", "Confidence": 58.0}],
              "ModerationModelVersion": "7.0"}
    s3.put_object(Bucket=output_bucket, Key=f"{key}.rekognition.json", Body=json.dumps(labels).encode())
    name = unique("loop")
    boto3.client("rekognition").detect_moderation_labels(
        Image={"S3Object": {"Bucket": output_bucket, "Name": key}},
        HumanLoopConfig={"HumanLoopName": name, "FlowDefinitionArn": moderation_flow(output_bucket, team)})
    client = worker(portal_endpoint, team)
    page = client.open_task("us-east-1", name).text
    assert "Revealing Clothes" in page and "/portal/objects/" in page

    refused = client.submit("us-east-1", name, {"__a2i_moderation": "Violence"})  # not a label it was asked about
    assert refused.status_code == 400 and "Violence" in refused.text
    assert client.submit("us-east-1", name, {"__a2i_moderation": "Revealing Clothes"}).status_code == 303
    answer = output_of(name)["humanAnswers"][0]["answerContent"]
    assert answer == {REKOGNITION: {"moderationLabels": [{"name": "Revealing Clothes", "parentName": "Suggestive"}]}}
