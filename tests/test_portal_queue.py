"""A day of reviewing over HTTP: holds (who has a task until when), the queue after Submit, the list's counts.

The session's local service for what workers and the simulated workforce do; a portal on a store of its own with an
injected clock for holds that run out (no sleeping).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request

from airflow_a2i.local.portal.accounts import Accounts, UrlSigner
from airflow_a2i.local.portal.app import Portal
from airflow_a2i.local.store import NamedResource, Store
from airflow_a2i.local.workforce import worker_id as simulated_worker_id
from tests.conftest import ACCOUNT, unique
from tests.flows import create_flow
from tests.loops import set_policy, start_loop
from tests.portal_client import PortalClient, csrf_of, signed_in_worker

REGION = "us-east-1"
TEMPLATE = "<crowd-form><p>{{ task.input.question }}</p><crowd-input name='answer' label='Answer'></crowd-input>" \
           "</crowd-form>"
HOLD = re.compile(r'name="hold" value="([^"]*)"')
WAIT_SECONDS = 30


def team_flow(output_bucket: str, team: str, *, task_count: int = 1, **loop_config: Any) -> str:
    return create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/queue", template=TEMPLATE,
                       workteam_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{team}",
                       task_count=task_count, **loop_config)


def worker(portal: str, team: str) -> PortalClient:
    return signed_in_worker(portal, team, unique("worker"))


def hold_of(page: str) -> str:
    found = HOLD.search(page)
    assert found, page[:2000]
    return unescape(found.group(1))


def release(client: PortalClient, loop: str, page: str, *, headers: dict[str, str] | None = None,
            **fields: str) -> Any:
    form = {"__a2i_csrf": csrf_of(page), "hold": hold_of(page), **fields}
    return client.http.post(client.url(f"/portal/tasks/{REGION}/{loop}/release"), data=form, timeout=30,
                            allow_redirects=False, headers=headers)


def status_of(loop: str) -> str:
    return boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=loop)["HumanLoopStatus"]


def answers_of(endpoint: str, loop: str) -> list[dict]:
    from airflow_a2i.local.admin_client import AdminClient

    return AdminClient(endpoint).request("GET", f"human-loops/{loop}")["humanLoops"][0]["answers"]


@pytest.fixture
def team() -> str:
    return unique("team")


# Holds --------------------------------------------------------------------------------------------------------

def test_an_opened_task_is_held_for_its_worker_and_released_when_they_let_it_go(portal_endpoint: str,
                                                                                output_bucket: str, team: str) -> None:
    loop = start_loop(team_flow(output_bucket, team), {"question": "Held?"}, prefix="held")
    ana, ben = worker(portal_endpoint, team), worker(portal_endpoint, team)
    opened = ana.open_task(REGION, loop)
    assert opened.status_code == 200 and "held for you until" in opened.text
    assert "1 task left" in opened.text

    # Ben's list does not offer it; opening it says until when, not who.
    listed = ben.task_list().text
    assert loop not in listed and "No task is waiting for you." in listed
    assert re.search(r"Held by others</th>.*<td class=a2i-number>1</td>", listed, re.DOTALL)
    refused = ben.open_task(REGION, loop)
    assert refused.status_code == 409
    assert re.search(rf"Task {loop} is held by another worker until \d\d:\d\d:\d\d UTC", refused.text)
    ana_name = ana.task_list().text.split("Signed in as ")[1].split("<")[0]
    assert ana_name not in refused.text
    assert ben.submit(REGION, loop, {"answer": "mine"}).status_code == 409
    assert status_of(loop) == "InProgress"

    # Another page's hold id, or no CSRF token, releases nothing; Ana's "Release task" does.
    assert release(ana, loop, opened.text, hold="not-this-page").status_code == 303
    assert ben.open_task(REGION, loop).status_code == 409
    assert release(ana, loop, opened.text, __a2i_csrf="forged").status_code == 403
    assert ben.open_task(REGION, loop).status_code == 409
    released = release(ana, loop, opened.text)
    assert released.status_code == 303 and released.headers["Location"] == f"/portal/tasks?released={loop}"
    assert ben.open_task(REGION, loop).status_code == 200
    assert ana.open_task(REGION, loop).status_code == 409  # now Ben has it
    assert ben.submit(REGION, loop, {"answer": "Ben's"}).status_code == 303
    assert status_of(loop) == "Completed"


def test_reopening_keeps_the_hold_and_only_the_latest_page_view_releases_it(portal_endpoint: str,
                                                                              output_bucket: str, team: str) -> None:
    loop = start_loop(team_flow(output_bucket, team), prefix="reload")
    ana, ben = worker(portal_endpoint, team), worker(portal_endpoint, team)
    first = ana.open_task(REGION, loop).text
    reloaded = ana.open_task(REGION, loop).text  # a reload: the first view's page is left after this one opened
    until = re.compile(r"held for you until (\d\d:\d\d:\d\d)")
    assert until.findall(first) == until.findall(reloaded)  # a fixed hold from first opening
    beacon = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors"}
    assert release(ana, loop, first, headers=beacon).status_code == 204  # the left page's beacon, arriving late
    assert ben.open_task(REGION, loop).status_code == 409
    assert release(ana, loop, reloaded).status_code == 303
    assert ben.open_task(REGION, loop).status_code == 200


def test_logging_out_releases_the_workers_tasks(portal_endpoint: str, output_bucket: str, team: str) -> None:
    loop = start_loop(team_flow(output_bucket, team), prefix="logout")
    ana, ben = worker(portal_endpoint, team), worker(portal_endpoint, team)
    page = ana.open_task(REGION, loop).text
    assert ben.open_task(REGION, loop).status_code == 409
    logged_out = ana.http.post(ana.url("/portal/logout"), data={"__a2i_csrf": csrf_of(page)}, timeout=30)
    assert logged_out.url.endswith("/portal/login")
    assert ben.open_task(REGION, loop).status_code == 200


def test_with_task_count_two_a_hold_blocks_only_the_answer_it_holds(portal_endpoint: str, output_bucket: str,
                                                                   team: str) -> None:
    loop = start_loop(team_flow(output_bucket, team, task_count=2), prefix="two")
    ana, ben, cleo = (worker(portal_endpoint, team) for _ in range(3))
    assert ana.open_task(REGION, loop).status_code == 200
    assert loop in ben.task_list().text  # one answer is still free
    assert ben.open_task(REGION, loop).status_code == 200
    assert loop not in cleo.task_list().text  # both are held
    assert cleo.open_task(REGION, loop).status_code == 409
    assert ben.submit(REGION, loop, {"answer": "Ben's"}).status_code == 303
    assert cleo.open_task(REGION, loop).status_code == 409  # one given, the other still Ana's
    assert ana.submit(REGION, loop, {"answer": "Ana's"}).status_code == 303
    assert status_of(loop) == "Completed"


def test_the_simulated_workforce_leaves_a_held_task_to_its_person(local_service: str, portal_endpoint: str,
                                                                  output_bucket: str, team: str) -> None:
    flow = team_flow(output_bucket, team)
    held, free = start_loop(flow, prefix="person"), start_loop(flow, prefix="nobody")
    ana = worker(portal_endpoint, team)
    page = ana.open_task(REGION, held).text
    set_policy(local_service, flow, delaySeconds=[0, 0], answer={"mode": "fixed", "answer": {"answer": "robot"}})
    wait_for(lambda: status_of(free) == "Completed")  # the workforce's plans of both loops were due at that tick
    assert status_of(held) == "InProgress" and answers_of(local_service, held) == []

    release(ana, held, page)  # the person lets it go: the workforce answers it at its next tick
    wait_for(lambda: status_of(held) == "Completed")
    assert [answer["worker_id"] for answer in answers_of(local_service, held)] == [simulated_worker_id(0)]


def test_with_task_count_two_the_workforce_gives_the_answer_nobody_holds(local_service: str, portal_endpoint: str,
                                                                          output_bucket: str, team: str) -> None:
    flow = team_flow(output_bucket, team, task_count=2)
    loop = start_loop(flow, prefix="half")
    ana = worker(portal_endpoint, team)
    assert ana.open_task(REGION, loop).status_code == 200
    set_policy(local_service, flow, delaySeconds=[0, 0], answer={"mode": "fixed", "answer": {"answer": "robot"}})
    wait_for(lambda: len(answers_of(local_service, loop)) == 1)
    assert status_of(loop) == "InProgress"
    assert ana.submit(REGION, loop, {"answer": "Ana's"}).status_code == 303
    assert status_of(loop) == "Completed"
    given = {answer["worker_id"]: answer["answer"] for answer in answers_of(local_service, loop)}
    assert given[simulated_worker_id(0)] == {"answer": "robot"} and {"answer": "Ana's"} in given.values()


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the local service did not get there in time"
        time.sleep(0.1)


# The queue ----------------------------------------------------------------------------------------------------

def test_submit_opens_the_next_task_of_the_same_flow_first_then_any_then_all_done(portal_endpoint: str,
                                                                                  output_bucket: str,
                                                                                  team: str) -> None:
    first_flow, other_flow = team_flow(output_bucket, team), team_flow(output_bucket, team)
    a1 = start_loop(first_flow, prefix="a1")
    b1 = start_loop(other_flow, prefix="b1")  # older than a2: still, a2 comes first after a1
    a2 = start_loop(first_flow, prefix="a2")
    ana = worker(portal_endpoint, team)
    started = ana.http.get(ana.url("/portal/tasks/next"), allow_redirects=False, timeout=30)
    assert started.headers["Location"] == f"/portal/tasks/{REGION}/{a1}"
    by_flow = ana.http.get(ana.url("/portal/tasks/next"), params={"flow": other_flow}, allow_redirects=False,
                           timeout=30)
    assert by_flow.headers["Location"] == f"/portal/tasks/{REGION}/{b1}"

    chain = []
    page = ana.open_task(REGION, a1)
    for loop in (a1, a2, b1):
        chain.append(re.search(r'class="a2i-left">([^<]*)<', page.text).group(1))
        page = ana.http.post(ana.url(f"/portal/tasks/{REGION}/{loop}"), timeout=30,
                             data={"answer": f"answer to {loop}", "__a2i_csrf": csrf_of(page.text)})
        assert page.status_code == 200
        assert f"Your answer to {loop} was submitted." in page.text
    assert chain == ["3 tasks left", "2 tasks left", "1 task left"]
    assert [response.headers["Location"].split("?")[0] for response in page.history] == ["/portal/tasks"]
    assert "All done." in page.text
    assert all(status_of(loop) == "Completed" for loop in (a1, a2, b1))


def test_the_task_list_counts_per_flow_definition_and_the_workers_day(portal_endpoint: str, output_bucket: str,
                                                                      team: str) -> None:
    first_flow, other_flow = team_flow(output_bucket, team), team_flow(output_bucket, team)
    first_name, other_name = (arn.rsplit("/", 1)[-1] for arn in (first_flow, other_flow))
    answered = [start_loop(first_flow, prefix="done") for _ in range(2)]
    mine, theirs, waiting = (start_loop(other_flow, prefix=prefix) for prefix in ("mine", "theirs", "waiting"))
    ana, ben = worker(portal_endpoint, team), worker(portal_endpoint, team)
    for loop in answered:
        ana.open_task(REGION, loop)
        time.sleep(0.2)
        assert ana.submit(REGION, loop, {"answer": "x"}).status_code == 303
    ana.open_task(REGION, mine)
    ben.open_task(REGION, theirs)

    listed = ana.task_list().text
    rows = dict(counts_rows(listed))
    # open for you, held by you, held by others, done by you today
    assert rows[first_name] == ["0", "0", "0", "2"]
    assert rows[other_name] == ["2", "1", "1", "0"]
    assert mine in listed and waiting in listed and theirs not in listed
    assert "2 task(s) waiting for you." in listed
    median = re.search(r"Today \(UTC\) you answered 2 tasks, ([\d.]+) s per task \(median\)", listed)
    assert median and 0.2 <= float(median.group(1)) < 30
    assert re.search(r'<button class="primary" type="submit" autofocus>Start working</button>', listed)


def counts_rows(page: str) -> list[tuple[str, list[str]]]:
    table = page.split('<table class="a2i-counts">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", table)
    return [(unescape(name), re.findall(r"<td class=a2i-number>(\d+)</td>", cells)) for name, cells in rows]


# Holds run out (an injected clock) ----------------------------------------------------------------------------

class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class LocalPortal:
    """A portal on a store of its own (no runtime: nothing is answered here) with one open task whose flow
    definition's TaskTimeLimitInSeconds is 60."""

    LOOP = "loop-1"

    def __init__(self, data_dir: Path) -> None:
        self.store = Store(data_dir / "state.sqlite3")
        self.accounts = Accounts(self.store)
        self.clock = Clock()
        self.portal = Portal(self.store, cast(Any, None), self.accounts, UrlSigner(b"k" * 32), clock=self.clock)
        ui_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-task-ui/ui-1"
        flow_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/flow-1"
        self.store.put_task_ui(NamedResource(REGION, "ui-1", ui_arn, TEMPLATE, 0.0))
        self.store.put_flow_definition(NamedResource(REGION, "flow-1", flow_arn, {"HumanLoopConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/reviewers",
            "HumanTaskUiArn": ui_arn, "TaskCount": 1, "TaskTimeLimitInSeconds": 60}}, 0.0))
        with self.store.transaction() as db:
            self.store.insert_loop(db, {
                "region": REGION, "name": self.LOOP, "arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-loop/loop-1",
                "flow_definition_arn": flow_arn, "input_content": json.dumps({"question": "Until when?"}),
                "data_attributes": None, "status": "InProgress", "creation_time": 0.0, "expires_at": None})

    def app(self, environ: dict, start_response: Any) -> Any:
        return self.portal(Request(environ))(environ, start_response)

    def worker(self, name: str) -> Client:
        browser = Client(self.app)
        credential = self.accounts.add_worker(name, "reviewers")[1]
        csrf = csrf_of(browser.get("/portal/login").text)
        assert browser.post("/portal/login", data={"__a2i_csrf": csrf, "name": name,
                                                   "credential": credential}).status_code == 303
        return browser


@pytest.fixture
def local_portal(tmp_path: Path) -> Iterator[LocalPortal]:
    made = LocalPortal(tmp_path)
    yield made
    made.store.close()


def test_a_hold_lasts_the_flow_definitions_task_time_limit_then_frees_the_task(local_portal: LocalPortal) -> None:
    task = f"/portal/tasks/{REGION}/{LocalPortal.LOOP}"
    ana, ben = local_portal.worker("ana"), local_portal.worker("ben")
    opened = ana.get(task)
    assert opened.status_code == 200
    assert "held for you until 13:47:40 UTC" in opened.text  # 1,000,000 s after the epoch, plus 60 s

    local_portal.clock.now += 59
    refused = ben.get(task)
    assert refused.status_code == 409 and "held by another worker until 13:47:40 UTC" in refused.text
    assert LocalPortal.LOOP not in ben.get("/portal/tasks").text

    local_portal.clock.now += 2  # Ana's time ran out: the task is the team's again
    assert LocalPortal.LOOP in ben.get("/portal/tasks").text
    taken = ben.get(task)
    assert taken.status_code == 200 and "held for you until 13:48:41 UTC" in taken.text
    assert ana.get(task).status_code == 409
