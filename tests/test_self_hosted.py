"""Self-hosted mode (``airflow-a2i local serve --s3-endpoint URL``): documents and outputs live in an external
S3-compatible store and survive restarts of the service.

The external store is a second, separate moto server process; the service under test is its own process too (not
the session's). Clients send A2I, SageMaker and Textract to the service and S3 to the external store.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from airflow_a2i.cli import main
from airflow_a2i.local import s3 as service_s3
from airflow_a2i.local.admin_client import AdminClient
from demo.service import ServiceProcess
from tests.builtin_analyses import EMPLOYMENT, FULL_NAME_BELOW_90, TEXTRACT, analyze, error_of
from tests.conftest import ROLE_ARN, unique, workteam_arn
from tests.flows import create_flow
from tests.loops import start_loop

pytestmark = pytest.mark.service  # starts processes of its own (see TIERS in tests/conftest.py)

BUCKET = "self-hosted-documents"
STORE_READY_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STORE_READY_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return
        except urllib.error.HTTPError:  # any HTTP answer means it serves
            return
        except OSError:
            assert process.poll() is None, "the external S3 store (moto server) exited early"
            assert time.monotonic() < deadline, f"the external S3 store did not answer at {url}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A separate moto server: the external S3-compatible store."""
    port = free_port()
    log = (tmp_path_factory.mktemp("external-s3") / "moto.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def store(store_url: str):
    """The external store's S3 client, with the bucket every test uses."""
    client = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    # Versioned: an object written again gets a new VersionId, so a restart that rewrote outputs would show.
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, store_url: str, store) -> Iterator[ServiceProcess]:
    """The service in self-hosted mode; the conftest has already put fake credentials in the environment."""
    process = ServiceProcess(tmp_path_factory.mktemp("self-hosted") / "service", "--s3-endpoint", store_url,
                             "--stop-delay", "0")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def clients(endpoint: str) -> dict[str, Any]:
    return {name: boto3.client(name, endpoint_url=endpoint, region_name="us-east-1")
            for name in ("sagemaker", "sagemaker-a2i-runtime", "textract")}


def make_flow(sagemaker, source: str | None = None, conditions: list[dict] | None = None) -> str:
    """A task UI and a flow definition writing to the external bucket: custom, or built-in for ``source``."""
    return create_flow(sagemaker, output_path=f"s3://{BUCKET}/reviews", workteam_arn=workteam_arn(), source=source,
                       conditions=conditions)


def output_location(a2i, name: str) -> tuple[str, str]:
    described = a2i.describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed", described
    bucket, key = described["HumanLoopOutput"]["OutputS3Uri"].removeprefix("s3://").split("/", 1)
    return bucket, key


def read_output(store, a2i, name: str) -> dict:
    bucket, key = output_location(a2i, name)
    return json.loads(store.get_object(Bucket=bucket, Key=key)["Body"].read())


def put_document(store, analysis: dict) -> str:
    key = f"inbox/{unique('doc')}.png"
    store.put_object(Bucket=BUCKET, Key=key, Body=b"\x89PNG not really an image", ContentType="image/png")
    store.put_object(Bucket=BUCKET, Key=f"{key}.textract.json", Body=json.dumps(analysis).encode())
    return key


# (a) custom loops -------------------------------------------------------------------------------------------


def test_a_custom_loop_writes_its_output_into_the_external_store(service: ServiceProcess, store):
    c = clients(service.endpoint)
    a2i = c["sagemaker-a2i-runtime"]
    name = start_loop(make_flow(c["sagemaker"]), {"prompt": "external?"}, client=a2i)
    AdminClient(service.endpoint).answer(name, {"answer": "yes"}, worker_id="w1")
    output = read_output(store, a2i, name)
    assert output["humanLoopName"] == name
    assert output["inputContent"] == {"prompt": "external?"}
    assert [answer["answerContent"] for answer in output["humanAnswers"]] == [{"answer": "yes"}]
    assert "self-hosted mode" in service.log_path.read_text()


# (b) built-in loops -----------------------------------------------------------------------------------------


def test_textract_reads_its_document_from_the_external_store(service: ServiceProcess, store):
    c = clients(service.endpoint)
    flow = make_flow(c["sagemaker"], TEXTRACT, [FULL_NAME_BELOW_90])
    key = put_document(store, EMPLOYMENT)
    response = analyze(c["textract"], BUCKET, key, flow)
    assert response["Blocks"] == EMPLOYMENT["Blocks"]
    loop_arn = response["HumanLoopActivationOutput"]["HumanLoopArn"]
    described = c["sagemaker-a2i-runtime"].describe_human_loop(HumanLoopName=loop_arn.rsplit("/", 1)[1])
    assert described["HumanLoopStatus"] == "InProgress"
    code, status, message = error_of(analyze, c["textract"], BUCKET, "inbox/never-uploaded.png", flow)
    assert (code, status) == ("InvalidS3ObjectException", 400)
    assert f"s3://{BUCKET}/inbox/never-uploaded.png" in message


# (c) a restart ----------------------------------------------------------------------------------------------


def test_documents_outputs_and_open_loops_survive_a_restart(service: ServiceProcess, store):
    c = clients(service.endpoint)
    a2i = c["sagemaker-a2i-runtime"]
    flow = make_flow(c["sagemaker"])
    document_key = put_document(store, EMPLOYMENT)
    done = start_loop(flow, {"prompt": "before"}, client=a2i)
    AdminClient(service.endpoint).answer(done, {"answer": "before"}, worker_id="w1")
    output_bucket, output_key = output_location(a2i, done)
    open_loop = start_loop(flow, {"prompt": "across"}, client=a2i)
    before = {key: store.get_object(Bucket=BUCKET, Key=key) for key in (document_key, output_key)}
    before_bodies = {key: response["Body"].read() for key, response in before.items()}

    service.stop()
    service.start()

    c = clients(service.endpoint)
    a2i = c["sagemaker-a2i-runtime"]
    for key, earlier in before.items():  # still there, and not written again at start (the same version)
        now = store.get_object(Bucket=BUCKET, Key=key)
        assert now["Body"].read() == before_bodies[key]
        assert now["VersionId"] == earlier["VersionId"]
    assert service.log_path.read_text().count("survive restarts") == 2
    assert output_bucket == BUCKET
    assert a2i.describe_human_loop(HumanLoopName=open_loop)["HumanLoopStatus"] == "InProgress"
    AdminClient(service.endpoint).answer(open_loop, {"answer": "after"}, worker_id="w2")
    output = read_output(store, a2i, open_loop)
    assert output["inputContent"] == {"prompt": "across"}
    assert output["humanAnswers"][0]["answerContent"] == {"answer": "after"}


def test_render_ui_template_never_reads_the_external_store_for_its_caller(service: ServiceProcess, store,
                                                                            store_url: str):
    """grant_read_access in RenderUiTemplate gives the external store's own URL, unsigned: its caller reads it with
    its own credentials, never through the service's (which reach every bucket they may read)."""
    from urllib.parse import quote

    document_key = put_document(store, EMPLOYMENT)
    rendered = clients(service.endpoint)["sagemaker"].render_ui_template(
        UiTemplate={"Content": '<img src="{{ task.input.document | grant_read_access }}">'},
        Task={"Input": json.dumps({"document": f"s3://{BUCKET}/{document_key}"})}, RoleArn=ROLE_ARN)
    link = rendered["RenderedContent"].split('src="', 1)[1].split('"', 1)[0]
    assert link == f"{store_url}/{BUCKET}/{quote(document_key)}"


def test_a_workers_document_link_reads_the_external_store_across_a_restart(service: ServiceProcess, store):
    """The portal's grant_read_access links read the external store, for the signed-in worker; her session and
    the link she was given survive a restart."""
    import requests

    from tests.portal_client import PortalClient

    document_key = put_document(store, EMPLOYMENT)
    template = ('<crowd-form><img alt="document" src="{{ task.input.document | grant_read_access }}">'
                '<crowd-input name="answer"></crowd-input></crowd-form>')
    flow = create_flow(clients(service.endpoint)["sagemaker"], output_path=f"s3://{BUCKET}/reviews",
                       workteam_arn=workteam_arn(), template=template)
    name = unique("loop")
    clients(service.endpoint)["sagemaker-a2i-runtime"].start_human_loop(
        HumanLoopName=name, FlowDefinitionArn=flow,
        HumanLoopInput={"InputContent": json.dumps({"document": f"s3://{BUCKET}/{document_key}"})})
    worker = unique("worker")
    credential = AdminClient(service.endpoint).add_worker(worker, "tests")["credential"]
    reviewer = PortalClient(service.portal)
    assert reviewer.log_in(worker, credential).status_code == 200
    page = reviewer.open_task("us-east-1", name).text
    link = page.split('alt="document" src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert link.startswith(f"{service.portal}/portal/objects/")
    assert reviewer.http.get(link, timeout=30).content == b"\x89PNG not really an image"
    assert requests.get(link, timeout=30).status_code == 403  # without her session: nothing
    service.stop()
    service.start()
    again = reviewer.http.get(link.replace(link.split("/portal/", 1)[0], service.portal), timeout=30)
    assert (again.status_code, again.headers["Content-Type"]) == (200, "image/png")
    assert again.content == b"\x89PNG not really an image"


# (d) S3 sent to the service ---------------------------------------------------------------------------------


def test_an_s3_request_sent_to_the_service_gets_a_clear_error(service: ServiceProcess, store_url: str):
    wrong = boto3.client("s3", endpoint_url=service.endpoint, region_name="us-east-1")
    with pytest.raises(ClientError) as caught:
        wrong.put_object(Bucket=BUCKET, Key="lost.txt", Body=b"would land in memory")
    response = caught.value.response
    assert response["Error"]["Code"] == "InvalidRequest"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("application/xml")
    assert response["Error"]["Message"] == (f"This service keeps S3 at {store_url} (self-hosted mode): send S3 "
                                            f"requests there, e.g. AWS_ENDPOINT_URL_S3={store_url}")


# (e) the command line ---------------------------------------------------------------------------------------


def test_serve_refuses_an_s3_endpoint_that_is_not_a_url(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(["local", "serve", "--s3-endpoint", "not-a-url"])
    assert exited.value.code == 2
    assert "--s3-endpoint: 'not-a-url' is not an http(s) URL" in capsys.readouterr().err


# The module's remote backend, in this process ---------------------------------------------------------------


@pytest.fixture
def remote_backend(store_url: str) -> Iterator[str]:
    service_s3.configure(store_url)
    try:
        yield store_url
    finally:
        service_s3.configure(None)


def test_the_remote_backend_reads_writes_and_reports_missing_objects(remote_backend: str, store):
    assert service_s3.is_external() and service_s3.endpoint() == remote_backend
    store.create_bucket(Bucket="self-hosted-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    store.put_object(Bucket=BUCKET, Key="page.png", Body=b"png", ContentType="image/png",
                     Metadata={"A2I-Source-Page": "2"})
    assert service_s3.object_response(BUCKET, "page.png") == (b"png", "image/png")
    assert service_s3.get_user_metadata(BUCKET, "page.png") == {"a2i-source-page": "2"}
    assert service_s3.get_object(BUCKET, "absent.png") is None
    assert service_s3.get_object("no-such-bucket-here", "page.png") is None
    assert service_s3.get_user_metadata(BUCKET, "absent.png") == {}
    assert service_s3.bucket_exists(BUCKET) and not service_s3.bucket_exists("no-such-bucket-here")
    assert (service_s3.bucket_region(BUCKET), service_s3.bucket_region("self-hosted-eu")) == ("us-east-1", "eu-west-1")
    service_s3.put_object(BUCKET, "written.json", b"{}")
    assert store.get_object(Bucket=BUCKET, Key="written.json")["Body"].read() == b"{}"
    with pytest.raises(LookupError, match="no-such-bucket-here"):
        service_s3.put_object("no-such-bucket-here", "x.json", b"{}")


def test_the_default_backend_is_moto_in_memory():
    assert not service_s3.is_external() and service_s3.endpoint() is None
    bucket = unique("in-memory")
    service_s3.ensure_bucket(bucket, "us-east-1")
    service_s3.put_object(bucket, "doc.txt", b"kept in memory")
    assert service_s3.object_response(bucket, "doc.txt") == (b"kept in memory", "binary/octet-stream")
    assert service_s3.object_response(bucket, "absent.txt") is None
    assert service_s3.get_object("no-such-bucket-here", "doc.txt") is None
