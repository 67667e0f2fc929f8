"""The portal's drawing elements in headless Chromium: the project's own task UIs (tests/templates/), rendered as
A2I renders them, answered with the mouse (and keyboard) as a worker would, and the answer the portal stores
checked against AWS's documented shape for each element (SageMaker Developer Guide, sms-ui-template-crowd-*).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from airflow_a2i.local.portal.rendering import render_template
from tests.browser import browser, save_screenshot  # noqa: F401 (browser: a fixture)
from tests.browser import page as browser_page  # noqa: F401 (the page fixture, under the name the Worker's uses)
from tests.test_portal_elements_browser import Worker, attr, near, site, worker  # noqa: F401

pytestmark = pytest.mark.timeout(90)

TEMPLATES = Path(__file__).parent / "templates"


def image_url(uri: str) -> str:
    """grant_read_access for these tests: ``s3://any/WIDTHxHEIGHT.png`` -> the test site's plain PNG of that size."""
    size = re.search(r"(\d+x\d+)\.png$", uri)
    assert size, uri
    return f"/img/{size[1]}.png"


def open_template(worker: Worker, name: str, task_input: dict[str, Any]) -> Any:
    rendered = render_template((TEMPLATES / f"{name}.liquid.html").read_text(), task_input, grant_read_access=image_url)
    page = worker.open(rendered)
    page.set_default_timeout(5000)
    page.wait_for_function("() => [...document.querySelectorAll('.a2i-stage img')].every((i) => i.naturalWidth > 0)")
    return page


def image_of(page: Any, tag: str, index: int = 0) -> Any:
    return page.locator(f"{tag} .a2i-stage img").nth(index)


def at(image: Any, point: tuple[float, float]) -> tuple[float, float]:
    """Where a point given as fractions of the displayed image is on the screen (scrolled into view first)."""
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]


def click_at(page: Any, image: Any, point: tuple[float, float]) -> None:
    page.mouse.click(*at(image, point))


def drag(page: Any, image: Any, *points: tuple[float, float]) -> None:
    """Press at the first point, move through the others, release at the last."""
    page.mouse.move(*at(image, points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(image, point), steps=4)
    page.mouse.up()


def assert_vertices(actual: list[dict[str, Any]], expected: list[tuple[float, float]]) -> None:
    assert len(actual) == len(expected), actual
    for vertex, (x, y) in zip(actual, expected, strict=True):
        assert sorted(vertex) == ["x", "y"] and isinstance(vertex["x"], int) and isinstance(vertex["y"], int)
        assert near(vertex["x"], x, 3) and near(vertex["y"], y, 3), (vertex, (x, y))


# --- crowd-polygon: custom labels (the element's labels property), drawing, closing, relabelling, deleting ---

def test_polygons_with_labels_the_worker_adds(worker: Worker) -> None:
    page = open_template(worker, "polygon-custom-labels",
                         {"receipt": "s3://receipts/800x500.png", "startLabels": ["placeholder"]})
    polygon = page.locator("crowd-polygon")
    assert page.evaluate("lineItems.labels") == []  # the template's script emptied them once the elements were ready
    image = image_of(page, "crowd-polygon")
    click_at(page, image, (0.1, 0.1))  # no label yet: nothing is drawn
    assert polygon.locator(".a2i-shape-line").count() == 0

    for item in ("Coffee 3.50", "Bagel 2.25", "Typo"):
        page.get_by_label("Item text").fill(item)
        page.get_by_role("button", name="Add item label").click()
    assert page.evaluate("lineItems.labels") == ["Coffee 3.50", "Bagel 2.25", "Typo"]
    assert polygon.get_by_role("radio").count() == 3  # the chooser follows the property

    # Coffee: four corners, closed by clicking the first corner again
    for point in ((0.1, 0.1), (0.5, 0.1), (0.5, 0.2), (0.1, 0.2), (0.1, 0.1)):
        click_at(page, image, point)
    # Bagel: three corners, closed with Enter
    polygon.get_by_label("Bagel 2.25").check()
    for point in ((0.1, 0.3), (0.6, 0.3), (0.6, 0.4)):
        click_at(page, image, point)
    page.keyboard.press("Enter")
    # Typo: drawn, then its label removed by the template: the polygon goes with it
    polygon.get_by_label("Typo").check()
    for point in ((0.7, 0.7), (0.9, 0.7), (0.9, 0.9)):
        click_at(page, image, point)
    page.keyboard.press("Enter")
    assert polygon.locator(".a2i-shape-row").count() == 3, page.evaluate("JSON.stringify(lineItems.value)")
    page.get_by_role("button", name="Remove Typo").click()
    assert polygon.locator(".a2i-shape-row").count() == 2

    # a third polygon, abandoned with Escape
    click_at(page, image, (0.2, 0.6))
    click_at(page, image, (0.3, 0.6))
    page.keyboard.press("Escape")
    page.get_by_label("Date on the receipt").fill("2024-05-17")
    save_screenshot(page, "portal-polygon")

    value = page.evaluate("lineItems.value")
    assert value["inputImageProperties"] == {"height": 500, "width": 800}
    assert [polygon["label"] for polygon in value["polygons"]] == ["Coffee 3.50", "Bagel 2.25"]
    assert_vertices(value["polygons"][0]["vertices"], [(80, 50), (400, 50), (400, 100), (80, 100)])
    assert_vertices(value["polygons"][1]["vertices"], [(80, 150), (480, 150), (480, 200)])

    form = worker.submit()
    assert json.loads(form["__a2i_labels:lineItems"][0]) == ["Coffee 3.50", "Bagel 2.25"]
    answer = worker.answer(form)
    assert answer == {"lineItems": value, "purchaseDate": "2024-05-17"}
    assert sorted(answer["lineItems"]) == ["inputImageProperties", "polygons"]  # AWS's shape, nothing more
