"""Attacks on the local service from web pages and from clients it is not meant for: each must fail.

A security review drove these against the service on loopback (issue 10): a page on another origin read every
bucket through moto's permissive CORS, served its own HTML on the service's origin through a task UI template,
drove the admin API and the A2I runtime with plain cross-site POSTs, reset moto's state, and reached it all by
DNS rebinding. Every attack is here, as plain HTTP requests shaped as a browser sends them and, where the browser
itself matters, from Chromium on another loopback origin.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from airflow_a2i.local.admin_client import ADMIN_HEADER, AdminClient
from tests.conftest import unique, workteam_arn
from tests.flows import create_flow

pytestmark = pytest.mark.security

EVIL = "http://evil.localhost:8000"
CROSS_SITE_POST = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
                   "Content-Type": "text/plain"}
SCOPE = "x%2F20261203%2Fus-east-1%2Fsagemaker%2Faws4_request"


@pytest.fixture
def secret_object(s3: Any) -> tuple[str, str]:
    bucket = unique("secrets")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="output.json", Body=b'{"answer": "private"}')
    return bucket, "output.json"


def workers() -> set[str]:
    return {worker["name"] for worker in AdminClient().request("GET", "workers")["workers"]}


# Web pages on other origins ---------------------------------------------------------------------------------

def test_the_api_port_answers_no_browser_request(local_service: str, secret_object: tuple[str, str]) -> None:
    bucket, key = secret_object
    reads = [requests.get(f"{local_service}/{bucket}/{key}", headers={"Origin": EVIL}, timeout=30),
             requests.get(f"{local_service}/{bucket}/{key}", timeout=30,  # a navigation or <img>: no Origin
                          headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}),
             requests.options(f"{local_service}/", timeout=30, headers={  # a CORS preflight
                 "Origin": EVIL, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-a"})]
    for response in reads:
        assert response.status_code == 403, (response.request.method, response.text)
        assert "private" not in response.text
        assert "Access-Control-Allow-Origin" not in response.headers
    assert boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"answer": "private"}'


def test_cross_site_posts_change_nothing(local_service: str, make_flow_definition: Any) -> None:
    flow = make_flow_definition()
    name, mallory = unique("loop"), unique("mallory")
    faults_before = AdminClient().request("GET", "faults")
    attempts = [
        requests.post(f"{local_service}/_a2i/workers", data=json.dumps({"name": mallory, "team": "red"}),
                      headers=CROSS_SITE_POST, timeout=30),
        requests.post(f"{local_service}/human-loops?X-Amz-Credential={SCOPE}", headers=CROSS_SITE_POST, timeout=30,
                      data=json.dumps({"HumanLoopName": name, "FlowDefinitionArn": flow,
                                       "HumanLoopInput": {"InputContent": "{}"}})),
        requests.post(f"{local_service}/_a2i/faults/rules", headers=CROSS_SITE_POST, timeout=30,
                      data=json.dumps({"operation": "DescribeHumanLoop", "error": "ThrottlingException"})),
        requests.post(f"{local_service}/moto-api/reset", headers=CROSS_SITE_POST, timeout=30),
    ]
    assert [response.status_code for response in attempts] == [403] * 4, [r.text for r in attempts]
    assert mallory not in workers()
    assert boto3.client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow)["HumanLoopSummaries"] == []
    assert AdminClient().request("GET", "faults") == faults_before


def test_the_admin_api_needs_its_header_even_without_an_origin(local_service: str) -> None:
    """An old browser's form post sends no Origin; it cannot send a custom header either."""
    mallory = unique("mallory")
    refused = requests.post(f"{local_service}/_a2i/workers", json={"name": mallory, "team": "red"}, timeout=30)
    assert refused.status_code == 401
    assert mallory not in workers()
    assert requests.get(f"{local_service}/_a2i/health", timeout=30).status_code == 200
    assert requests.post(f"{local_service}/_a2i/workers", json={"name": mallory, "team": "red"}, timeout=30,
                         headers={ADMIN_HEADER: "1"}).status_code == 201


def test_a_rebound_host_name_is_refused(local_service: str, portal_endpoint: str) -> None:
    """DNS rebinding: a page's own name, resolved to 127.0.0.1, reaches the port with its own Host header."""
    for endpoint in (local_service, portal_endpoint):
        port = urlsplit(endpoint).port
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1000}"):
            response = requests.get(f"{endpoint}/portal/login", headers={"Host": host}, timeout=30)
            assert response.status_code == 421, (endpoint, host, response.text)
    assert requests.get(f"{local_service}/_a2i/health", timeout=30,
                        headers={"Host": f"localhost:{urlsplit(local_service).port}"}).status_code == 200


def test_moto_management_routes_are_off(local_service: str, secret_object: tuple[str, str]) -> None:
    bucket, key = secret_object
    for method, path in (("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"), ("GET", "/moto-api/")):
        response = requests.request(method, f"{local_service}{path}", timeout=30)
        assert response.status_code == 403 and "--moto-api" in response.text, (path, response.text[:300])
    assert boto3.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_nothing_a_client_stored_is_served_as_a_page(local_service: str, portal_endpoint: str,
                                                      secret_object: tuple[str, str]) -> None:
    sagemaker = boto3.client("sagemaker")
    ui = unique("evil-ui")
    sagemaker.create_human_task_ui(HumanTaskUiName=ui, UiTemplate={"Content": "<script>steal()</script>"})
    url = sagemaker.describe_human_task_ui(HumanTaskUiName=ui)["UiTemplate"]["Url"]
    template = requests.get(url, timeout=30)  # what an AWS client fetches: the text, never a page
    assert template.text == "<script>steal()</script>"
    assert template.headers["Content-Type"].startswith("text/plain")
    assert (template.headers["X-Content-Type-Options"], template.headers["Content-Security-Policy"]) == (
        "nosniff", "sandbox")
    navigated = requests.get(url, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, timeout=30)
    assert navigated.status_code == 403

    bucket, _ = secret_object
    boto3.client("s3").put_object(Bucket=bucket, Key="page.html", Body=b"<script>steal()</script>",
                                  ContentType="text/html")
    # The portal's origin serves the portal only: no S3, no template, nothing under another path.
    for path in (f"/{bucket}/page.html", f"/_a2i/human-task-uis/us-east-1/{ui}/template", "/moto-api/data.json"):
        response = requests.get(f"{portal_endpoint}{path}", timeout=30)
        assert response.status_code == 404 and "steal" not in response.text, path


def test_the_portal_takes_no_cross_site_post_and_no_framing(portal_endpoint: str) -> None:
    posted = requests.post(f"{portal_endpoint}/portal/login", data="name=a&credential=b", timeout=30,
                           headers={**CROSS_SITE_POST, "Content-Type": "application/x-www-form-urlencoded"})
    assert posted.status_code == 403
    framed = requests.get(f"{portal_endpoint}/portal/tasks", timeout=30,
                          headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
                                   "Sec-Fetch-Dest": "script"})
    assert framed.status_code == 403
    linked = requests.get(f"{portal_endpoint}/portal/tasks", allow_redirects=False, timeout=30,
                          headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert linked.status_code == 303  # a link from elsewhere opens the portal (its login first)


def test_unknown_sagemaker_operations_are_a_clear_400(local_service: str) -> None:
    response = requests.post(local_service, data="{}", timeout=30, headers={
        "X-Amz-Target": "SageMaker.DeleteEverything", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={SCOPE.replace('%2F', '/')}, SignedHeaders=host, "
                         "Signature=0"})
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"


def test_bodies_are_refused_by_their_announced_length(local_service: str, portal_endpoint: str) -> None:
    """Refused before they are read: the service never holds a body it would not take."""
    too_big = {"Content-Length": str(64 * 1024 * 1024 + 1), "Content-Type": "application/json"}
    for url in (f"{local_service}/human-loops?X-Amz-Credential={SCOPE}", f"{portal_endpoint}/portal/login"):
        response = _announce(url, too_big)
        assert response.startswith("HTTP/1.1 413"), (url, response[:200])


def _announce(url: str, headers: dict[str, str]) -> str:
    """Send only a request's head (its body never follows) and read the answer."""
    import socket

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        head = f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        connection.sendall(head.encode())
        return connection.recv(4096).decode(errors="replace")


# The same from Chromium, on another loopback origin --------------------------------------------------------

@pytest.fixture
def attacker_origin() -> Iterator[str]:
    """An empty page at http://localhost:PORT: another origin than the service's 127.0.0.1 ports."""
    class Empty(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>elsewhere</title>")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()


ATTACKS = """async ([api, portal, bucket, loopName, flow, worker, openLoop]) => {
  const results = {};
  const attempt = async (name, request) => {
    try {
      const response = await request();
      results[name] = {type: response.type, status: response.status, text: await response.text()};
    } catch (error) { results[name] = {error: String(error)}; }
  };
  const plain = (body) => ({method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                            body: JSON.stringify(body)});
  await attempt("list_buckets", () => fetch(api + "/"));
  await attempt("read_object", () => fetch(api + "/" + bucket + "/output.json"));
  await attempt("portal_tasks", () => fetch(portal + "/portal/tasks", {credentials: "include"}));
  await attempt("add_worker", () => fetch(api + "/_a2i/workers", plain({name: worker, team: "red"})));
  await attempt("start_loop", () => fetch(api + "/human-loops?X-Amz-Credential=x%2F20261203%2Fus-east-1%2F" +
      "sagemaker%2Faws4_request", plain({HumanLoopName: loopName, FlowDefinitionArn: flow,
                                         HumanLoopInput: {InputContent: "{}"}})));
  await attempt("answer", () => fetch(api + "/_a2i/human-loops/" + openLoop + "/answers",
                                      plain({answer: {answer: "forged"}})));
  await attempt("create_task_ui", () => fetch(api + "/", {method: "POST", headers: {
      "X-Amz-Target": "SageMaker.CreateHumanTaskUi", "Content-Type": "application/x-amz-json-1.1"},
      body: JSON.stringify({HumanTaskUiName: "evil-" + loopName, UiTemplate: {Content: "<script>x()</script>"}})}));
  await attempt("reset", () => fetch(api + "/moto-api/reset", {method: "POST", mode: "no-cors"}));
  return results;
}"""


def test_a_page_on_another_origin_reads_and_changes_nothing(page: Any, attacker_origin: str, local_service: str,
                                                           portal_endpoint: str, secret_object: tuple[str, str],
                                                           output_bucket: str) -> None:
    bucket, key = secret_object
    flow = create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/security",
                       workteam_arn=workteam_arn())
    loop_name, mallory, open_loop = unique("loop"), unique("mallory"), unique("open")
    a2i = boto3.client("sagemaker-a2i-runtime")
    a2i.start_human_loop(HumanLoopName=open_loop, FlowDefinitionArn=flow, HumanLoopInput={"InputContent": "{}"})
    page.goto(attacker_origin)
    results = page.evaluate(ATTACKS, [local_service, portal_endpoint, bucket, loop_name, flow, mallory, open_loop])
    for name in ("list_buckets", "read_object", "portal_tasks"):  # CORS: nothing readable
        assert "error" in results[name] or results[name]["type"] == "opaque", (name, results[name])
    assert all("private" not in json.dumps(result) for result in results.values())
    assert mallory not in workers()
    assert [loop["HumanLoopName"] for loop in a2i.list_human_loops(FlowDefinitionArn=flow)["HumanLoopSummaries"]] == [
        open_loop]
    assert a2i.describe_human_loop(HumanLoopName=open_loop)["HumanLoopStatus"] == "InProgress"  # not answered
    assert f"evil-{loop_name}" not in {ui["HumanTaskUiName"] for ui in boto3.client("sagemaker").list_human_task_uis()[
        "HumanTaskUiSummaries"]}
    assert boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"answer": "private"}'

    # A task UI's template opened in the browser (the attack's next step) is no page on any origin here.
    sagemaker = boto3.client("sagemaker")
    ui = unique("evil-ui")
    sagemaker.create_human_task_ui(HumanTaskUiName=ui, UiTemplate={
        "Content": "<script>document.title = 'pwned'</script><p>template</p>"})
    opened = page.goto(sagemaker.describe_human_task_ui(HumanTaskUiName=ui)["UiTemplate"]["Url"])
    assert opened is not None and opened.status == 403
    assert page.title() != "pwned"


# Signatures: what the service requires beyond loopback (here on loopback, with credentials configured) ---------

KEY_ID, SECRET = "AKIDSIGNEDTESTS", "signed-tests-secret"


@pytest.fixture(scope="module")
def signed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from demo.service import ServiceProcess

    directory = tmp_path_factory.mktemp("signed")
    (directory / "keys").write_text(f"# the deployment's key\n{KEY_ID} {SECRET}\n")
    with ServiceProcess(directory / "service", "--credentials-file", str(directory / "keys")) as service:
        yield service


def client(service: Any, name: str, key_id: str = KEY_ID, secret: str = SECRET, **options: Any) -> Any:
    from botocore.config import Config

    return boto3.client(name, endpoint_url=service.endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **options))


def error_of(call: Any) -> tuple[str, int]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_signed_requests_of_every_service_are_served(signed_service: Any) -> None:
    s3 = client(signed_service, "s3")
    bucket = unique("signed")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a b/ü+=.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="a b/ü+=.json")["Body"].read() == b"{}"
    flow = create_flow(client(signed_service, "sagemaker"), output_path=f"s3://{bucket}/out",
                       workteam_arn=workteam_arn())
    a2i = client(signed_service, "sagemaker-a2i-runtime")
    name = unique("loop")
    a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow, HumanLoopInput={"InputContent": "{}"})
    assert a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"] == "InProgress"
    assert client(signed_service, "sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    assert client(signed_service, "events").list_rules()["Rules"] is not None
    # The built-in services answer past the signature check: their own error for a document that is not there.
    document = {"S3Object": {"Bucket": bucket, "Name": "missing.png"}}
    assert error_of(lambda: client(signed_service, "textract").analyze_document(
        Document=document, FeatureTypes=["FORMS"]))[0] == "InvalidS3ObjectException"
    assert error_of(lambda: client(signed_service, "rekognition").detect_moderation_labels(
        Image={"S3Object": document["S3Object"]}))[0] == "InvalidS3ObjectException"


@pytest.mark.parametrize(("service", "call", "wrong_secret", "unknown_key", "unsigned"), [
    ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"),
    ("sagemaker", lambda c: c.list_flow_definitions(), "InvalidSignatureException", "UnrecognizedClientException",
     "MissingAuthenticationTokenException"),
    ("sagemaker-a2i-runtime", lambda c: c.describe_human_loop(HumanLoopName="x"), "InvalidSignatureException",
     "UnrecognizedClientException", "MissingAuthenticationTokenException"),
    ("textract", lambda c: c.analyze_document(Document={"Bytes": b"x"}, FeatureTypes=["FORMS"]),
     "InvalidSignatureException", "UnrecognizedClientException", "MissingAuthenticationTokenException"),
    ("rekognition", lambda c: c.detect_moderation_labels(Image={"Bytes": b"x"}), "InvalidSignatureException",
     "UnrecognizedClientException", "MissingAuthenticationTokenException"),
    ("sqs", lambda c: c.list_queues(), "InvalidSignatureException", "UnrecognizedClientException",
     "MissingAuthenticationTokenException"),
    ("events", lambda c: c.list_rules(), "InvalidSignatureException", "UnrecognizedClientException",
     "MissingAuthenticationTokenException"),
])
def test_requests_not_signed_by_a_configured_key_get_aws_errors(signed_service: Any, service: str, call: Any,
                                                                wrong_secret: str, unknown_key: str,
                                                                unsigned: str) -> None:
    from botocore import UNSIGNED

    assert error_of(lambda: call(client(signed_service, service, secret="not-the-secret"))) == (wrong_secret, 403)
    assert error_of(lambda: call(client(signed_service, service, key_id="AKIDUNKNOWN"))) == (unknown_key, 403)
    assert error_of(lambda: call(client(signed_service, service, signature_version=UNSIGNED))) == (unsigned, 403)


def test_beyond_loopback_the_service_needs_credentials(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    refused = subprocess.run([sys.executable, "-m", "airflow_a2i.cli", "local", "serve", "--host", "0.0.0.0",
                              "--port", "0", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "AIRFLOW_A2I_CREDENTIALS": ""})
    assert refused.returncode == 1
    assert "Refusing to listen on 0.0.0.0 without credentials" in refused.stderr


def test_a_bucket_named_portal_is_an_ordinary_bucket(local_service: str) -> None:
    """The portal has a port of its own: no path of the API port is taken from S3."""
    s3 = boto3.client("s3")
    if "portal" not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="portal")
    s3.put_object(Bucket="portal", Key="tasks", Body=b"an object, not a page")
    assert s3.get_object(Bucket="portal", Key="tasks")["Body"].read() == b"an object, not a page"


def test_the_moderation_template_keeps_hostile_labels_inside_their_json(local_service: str) -> None:
    """A label with quotes neither breaks the task nor smuggles in a category (to_json | escape)."""
    from pathlib import Path

    from airflow_a2i.local.portal.elements import find_elements, parse_attribute_literal
    from airflow_a2i.local.portal.rendering import render_template

    hostile = 'Alcohol", "parentName": ""}, {"name": "Smuggled'
    task_input = {"aiServiceRequest": {"image": {"s3Object": {"bucket": "b", "name": "k.png"}}},
                  "selectedAiServiceResponse": {"moderationLabels": [
                      {"name": hostile, "parentName": "It's \"Drugs\""}, {"name": "Smoking", "parentName": ""}]}}
    template = (Path(__file__).resolve().parent.parent / "dags" / "templates" / "moderation_review.liquid.html")
    html = render_template(template.read_text(), task_input, grant_read_access=lambda uri: uri)
    [element] = [e for e in find_elements(html) if e.tag == "crowd-rekognition-detect-moderation-labels"]
    categories = parse_attribute_literal(element.attributes["categories"])
    assert categories == [{"name": hostile, "parentName": "It's \"Drugs\""}, {"name": "Smoking", "parentName": ""}]


def test_stalled_connections_neither_take_a_thread_each_nor_stay(tmp_path: Any) -> None:
    """A server of 2 connections, idle after 0.5 s: 6 connections that stall mid-request hold at most 2 threads,
    each is closed when it stalls too long, and a real request is then served."""
    import socket
    import time

    from airflow_a2i.local.serving import BoundedServer, _KeepAliveHandler

    class QuickIdle(_KeepAliveHandler):
        timeout = 0.5

    def app(environ: dict, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = BoundedServer("127.0.0.1", 0, app, max_connections=2, handler=QuickIdle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = threading.active_count()
    stalled = [socket.create_connection(("127.0.0.1", server.server_port), timeout=10) for _ in range(6)]
    try:
        for connection in stalled:
            connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # its headers never end
        time.sleep(0.2)
        assert threading.active_count() - before <= 2
        response = requests.get(f"http://127.0.0.1:{server.server_port}/", timeout=30)
        assert response.text == "ok"  # served once stalled connections were closed for idling
        for connection in stalled:  # each one closed by the server, not left open
            with contextlib.suppress(ConnectionResetError):
                assert connection.recv(1024) == b""
    finally:
        for connection in stalled:
            connection.close()
        server.shutdown()
        server.server_close()
