"""A day of reviewing in Chromium: the keyboard alone takes a worker through their queue, and a task page that is
left gives its task back (a reload keeps it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from tests.browser import save_screenshot
from tests.conftest import ACCOUNT, unique
from tests.flows import create_flow
from tests.loops import start_loop
from tests.portal_client import PortalClient, add_worker, signed_in_worker

if TYPE_CHECKING:
    from playwright.sync_api import Page

REGION = "us-east-1"
TEMPLATE = ("<crowd-form><p>{{ task.input.question }}</p>"
            "<crowd-input name='answer' label='Answer' required></crowd-input></crowd-form>")
# Ctrl+Enter in a text area submits and types no line break into the answer.
TEXT_AREA_TEMPLATE = ("<crowd-form><p>{{ task.input.question }}</p>"
                      "<crowd-text-area name='answer' label='Answer' required></crowd-text-area></crowd-form>")
WAIT_SECONDS = 30


def team_flow(output_bucket: str, team: str, name: str, template: str = TEMPLATE) -> str:
    return create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/queue-browser",
                       template=template, name=unique(name),
                       workteam_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{team}")


def log_in(page: Page, endpoint: str, team: str) -> None:
    name = unique("ana")
    credential = add_worker(None, name, team)
    page.goto(f"{endpoint}/portal/login")
    page.get_by_label("Worker name").fill(name)
    page.get_by_label("Credential").fill(credential)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/tasks")


def other_worker(endpoint: str, team: str) -> PortalClient:
    return signed_in_worker(endpoint, team, unique("ben"))


def tab_into_the_task(page: Page) -> None:
    """Tab past the portal's bars to the task's first field."""
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('main.a2i-task-page :is(input, textarea)')"):
            return
    raise AssertionError("Tab never reached the task's field")


def answers_of(endpoint: str, loop: str) -> list[dict]:
    return AdminClient(endpoint).request("GET", f"human-loops/{loop}")["humanLoops"][0]["answers"]


@pytest.mark.timeout(180)
def test_the_keyboard_alone_answers_the_queue_task_after_task(page: Page, local_service: str, portal_endpoint: str,
                                                              output_bucket: str) -> None:
    team = unique("team")
    invoices = team_flow(output_bucket, team, "invoices")
    receipts = team_flow(output_bucket, team, "receipts", TEXT_AREA_TEMPLATE)
    first = start_loop(invoices, {"question": "Invoice 17: what is the total?"}, prefix="invoice")
    third = start_loop(receipts, {"question": "Receipt 4: what is the total?"}, prefix="receipt")
    second = start_loop(invoices, {"question": "Invoice 18: what is the total?"}, prefix="invoice")
    held = start_loop(receipts, {"question": "Held by Ben"}, prefix="receipt")
    assert other_worker(portal_endpoint, team).open_task(REGION, held).status_code == 200

    log_in(page, portal_endpoint, team)
    save_screenshot(page, "portal-queue-list")
    assert held not in page.locator("main").inner_text()

    page.keyboard.press("Enter")  # "Start working" has the focus
    shown = []
    for loop, total in ((first, "12.50"), (second, "13.75"), (third, "4.20")):
        page.wait_for_url(f"**/portal/tasks/{REGION}/{loop}*")
        shown.append(page.locator(".a2i-left").inner_text())
        tab_into_the_task(page)
        page.keyboard.type(total)
        if loop == second:
            save_screenshot(page, "portal-queue-next")
        page.keyboard.press("Control+Enter")
    page.wait_for_url("**/portal/tasks?done=*")
    assert shown == ["3 tasks left", "2 tasks left", "1 task left"]
    assert "All done." in page.get_by_role("status").inner_text()
    counts = page.locator("table.a2i-counts").inner_text()
    assert "Today (UTC) you answered 3 tasks" in page.locator("main").inner_text()
    save_screenshot(page, "portal-queue-all-done")

    given = {loop: answers_of(local_service, loop)[0]["answer"] for loop in (first, second, third)}
    assert given == {first: {"answer": "12.50"}, second: {"answer": "13.75"}, third: {"answer": "4.20"}}
    assert answers_of(local_service, held) == []
    assert invoices.rsplit("/", 1)[-1] in counts and receipts.rsplit("/", 1)[-1] in counts


@pytest.mark.timeout(120)
def test_a_task_page_that_is_left_gives_the_task_back_and_a_reload_keeps_it(page: Page, portal_endpoint: str,
                                                                            output_bucket: str) -> None:
    team = unique("team")
    loop = start_loop(team_flow(output_bucket, team, "leaving"), {"question": "Leave me"}, prefix="leave")
    ben = other_worker(portal_endpoint, team)
    log_in(page, portal_endpoint, team)
    page.goto(f"{portal_endpoint}/portal/tasks/{REGION}/{loop}")
    assert ben.open_task(REGION, loop).status_code == 409

    # The page left sends its release, the reloaded one takes the hold again under a new name: whichever reaches the
    # service first, the hold stays. (Playwright does not report beacons: give this one time to arrive.)
    page.reload()
    page.locator(".a2i-left").wait_for()
    time.sleep(1)
    assert ben.open_task(REGION, loop).status_code == 409

    page.get_by_role("link", name="Tasks").focus()
    page.keyboard.press("Enter")  # leave for the task list
    page.wait_for_url("**/portal/tasks")
    deadline = time.monotonic() + WAIT_SECONDS
    while ben.open_task(REGION, loop).status_code != 200:
        assert time.monotonic() < deadline, "leaving the page did not release the task"
        time.sleep(0.1)
