"""Robustness of the local service's request handling, property-based, over real HTTP.

Hypothesis sends malformed JSON, wrong-typed members, huge and odd strings (control characters, lone
surrogates escaped in JSON, invalid UTF-8), unknown methods and paths, garbage query strings and odd
path names to the service's own routes: the A2I runtime under ``/human-loops``, SageMaker's eight A2I
operations (``X-Amz-Target: SageMaker.<Op>``) and the admin API under ``/_a2i/``. Unknown SageMaker
operations are refused with UnknownOperationException (tests/test_security.py).

The properties: no request gets a 5xx or drops the connection; every response body is strict JSON
(no NaN or Infinity), every error is a 4xx whose JSON names its code (``__type`` for the AWS APIs, and
the ``X-Amzn-ErrorType`` header too for the runtime's rest-json; ``error`` for the admin API); and the
stored state survives: a flow definition and three loops created through boto3 before the properties
still describe with the same status and creation time, and ListHumanLoops for that flow definition
returns exactly those loops plus the ones a property legitimately started.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import boto3
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_a2i.local.admin_client import ADMIN_HEADER, AdminClient
from tests.conftest import ACCOUNT, ROLE_ARN, unique, workteam_arn

REGION = "us-east-1"
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/sagemaker/aws4_request, "
                 "SignedHeaders=host, Signature=00")
INPUT = json.dumps({"prompt": "What is the answer?"})
TEMPLATE = "<crowd-form><crowd-input name='answer'></crowd-input></crowd-form>"
SAGEMAKER_OPERATIONS = ("CreateFlowDefinition", "DescribeFlowDefinition", "ListFlowDefinitions",
                        "DeleteFlowDefinition", "CreateHumanTaskUi", "DescribeHumanTaskUi", "ListHumanTaskUis",
                        "DeleteHumanTaskUi")
SERVER_ERRORS = {"InternalServerException", "InternalFailure", "ServiceUnavailable"}
MAX_TARGET = 60_000  # the HTTP server refuses longer request lines itself (414) before the service sees them


# HTTP --------------------------------------------------------------------------------------------------------

@dataclass
class Reply:
    method: str
    target: str
    sent: bytes | None
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    log: Path
    log_offset: int

    def __repr__(self) -> str:
        return f"<{self.method} {self.target[:80]} -> {self.status}>"

    def explain(self, problem: str) -> str:
        """The failure message: the exchange and what the service logged meanwhile (its traceback, if any)."""
        try:
            with self.log.open("rb") as log:
                log.seek(self.log_offset)
                logged = log.read().decode(errors="replace")
        except OSError:
            logged = ""
        sent = "" if self.sent is None else f" body {self.sent[:300]!r}{'...' if len(self.sent) > 300 else ''}"
        return (f"{problem}\n  request: {self.method} {self.target[:300]}{sent}\n"
                f"  response: {self.status} {self.body[:600]!r}\n  service log meanwhile:\n{logged[-4000:]}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Service:
    """Raw HTTP to the local service: one connection per request, Authorization crafted, no signing."""

    def __init__(self, endpoint: str, log: Path) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.log = log

    def send(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        raw = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        offset = self.log.stat().st_size if self.log.exists() else 0
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, target, body=raw, headers={"Authorization": AUTHORIZATION, **(headers or {})})
            response = connection.getresponse()
            reply = Reply(method, target, raw, response.status, response.headers, response.read(), self.log, offset)
        except (OSError, http.client.HTTPException) as error:
            failed = Reply(method, target, raw, 0, http.client.HTTPMessage(), b"", self.log, offset)
            raise AssertionError(failed.explain(f"the service dropped the connection: {error!r}")) from None
        finally:
            connection.close()
        return reply

    def runtime(self, method: str, target: str, body: Any = None) -> Reply:
        return self.send(method, target, body, {"Content-Type": "application/json"})

    def sagemaker(self, operation: str, body: Any) -> Reply:
        reply = self.send("POST", "/", body, {"X-Amz-Target": f"SageMaker.{operation}",
                                              "Content-Type": "application/x-amz-json-1.1"})
        reply.target = f"/ (X-Amz-Target: SageMaker.{operation})"
        return reply

    def admin(self, method: str, path: str, body: Any = None) -> Reply:
        return self.send(method, f"/_a2i/{path}", body, {"Content-Type": "application/json", ADMIN_HEADER: "1"})


def check(reply: Reply, api: str) -> Any:
    """No 5xx; a 2xx or a 4xx; strict JSON; errors name their code. Returns the parsed body (None for HEAD)."""
    assert reply.status < 500, reply.explain(f"a {reply.status} from the service")
    assert 200 <= reply.status < 300 or 400 <= reply.status < 500, reply.explain(f"unexpected status {reply.status}")
    if reply.method == "HEAD":
        return None
    expected = "application/x-amz-json-1.1" if api == "sagemaker" else "application/json"  # AWS's, per protocol
    json_body = reply.headers.get_content_type() == expected
    if reply.status < 300 and not json_body:
        return reply.body  # the admin API's task UI template is text
    assert json_body, reply.explain(f"the response is not {expected}")
    if api != "admin":  # every AWS API answer, error or not, has its request id (ResponseMetadata.RequestId)
        assert reply.headers.get("x-amzn-RequestId"), reply.explain("the response has no x-amzn-RequestId")
    try:
        parsed = json.loads(reply.body, parse_constant=_reject_constant)
    except ValueError as error:
        raise AssertionError(reply.explain(f"the response body is not strict JSON: {error}")) from None
    if reply.status >= 400:
        assert isinstance(parsed, dict), reply.explain("an error body that is not a JSON object")
        key = "error" if api == "admin" else "__type"
        code = parsed.get(key)
        assert isinstance(code, str) and code, reply.explain(f"an error without its code in '{key}'")
        assert isinstance(parsed.get("message"), str), reply.explain("an error without a message")
        if api == "runtime":
            header = reply.headers.get("X-Amzn-ErrorType", "")
            assert header.split(":")[0] == code, reply.explain(f"X-Amzn-ErrorType {header!r} is not {code!r}")
    return parsed


def encode(text: str, safe: str = "") -> str:
    """Percent-encode any text for a URL, lone surrogates included (as their UTF-8-style bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def loop_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-loop/{name}"


# The state the properties must not corrupt ------------------------------------------------------------------

class World:
    """The pre-created resources and loops, and what the properties legitimately added."""

    def __init__(self, service: Service, bucket: str, ui_arn: str, flow_name: str, flow_arn: str,
                 spare_flow_arn: str, loops: dict[str, tuple[str, float]], config: dict[str, Any]) -> None:
        self.service = service
        self.bucket = bucket
        self.ui_arn = ui_arn
        self.flow_name = flow_name
        self.flow_arn = flow_arn
        self.spare_flow_arn = spare_flow_arn  # no loops: the workforce properties may set its policy
        self.loops = loops  # the pre-created loops: name -> (status, creation time)
        # how many answers the admin API shows for each pre-created loop (the Completed one has one)
        self.answers = {name: int(status == "Completed") for name, (status, _) in loops.items()}
        self.config = config  # the admin config before the properties
        self.started: dict[str, float] = {}  # loops the properties started: name -> creation time

    def __repr__(self) -> str:
        return f"<World {self.flow_name}: {len(self.loops)} pre-created, {len(self.started)} started loops>"

    def loop_named(self, status: str) -> str:
        return next(name for name, (loop_status, _) in self.loops.items() if loop_status == status)

    def assert_intact(self) -> None:
        """Alive; the pre-created loops as they were; the flow definition lists exactly the known loops."""
        service = self.service
        health = service.admin("GET", "health")
        assert (health.status, check(health, "admin")) == (200, {"status": "ok"}), health.explain("unhealthy")
        for name, (status, created) in self.loops.items():
            reply = service.runtime("GET", f"/human-loops/{name}")
            described = check(reply, "runtime")
            assert reply.status == 200, reply.explain(f"pre-created loop {name} no longer describes")
            assert (described["HumanLoopStatus"], described["CreationTime"], described["FlowDefinitionArn"]) == \
                (status, created, self.flow_arn), reply.explain(f"pre-created loop {name} changed")
            shown = service.admin("GET", f"human-loops/{name}?region={REGION}")
            views = check(shown, "admin")["humanLoops"]
            assert len(views[0]["answers"]) == self.answers[name], shown.explain(f"the answers of {name} changed")
        listed = list_all(service, self.flow_arn)
        expected = set(self.loops) | set(self.started)
        assert set(listed) == expected, (f"ListHumanLoops lists {sorted(set(listed) - expected)} it should not "
                                         f"and misses {sorted(expected - set(listed))}")
        for name, (status, created) in self.loops.items():
            assert (listed[name]["HumanLoopStatus"], listed[name]["CreationTime"]) == (status, created), listed[name]
        for name, created in self.started.items():
            assert listed[name]["CreationTime"] == created, listed[name]

    def restore(self) -> None:
        """Undo what an admin property may have set: fault rules and quotas, the config, the spare policy."""
        check(self.service.admin("DELETE", "faults"), "admin")
        check(self.service.admin("PUT", "config", self.config), "admin")
        check(self.service.admin("DELETE", "workforce/policies", {"flowDefinitionArn": self.spare_flow_arn}), "admin")

    def record_start(self, body: Any, reply: Reply) -> None:
        """A StartHumanLoop that got a 200 must have started (or found) the loop it names, describable."""
        assert isinstance(body, dict), reply.explain("a 200 for a body that is not an object")
        name, flow_arn = body.get("HumanLoopName"), body.get("FlowDefinitionArn")
        assert isinstance(name, str) and isinstance(flow_arn, str), reply.explain("a 200 for a loop without a name")
        started = check(reply, "runtime")
        assert started == {"HumanLoopArn": loop_arn(name)}, reply.explain("a 200 with the wrong ARN")
        described_reply = self.service.runtime("GET", f"/human-loops/{encode(name)}")
        described = check(described_reply, "runtime")
        assert described_reply.status == 200, described_reply.explain(f"started loop {name!r} does not describe")
        assert (described["HumanLoopName"], described["HumanLoopArn"], described["FlowDefinitionArn"]) == \
            (name, loop_arn(name), flow_arn), described_reply.explain("the started loop describes wrongly")
        created = described["CreationTime"]
        assert isinstance(created, float | int) and math.isfinite(created), described_reply.explain("CreationTime")
        if name in self.loops:
            assert described["HumanLoopStatus"] == self.loops[name][0], described_reply.explain("status changed")
        elif flow_arn == self.flow_arn:
            assert described["HumanLoopStatus"] == "InProgress", described_reply.explain("a new loop not InProgress")
            assert self.started.setdefault(name, created) == created, described_reply.explain("creation time moved")


def list_all(service: Service, flow_arn: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    token = None
    for _ in range(100):
        target = f"/human-loops?FlowDefinitionArn={encode(flow_arn)}&MaxResults=100"
        reply = service.runtime("GET", target + (f"&NextToken={encode(token)}" if token else ""))
        page = check(reply, "runtime")
        assert reply.status == 200, reply.explain("ListHumanLoops of the pre-created flow definition failed")
        for summary in page["HumanLoopSummaries"]:
            assert summary["HumanLoopName"] not in found, reply.explain("a loop listed twice")
            found[summary["HumanLoopName"]] = summary
        token = page.get("NextToken")
        if not token:
            return found
    raise AssertionError("ListHumanLoops never ends")


@pytest.fixture(scope="module")
def world(local_service: str, output_bucket: str, session_dir: Path) -> Iterator[World]:
    """A task UI, a flow definition and three loops (InProgress, Stopped, Completed), made through boto3."""
    sagemaker = boto3.client("sagemaker")
    a2i = boto3.client("sagemaker-a2i-runtime")
    ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName=unique("robust-ui"),
                                            UiTemplate={"Content": TEMPLATE})["HumanTaskUiArn"]

    def flow_definition(name: str) -> str:
        return sagemaker.create_flow_definition(
            FlowDefinitionName=name, RoleArn=ROLE_ARN,
            OutputConfig={"S3OutputPath": f"s3://{output_bucket}/robustness"},
            HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui_arn, "TaskTitle": "Check",
                             "TaskDescription": "Check the answer", "TaskCount": 1},
        )["FlowDefinitionArn"]

    flow_name = unique("robust-flow")
    flow_arn = flow_definition(flow_name)
    spare_flow_arn = flow_definition(unique("robust-spare"))
    names = {status: unique(f"robust-{status.lower()}") for status in ("InProgress", "Stopped", "Completed")}
    for name in names.values():
        a2i.start_human_loop(HumanLoopName=name, FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": INPUT})
    a2i.stop_human_loop(HumanLoopName=names["Stopped"])
    AdminClient(local_service).answer(names["Completed"], {"answer": "42"}, worker_id="robust-worker")
    service = Service(local_service, session_dir / "service" / "service.log")
    loops: dict[str, tuple[str, float]] = {}
    deadline = time.monotonic() + 15
    for status, name in names.items():
        while True:
            described = check(service.runtime("GET", f"/human-loops/{name}"), "runtime")
            if described["HumanLoopStatus"] == status or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert described["HumanLoopStatus"] == status, described
        loops[name] = (status, described["CreationTime"])
    config = check(service.admin("PUT", "config", {}), "admin")
    built = World(service, output_bucket, ui_arn, flow_name, flow_arn, spare_flow_arn, loops, config)
    built.assert_intact()
    yield built
    built.restore()


# Generators ---------------------------------------------------------------------------------------------------

SPECIAL_TEXT = [
    "", " ", "\x00", "\n", "\r\n", "\t", "\x1b[2J", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffd", "\uffff",
    "\ud800", "\udfff", "\udbff\udfff", "a\ud800b", "\U0001f642", "e\u0301", "\u202e", "%00", "%2F", "%252F",
    "%zz", "/", "//", "../", "..%2F", "\\", "?", "#", "&", "=", "null", "NaN", "true", "[]", "{}", "'", '"',
    "' OR 1=1 --", "<script>alert(1)</script>", "${jndi:x}", "a" * 63, "a" * 64, "A-b", "-a", "a-", "a--b",
    "0" * 12, "stop", "us-east-1", "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/",
]


def odd_text(long_sizes: tuple[int, ...] = (64, 1024, 8193, 65_536, 300_000)) -> st.SearchStrategy[str]:
    """Strings a service meets from careless or hostile clients; ``long_sizes`` bounds the very long ones."""
    return st.one_of(
        st.sampled_from(SPECIAL_TEXT),
        st.text(max_size=20),
        st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Mn"]), max_size=12),
        st.builds(lambda unit, size: unit * size, st.sampled_from(["a", "é", "\x00", "\ud800", "\U0001f642", "-"]),
                  st.sampled_from(long_sizes)),
    )


EXTREME_NUMBERS = [0, 1, -1, 3, 4, 101, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 2**64, 10**400, -(10**400),
                   0.5, -0.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]
odd_number = st.one_of(st.sampled_from(EXTREME_NUMBERS), st.integers(), st.floats())


def nested(opener: str, depth: int, closed: bool) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + ("1" + closer * depth if closed else "")


# JSON documents nested deeper than a recursive parser goes, as text.
deep_json_text = st.builds(nested, st.sampled_from(["[", '{"a":']), st.sampled_from([10, 900, 1_000, 5_000, 100_000]),
                           st.booleans())
MEMBER_NAMES = ["HumanLoopName", "FlowDefinitionArn", "HumanLoopInput", "InputContent", "DataAttributes",
                "ContentClassifiers", "__type", "answer", "operation", "maxOpenLoops"]
json_values = st.recursive(
    st.none() | st.booleans() | odd_number | odd_text(long_sizes=(64, 70_000)),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(MEMBER_NAMES) | st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
# A JSON object as text holding an odd value; ensure_ascii=False keeps lone surrogates as characters.
object_text = st.builds(lambda value, ascii_only: json.dumps({"prompt": value}, ensure_ascii=ascii_only),
                        odd_text(long_sizes=(64, 70_000)) | odd_number, st.booleans())
weird = st.one_of(json_values, odd_text(), odd_number, deep_json_text, object_text)

raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([
        b"\xff", b"\xfe\xff\x00{", b"\xef\xbb\xbf{}", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80abc", b"\x00" * 16,
        b'{"HumanLoopName": "\xff"}', b'{"FlowDefinitionName": "a\xc3"}', b"{", b"}", b'{"a": 1,}', b"{'a': 1}",
        b'"unterminated', b"[1, 2", b"NaN", b"-Infinity", b"1e999999", b"9" * 5_000, b"{}" * 10, b"\r\n\r\n",
        b'{"a": "\\ud800"}', b'{"a": "\\u"}', b'{"a": "\\x41"}', '{"HumanLoopName": 1}'.encode("utf-16"),
        '{"HumanTaskUiName": []}'.encode("utf-32"), b"[" * 100_000, b'{"a":' * 50_000, b"x" * 1_000_000,
    ]),
    st.builds(lambda text: text.encode("utf-8", "surrogatepass"), odd_text()),
    st.builds(lambda text: text.encode("latin-1", "replace"), odd_text()),
)


def replaced(body: dict, path: tuple[Any, ...], value: Any) -> dict:
    """A deep copy of ``body`` with the member at ``path`` (created if absent) set to ``value``."""
    changed = copy.deepcopy(body)
    holder: Any = changed
    for key in path[:-1]:
        if isinstance(holder, dict) and not isinstance(holder.get(key), dict | list):
            holder[key] = {}
        holder = holder[key]
    holder[path[-1]] = value
    return changed


START_PATHS = [("HumanLoopName",), ("FlowDefinitionArn",), ("HumanLoopInput",), ("HumanLoopInput", "InputContent"),
               ("DataAttributes",), ("DataAttributes", "ContentClassifiers"),
               ("DataAttributes", "ContentClassifiers", 0), ("HumanLoopInput", "Unknown"), ("Unknown",)]


def start_body(world: World) -> dict:
    return {"HumanLoopName": unique("fuzz"), "FlowDefinitionArn": world.flow_arn,
            "HumanLoopInput": {"InputContent": INPUT},
            "DataAttributes": {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]}}


ACTIVATION = ("HumanLoopActivationConfig", "HumanLoopActivationConditionsConfig", "HumanLoopActivationConditions")
SAGEMAKER_PATHS: dict[str, list[tuple[str, ...]]] = {
    "CreateFlowDefinition": [
        ("FlowDefinitionName",), ("RoleArn",), ("OutputConfig",), ("OutputConfig", "S3OutputPath"),
        ("OutputConfig", "KmsKeyId"), ("HumanLoopConfig",), ("HumanLoopConfig", "WorkteamArn"),
        ("HumanLoopConfig", "HumanTaskUiArn"), ("HumanLoopConfig", "TaskTitle"), ("HumanLoopConfig", "TaskDescription"),
        ("HumanLoopConfig", "TaskCount"), ("HumanLoopConfig", "TaskAvailabilityLifetimeInSeconds"),
        ("HumanLoopConfig", "TaskTimeLimitInSeconds"), ("HumanLoopConfig", "TaskKeywords"),
        ("HumanLoopConfig", "PublicWorkforceTaskPrice", "AmountInUsd", "Dollars"), ("HumanLoopRequestSource",),
        ("HumanLoopRequestSource", "AwsManagedHumanLoopRequestSource"), ("HumanLoopActivationConfig",), ACTIVATION,
        ("Tags",), ("Tags", 0, "Key"), ("CreationTime",), ("FlowDefinitionArn",), ("FlowDefinitionStatus",),
        ("Unknown",),
    ],
    "CreateHumanTaskUi": [("HumanTaskUiName",), ("UiTemplate",), ("UiTemplate", "Content"), ("Tags",),
                          ("Tags", 0, "Value"), ("HumanTaskUiArn",), ("CreationTime",), ("Unknown",)],
    "DescribeFlowDefinition": [("FlowDefinitionName",)],
    "DeleteFlowDefinition": [("FlowDefinitionName",)],
    "DescribeHumanTaskUi": [("HumanTaskUiName",)],
    "DeleteHumanTaskUi": [("HumanTaskUiName",)],
    "ListFlowDefinitions": [("CreationTimeAfter",), ("CreationTimeBefore",), ("SortOrder",), ("NextToken",),
                            ("MaxResults",)],
    "ListHumanTaskUis": [("CreationTimeAfter",), ("CreationTimeBefore",), ("SortOrder",), ("NextToken",),
                         ("MaxResults",)],
}
sagemaker_changes = st.sampled_from(sorted(SAGEMAKER_PATHS)).flatmap(
    lambda operation: st.tuples(st.just(operation), st.sampled_from(SAGEMAKER_PATHS[operation])))


def sagemaker_body(world: World, operation: str, path: tuple[Any, ...]) -> dict:
    """A valid request of ``operation``, for a fresh resource (or an absent one for Describe and Delete)."""
    if operation == "CreateFlowDefinition":
        body: dict[str, Any] = {
            "FlowDefinitionName": unique("fuzz-flow"), "RoleArn": ROLE_ARN,
            "OutputConfig": {"S3OutputPath": f"s3://{world.bucket}/fuzz"},
            "HumanLoopConfig": {"WorkteamArn": workteam_arn(), "HumanTaskUiArn": world.ui_arn, "TaskTitle": "t",
                                "TaskDescription": "d", "TaskCount": 1},
        }
        if path[0] in ("HumanLoopActivationConfig", "HumanLoopRequestSource"):
            source = "AWS/Textract/AnalyzeDocument/Forms/V1"
            body["HumanLoopRequestSource"] = {"AwsManagedHumanLoopRequestSource": source}
            body["HumanLoopActivationConfig"] = {"HumanLoopActivationConditionsConfig": {
                "HumanLoopActivationConditions": json.dumps({"Conditions": []})}}
        if path[0] == "Tags":
            body["Tags"] = [{"Key": "team", "Value": "robustness"}]
        return body
    if operation == "CreateHumanTaskUi":
        body = {"HumanTaskUiName": unique("fuzz-ui"), "UiTemplate": {"Content": TEMPLATE}}
        if path[0] == "Tags":
            body["Tags"] = [{"Key": "team", "Value": "robustness"}]
        return body
    if operation in ("DescribeFlowDefinition", "DeleteFlowDefinition"):
        return {"FlowDefinitionName": unique("absent-flow")}
    if operation in ("DescribeHumanTaskUi", "DeleteHumanTaskUi"):
        return {"HumanTaskUiName": unique("absent-ui")}
    return {"MaxResults": 5, "SortOrder": "Ascending"}


QUERY_VALUES = ["", "0", "-1", "1", "100", "101", "1_0", "\u0663", " 5 ", "0x10", "1e2", "9" * 5_000, "nan", "inf",
                "-inf", "1e400", "-1e400", "2026-11-25T12:00:00Z", "2026-11-25T12:00:00+14:00", "2026-13-45",
                "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "0001-01-01", "Ascending", "Descending",
                "ascending", "=", "&", "%", "+", "\x00"]
query_values = st.one_of(st.sampled_from(QUERY_VALUES), st.integers().map(str), odd_text(long_sizes=(64, 2_000)))
# NextToken: garbage, base64 garbage, or a token this service's format would decode, holding odd values.
token_states = st.fixed_dictionaries({"c": json_values, "n": json_values, "same": st.booleans(), "d": st.booleans(),
                                      "ascii": st.booleans()})
next_tokens = st.one_of(
    query_values,
    st.builds(lambda raw: base64.urlsafe_b64encode(raw).decode(), st.binary(max_size=40)),
    token_states,
)
query_keys = st.sampled_from(["MaxResults", "SortOrder", "NextToken", "CreationTimeAfter", "CreationTimeBefore",
                              "FlowDefinitionArn"])


def token_text(world: World, token: Any) -> str:
    if not isinstance(token, dict):
        return token
    state = {"c": token["c"], "n": token["n"], "f": world.flow_arn if token["same"] else "x", "d": token["d"]}
    return base64.urlsafe_b64encode(json.dumps(state, ensure_ascii=token["ascii"]).encode("utf-8", "surrogatepass"))\
        .decode()


# How a path names a loop: the way to spell one of the pre-created loops, or odd text.
NAME_FORMS = ("plain", "every-byte-encoded", "encoded-twice", "trailing-slash", "leading-slash", "with-nul",
              "upper-hex", "query-suffix")


def spelled(name: str, form: str) -> str:
    everything = "".join(f"%{byte:02x}" for byte in name.encode())
    return {
        "plain": name, "every-byte-encoded": everything, "encoded-twice": encode(everything),
        "trailing-slash": name + "/", "leading-slash": "/" + name, "with-nul": name + "%00",
        "upper-hex": everything.upper(), "query-suffix": name + "?x=%2F",
    }[form]


def path_names(world_size: int = 3) -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("known"), st.tuples(st.integers(0, world_size - 1), st.sampled_from(NAME_FORMS))),
        st.tuples(st.just("text"), st.tuples(odd_text(long_sizes=(64, 1_024, 6_000)), st.sampled_from(["", "/"]))),
    )


# Properties ---------------------------------------------------------------------------------------------------

@given(body=json_values, route=st.sampled_from(["/human-loops", "/human-loops/stop"]))
@example(body={"HumanLoopName": None, "FlowDefinitionArn": [], "HumanLoopInput": "x"}, route="/human-loops")
@example(body=[{"HumanLoopName": "a"}], route="/human-loops/stop")
def test_start_and_stop_human_loop_take_any_json_value(world: World, body: Any, route: str) -> None:
    """Any JSON value as the StartHumanLoop or StopHumanLoop body: a 4xx (or a real start), never a 5xx."""
    if route == "/human-loops/stop" and isinstance(body, dict) and str(body.get("HumanLoopName")) in world.loops:
        body = {**body, "HumanLoopName": "not-a-pre-created-loop"}  # stopping it would be a legitimate change
    reply = world.service.runtime("POST", route, body)
    check(reply, "runtime")
    if reply.status == 200 and route == "/human-loops":
        world.record_start(body, reply)
    elif route == "/human-loops":
        assert reply.status >= 400, reply.explain("a 2xx that is not 200")
    world.assert_intact()


@given(path=st.sampled_from(START_PATHS), value=weird)
@example(path=("HumanLoopInput", "InputContent"), value='{"prompt": "\ud800"}')
@example(path=("HumanLoopInput", "InputContent"), value="[" * 100_000)
@example(path=("HumanLoopInput", "InputContent"), value='{"a":' * 1_000 + "1" + "}" * 1_000)
@example(path=("HumanLoopName",), value=10**400)
@example(path=("DataAttributes", "ContentClassifiers", 0), value=math.nan)
def test_start_human_loop_with_one_member_wrong(world: World, path: tuple[Any, ...], value: Any) -> None:
    """A StartHumanLoop right but for one member (wrong type, extreme, odd or deep): a 4xx, or a real start."""
    body = replaced(start_body(world), path, value)
    reply = world.service.runtime("POST", "/human-loops", body)
    check(reply, "runtime")
    if reply.status == 200:
        world.record_start(body, reply)
    else:
        assert reply.status >= 400, reply.explain("a 2xx that is not 200")
        name = body["HumanLoopName"]
        if isinstance(name, str) and name not in world.loops and name not in world.started and len(name) < 5_000:
            gone = world.service.runtime("GET", f"/human-loops/{encode(name)}")
            assert gone.status >= 400, gone.explain(f"StartHumanLoop failed ({reply.status}) yet created {name!r}")
    world.assert_intact()


JSON_ROUTES = ("StartHumanLoop", "StopHumanLoop", *SAGEMAKER_OPERATIONS, "answers", "faults", "quotas", "config",
               "workforce")


@given(route=st.sampled_from(JSON_ROUTES), raw=raw_bodies)
@example(route="StartHumanLoop", raw=b"[" * 100_000)
@example(route="CreateHumanTaskUi", raw=b'{"a":' * 50_000)
@example(route="config", raw=b"[" * 100_000)
@example(route="StopHumanLoop", raw=b"\xff\xfe")
def test_raw_bytes_bodies_on_every_json_route(world: World, route: str, raw: bytes) -> None:
    """Bytes that are not JSON (or not UTF-8, or nested too deep) on every JSON route: a 4xx, never a 5xx."""
    service = world.service
    try:
        if route in ("StartHumanLoop", "StopHumanLoop"):
            reply = service.runtime("POST", "/human-loops" if route == "StartHumanLoop" else "/human-loops/stop", raw)
            api = "runtime"
        elif route in SAGEMAKER_OPERATIONS:
            reply, api = service.sagemaker(route, raw), "sagemaker"
        else:
            method, path = {"answers": ("POST", f"human-loops/{unique('absent')}/answers"),
                            "faults": ("POST", "faults"), "quotas": ("PUT", "faults/quotas"),
                            "config": ("PUT", "config"), "workforce": ("PUT", "workforce/policies")}[route]
            reply, api = service.admin(method, path, raw), "admin"
        check(reply, api)
        if route == "StartHumanLoop" and reply.status == 200:
            world.record_start(json.loads(raw), reply)
    finally:
        world.restore()
    world.assert_intact()


@given(change=sagemaker_changes, value=weird)
@example(change=("CreateHumanTaskUi", ("UiTemplate", "Content")), value="\ud800")
@example(change=("CreateHumanTaskUi", ("UiTemplate", "Content")), value="<p>\x00\U0001f642\u2028</p>")
@example(change=("ListFlowDefinitions", ("CreationTimeAfter",)), value=10**400)
@example(change=("ListHumanTaskUis", ("NextToken",)), value="LTU=")
@example(change=("ListFlowDefinitions", ("MaxResults",)), value=None)
@example(change=("CreateFlowDefinition", ("HumanLoopConfig", "TaskAvailabilityLifetimeInSeconds")), value=None)
@example(change=("CreateFlowDefinition", ACTIVATION), value="[" * 10_000)
@example(change=("CreateFlowDefinition", ("CreationTime",)), value="not a time")
@example(change=("CreateFlowDefinition", ("FlowDefinitionArn",)), value="arn:aws:sagemaker:us-east-1:1:x/y")
def test_sagemaker_operations_with_one_member_wrong(world: World, change: tuple[str, tuple[Any, ...]],
                                                    value: Any) -> None:
    """SageMaker's A2I operations, right but for one member: a 4xx, or a resource that describes as created."""
    operation, path = change
    body = replaced(sagemaker_body(world, operation, path), path, value)
    for key in ("FlowDefinitionName", "HumanTaskUiName"):
        if body.get(key) in (world.flow_name, world.ui_arn.rsplit("/", 1)[-1]):
            body[key] = "absent"  # deleting the pre-created resources would be a legitimate change
    service = world.service
    reply = service.sagemaker(operation, body)
    answered = check(reply, "sagemaker")
    if reply.status == 200 and operation == "CreateFlowDefinition":
        name = body["FlowDefinitionName"]
        assert answered == {"FlowDefinitionArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/{name}"}, \
            reply.explain("CreateFlowDefinition answered the wrong ARN")
        described_reply = service.sagemaker("DescribeFlowDefinition", {"FlowDefinitionName": name})
        described = check(described_reply, "sagemaker")
        created = described.get("CreationTime")
        assert (described_reply.status, described.get("FlowDefinitionName"), described.get("FlowDefinitionArn"),
                described.get("FlowDefinitionStatus")) == (200, name, answered["FlowDefinitionArn"], "Active") and \
            isinstance(created, int | float) and not isinstance(created, bool), \
            described_reply.explain(f"the flow definition created from {path} = {value!r:.100} describes wrongly")
        start = {"HumanLoopName": unique("fuzz"), "FlowDefinitionArn": answered["FlowDefinitionArn"],
                 "HumanLoopInput": {"InputContent": INPUT}}
        check(service.runtime("POST", "/human-loops", start), "runtime")  # a flow definition it accepted works
        check(service.sagemaker("DeleteFlowDefinition", {"FlowDefinitionName": name}), "sagemaker")
    elif reply.status == 200 and operation == "CreateHumanTaskUi":
        name, content = body["HumanTaskUiName"], body["UiTemplate"]["Content"]
        described_reply = service.sagemaker("DescribeHumanTaskUi", {"HumanTaskUiName": name})
        described = check(described_reply, "sagemaker")
        assert (described_reply.status, described.get("HumanTaskUiName"), described.get("HumanTaskUiArn")) == \
            (200, name, answered["HumanTaskUiArn"]), described_reply.explain("the task UI describes wrongly")
        template = service.send("GET", urlsplit(described["UiTemplate"]["Url"]).path)
        assert (template.status, template.body) == (200, content.encode("utf-8", "surrogatepass")), \
            template.explain("the task UI's template is not the content it was created with")
        check(service.sagemaker("DeleteHumanTaskUi", {"HumanTaskUiName": name}), "sagemaker")
    world.assert_intact()


@given(query=st.dictionaries(query_keys, query_values, max_size=4), token=st.none() | next_tokens,
       junk=st.sampled_from(["", "&", "&&=&", "&MaxResults", "&MaxResults=1&MaxResults=x", "&%zz=%zz", ";a=b",
                             "&SortOrder=Descending&SortOrder=", "&FlowDefinitionArn="]))
@example(query={}, token={"c": 1, "n": "\ud800", "same": True, "d": False, "ascii": True}, junk="")
@example(query={}, token={"c": "nan", "n": "a", "same": True, "d": False, "ascii": True}, junk="")
@example(query={"CreationTimeAfter": "0001-01-01T00:00:00+01:00", "CreationTimeBefore": "1e400"}, token=None, junk="")
@example(query={"MaxResults": "9" * 5_000}, token=None, junk="")
def test_list_human_loops_with_odd_query_strings(world: World, query: dict[str, str], token: Any, junk: str) -> None:
    """ListHumanLoops with garbage parameters: a 4xx, or a page of the flow definition's loops in order."""
    parameters = {"FlowDefinitionArn": world.flow_arn, **query}
    if token is not None:
        parameters["NextToken"] = token_text(world, token)
    target = "/human-loops?" + "&".join(f"{key}={encode(value)}" for key, value in parameters.items()) + junk
    target = target[:MAX_TARGET]
    reply = world.service.runtime("GET", target)
    page = check(reply, "runtime")
    if reply.status == 200:
        effective: dict[str, str] = {}
        for key, value in parse_qsl(urlsplit(target).query, keep_blank_values=True):
            effective.setdefault(key, value)  # the first of repeated parameters, as the service reads them
        known: dict[str, tuple[str | None, float]] = dict(world.loops)
        known.update({name: (None, created) for name, created in world.started.items()})  # may have been stopped
        summaries = page["HumanLoopSummaries"]
        for summary in summaries:
            name = summary["HumanLoopName"]
            assert name in known, reply.explain(f"listed {name!r}, not a loop of this flow definition")
            status, created = known[name]
            assert summary["CreationTime"] == created and status in (None, summary["HumanLoopStatus"]), \
                reply.explain(f"the summary of {name} is not the loop's")
        times = [summary["CreationTime"] for summary in summaries]
        descending = effective.get("SortOrder") == "Descending"
        assert times == sorted(times, reverse=descending), reply.explain("the page is out of order")
        with contextlib.suppress(ValueError, KeyError):
            assert len(summaries) <= int(effective["MaxResults"]), reply.explain("more loops than MaxResults")
    world.assert_intact()


@given(name=path_names(), method=st.sampled_from(["GET", "DELETE"]))
@example(name=("known", (0, "encoded-twice")), method="GET")
@example(name=("known", (1, "every-byte-encoded")), method="GET")
@example(name=("text", ("\ud800" * 500, "")), method="GET")
@example(name=("text", ("a" * 6_000, "/")), method="DELETE")
def test_describe_and_delete_human_loop_with_odd_names(world: World, name: tuple[str, Any], method: str) -> None:
    """Describe and Delete with odd path names: a 4xx, or the loop the path names (decoded once), intact."""
    kind, detail = name
    form = None
    if kind == "known":
        index, form = detail
        segment = spelled(sorted(world.loops)[index], form)
    else:
        text, slash = detail
        segment = encode(text, safe=slash)
    target = f"/human-loops/{segment}"[:MAX_TARGET]
    meant = unquote(target[len("/human-loops/"):].split("?", 1)[0], errors="replace")
    terminal = {name for name, (status, _) in world.loops.items() if status != "InProgress"}
    if method == "DELETE" and ({meant, unquote(meant)} & terminal or kind == "known"):
        method = "GET"  # deleting a finished pre-created loop would be a legitimate change
    reply = world.service.runtime(method, target)
    described = check(reply, "runtime")
    if reply.status == 200 and method == "GET":
        assert described["HumanLoopName"] == meant, reply.explain(
            f"GET {target[:200]} names the loop {meant[:200]!r}, yet described {described['HumanLoopName']!r}")
    if form in ("plain", "every-byte-encoded", "upper-hex"):
        assert reply.status == 200, reply.explain("a pre-created loop, its name percent-encoded, does not describe")
    world.assert_intact()


RUNTIME_SUFFIXES = ["", "/", "/stop", "/stop/", "//", "/a/b", "/%2F", "/..", "/../_a2i/health", "/stop/x", "?x=1",
                    "/%00", "/;x"]
ADMIN_PATHS = ["health", "health/", "", "/", "human-loops", "human-loops/", "human-loops/absent",
               "human-loops/absent/answers", "human-loops/absent/answers/x", "faults", "faults/", "faults/quotas",
               "faults/quotas/x", "faults/x", "workforce", "workforce/", "workforce/policies", "workforce/x",
               "config", "config/x", "human-task-uis", "human-task-uis/us-east-1/absent/template",
               "human-task-uis/us-east-1/absent", "human-task-uis/%2F/%2F/template", "%2E%2E/health", "x"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "FOO"]


@given(method=st.sampled_from(METHODS),
       where=st.one_of(st.tuples(st.just("runtime"), st.sampled_from(RUNTIME_SUFFIXES)),
                       st.tuples(st.just("admin"), st.sampled_from(ADMIN_PATHS)),
                       st.tuples(st.sampled_from(["runtime", "admin"]),
                                 odd_text(long_sizes=(64, 1_000)).map(lambda text: "/" + encode(text, safe="/")))))
@example(method="POST", where=("admin", "faults"))
@example(method="PUT", where=("admin", "workforce/policies"))
def test_unknown_methods_and_paths(world: World, method: str, where: tuple[str, str]) -> None:
    """Every method on odd paths under /human-loops and /_a2i/, without a body: a 4xx or a harmless 2xx."""
    api, path = where
    if api == "runtime":
        target = "/human-loops" + path
        name = unquote(target[len("/human-loops/"):], errors="replace")
        if method == "DELETE" and {name, unquote(name)} & set(world.loops):
            method = "GET"
        reply = world.service.runtime(method, target[:MAX_TARGET])
    else:
        reply = world.service.admin(method, path.lstrip("/")[:MAX_TARGET])
    try:
        check(reply, api)
    finally:
        world.restore()
    world.assert_intact()


ADMIN_TARGETS = ("answer-absent", "answer-completed", "answer-stopped", "faults", "quotas", "config", "workforce",
                 "workforce-delete")
ADMIN_PATHS_BY_TARGET: dict[str, list[tuple[str, ...]]] = {
    "answer": [("answer",), ("answer", "label"), ("workerId",), ("timeSpentInSeconds",), ("region",),
               ("workerMetadata",), ("Unknown",)],
    "faults": [("operation",), ("error",), ("count",), ("rate",), ("latencySeconds",), ("lostResponse",),
               ("Unknown",)],
    "quotas": [("DescribeHumanLoop",), ("StartHumanLoop",), ("Unknown",)],
    "config": [("maxOpenLoops",), ("stopDelaySeconds",)],
    "workforce": [("flowDefinitionArn",), ("policy",), ("policy", "delaySeconds"), ("policy", "delaySeconds", 0),
                  ("policy", "answer"), ("policy", "answer", "mode"), ("policy", "answer", "answer"),
                  ("policy", "answer", "name"), ("policy", "failureRate"), ("policy", "expiryRate"),
                  ("policy", "seed"), ("policy", "Unknown")],
}
admin_changes = st.sampled_from(ADMIN_TARGETS).flatmap(lambda target: st.tuples(
    st.just(target), st.sampled_from(ADMIN_PATHS_BY_TARGET[target.split("-")[0]])))


def admin_request(world: World, target: str) -> tuple[str, str, dict]:
    """A valid admin request for ``target``; answers go to loops that cannot take one (absent or finished)."""
    if target.startswith("answer"):
        loop = {"answer-absent": unique("absent"), "answer-completed": world.loop_named("Completed"),
                "answer-stopped": world.loop_named("Stopped")}[target]
        return "POST", f"human-loops/{loop}/answers", {
            "answer": {"label": "yes"}, "workerId": unique("worker"), "timeSpentInSeconds": 1.5, "region": REGION,
            "workerMetadata": {"identityData": {"sub": "x"}}}
    if target == "faults":
        return "POST", "faults", {"operation": "DescribeHumanLoop", "error": "ThrottlingException", "count": 1,
                                  "rate": 1.0}
    if target == "quotas":
        return "PUT", "faults/quotas", {"DescribeHumanLoop": 1000}
    if target == "config":  # both changed, so a request refused part-way must not be half applied
        return "PUT", "config", {"maxOpenLoops": 7, "stopDelaySeconds": 0.25}
    return ("PUT" if target == "workforce" else "DELETE"), "workforce/policies", {
        "flowDefinitionArn": world.spare_flow_arn, "policy": {"delaySeconds": [1, 2], "answer": {"mode": "echo"}}}


@given(change=admin_changes, value=weird)
@example(change=("config", ("maxOpenLoops",)), value=1e400)
@example(change=("config", ("maxOpenLoops",)), value=[1])
@example(change=("config", ("stopDelaySeconds",)), value="abc")
@example(change=("config", ("stopDelaySeconds",)), value=math.nan)
@example(change=("answer-absent", ("timeSpentInSeconds",)), value=None)
@example(change=("answer-absent", ("region",)), value=[1])
@example(change=("answer-completed", ("region",)), value=10**30)
@example(change=("faults", ("count",)), value="2")
def test_admin_api_bodies_with_one_member_wrong(world: World, change: tuple[str, tuple[Any, ...]], value: Any) -> None:
    """Admin requests right but for one member: a 4xx that changes nothing, or a 2xx with sane settings."""
    target, path = change
    method, route, valid = admin_request(world, target)
    body = replaced(valid, path, value)
    service = world.service
    try:
        before = check(service.admin("PUT", "config", {}), "admin")
        reply = service.admin(method, route, body)
        answered = check(reply, "admin")
        after = check(service.admin("PUT", "config", {}), "admin")
        if target.startswith("answer"):
            assert reply.status >= 400, reply.explain("an answer accepted for a loop that is not InProgress")
        if target == "config" and reply.status >= 400:
            assert after == before, reply.explain(f"a refused config changed the config from {before} to {after}")
        if target == "faults" and reply.status < 300:
            rules = answered.get("rules", []) if isinstance(answered, dict) else []
            if all(rule["latencySeconds"] <= 0.5 for rule in rules):
                probe = service.runtime("GET", f"/human-loops/{world.loop_named('InProgress')}")
                if not any(rule["error"] in SERVER_ERRORS or rule["lostResponse"] for rule in rules):
                    check(probe, "runtime")
    finally:
        world.restore()
    world.assert_intact()
