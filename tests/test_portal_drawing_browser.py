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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_a2i.local.admin_client import AdminClient
from airflow_a2i.local.portal.rendering import render_template
from tests.browser import browser, save_screenshot  # noqa: F401 (browser: a fixture)
from tests.browser import page as browser_page  # noqa: F401 (the page fixture, under the name the Worker's uses)
from tests.conftest import ACCOUNT, unique
from tests.flows import create_flow
from tests.loops import start_loop
from tests.test_portal_elements_browser import Site, Worker, attr, near, png, site  # noqa: F401 (site: a fixture)

pytestmark = pytest.mark.timeout(90)

TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture
def worker(browser_page: Any, site: Site) -> Iterator[Worker]:  # noqa: F811 (the fixtures imported above)
    opened = Worker(browser_page, site)
    yield opened
    assert not opened.errors, f"page errors: {opened.errors}"


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

    # a corner of the first polygon, selected by its border, dragged
    click_at(page, image, (0.3, 0.1))
    drag(page, image, (0.5, 0.2), (0.6, 0.25))
    # a third polygon, abandoned with Escape
    click_at(page, image, (0.2, 0.6))
    click_at(page, image, (0.3, 0.6))
    page.keyboard.press("Escape")
    page.get_by_label("Date on the receipt").fill("2024-05-17")
    save_screenshot(page, "portal-polygon")

    value = page.evaluate("lineItems.value")
    assert value["inputImageProperties"] == {"height": 500, "width": 800}
    assert [polygon["label"] for polygon in value["polygons"]] == ["Coffee 3.50", "Bagel 2.25"]
    assert_vertices(value["polygons"][0]["vertices"], [(80, 50), (400, 50), (480, 125), (80, 100)])
    assert_vertices(value["polygons"][1]["vertices"], [(80, 150), (480, 150), (480, 200)])

    form = worker.submit()
    assert json.loads(form["__a2i_labels:lineItems"][0]) == ["Coffee 3.50", "Bagel 2.25"]
    answer = worker.answer(form)
    assert answer == {"lineItems": value, "purchaseDate": "2024-05-17"}
    assert sorted(answer["lineItems"]) == ["inputImageProperties", "polygons"]  # AWS's shape, nothing more


# --- crowd-line and crowd-polyline: initial lines corrected, label colours, polylines finished three ways -----

def test_lines_from_initial_value_and_polylines(worker: Worker) -> None:
    model_lines = [{"label": "solid", "vertices": [{"x": 20, "y": 180}, {"x": 140, "y": 20}]},
                   {"label": "dashed", "vertices": [{"x": 300, "y": 180}, {"x": 180, "y": 20}]}]
    previous_edge = {"label": "left edge", "vertices": [{"x": 10, "y": 10}, {"x": 20, "y": 20}, {"x": 30, "y": 10}]}
    page = open_template(worker, "line-and-polyline", {
        "frame": "s3://frames/320x200.png", "markingLabels": ["solid", "dashed"], "modelLines": model_lines,
        "previousEdges": [previous_edge]})
    line = page.locator("crowd-line")
    assert line.locator(".a2i-shape-row").count() == 2
    # label-colors: the first label's lines are drawn in the first colour
    assert line.locator(".a2i-shape-line").first.evaluate("(node) => getComputedStyle(node).stroke") == \
        "rgb(255, 204, 0)"

    line.get_by_role("button", name="Delete line 2 (dashed)").click()
    line.get_by_label("Label of line 1 (solid)").select_option("dashed")
    line.get_by_label("solid", exact=True).check()
    lane = image_of(page, "crowd-line")
    click_at(page, lane, (0.5, 0.9))
    click_at(page, lane, (0.5, 0.3))  # the second click ends the line
    line.get_by_role("button", name="Select line 2 (solid)").click()
    page.keyboard.press("Shift+ArrowRight")  # the image is shown at its natural size: ten pixels

    edges = image_of(page, "crowd-polyline")
    polyline = page.locator("crowd-polyline")
    assert page.evaluate("roadEdges.value") == {"polylines": [previous_edge], "inputImageProperties": {
        "height": 200, "width": 320}, "initialValueModified": False}
    polyline.get_by_label("right edge", exact=True).check()
    for point in ((0.9, 0.9), (0.8, 0.5)):
        click_at(page, edges, point)
    page.mouse.dblclick(*at(edges, (0.7, 0.1)))  # a double-click places the last point and finishes
    polyline.get_by_label("left edge", exact=True).check()
    click_at(page, edges, (0.1, 0.9))
    click_at(page, edges, (0.3, 0.1))
    polyline.get_by_role("button", name="Finish polyline").click()
    for point in ((0.4, 0.8), (0.45, 0.7)):
        click_at(page, edges, point)
    page.keyboard.press("Enter")
    # select the fourth by clicking its border, then delete it with the keyboard
    click_at(page, edges, (0.425, 0.75))
    selected = polyline.get_by_role("button", name="polyline 4 (left edge)", exact=True)
    assert selected.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Delete")
    strokes = polyline.locator(".a2i-shape-line").evaluate_all("(ns) => ns.map((n) => getComputedStyle(n).stroke)")
    assert strokes == ["rgb(214, 39, 40)", "rgb(0, 0, 255)", "rgb(214, 39, 40)"]  # label-colors
    save_screenshot(page, "portal-line-polyline")

    form = worker.submit()
    answer = worker.answer(form)
    assert sorted(answer) == ["laneMarkings", "roadEdges"]
    lines = answer["laneMarkings"]
    assert sorted(lines) == ["initialValueModified", "inputImageProperties", "lines"]
    assert lines["initialValueModified"] is True and lines["inputImageProperties"] == {"height": 200, "width": 320}
    assert [item["label"] for item in lines["lines"]] == ["dashed", "solid"]
    assert lines["lines"][0]["vertices"] == model_lines[0]["vertices"]
    assert_vertices(lines["lines"][1]["vertices"], [(170, 180), (170, 60)])
    edges_answer = answer["roadEdges"]
    assert sorted(edges_answer) == ["initialValueModified", "inputImageProperties", "polylines"]
    assert edges_answer["initialValueModified"] is True
    assert [item["label"] for item in edges_answer["polylines"]] == ["left edge", "right edge", "left edge"]
    assert edges_answer["polylines"][0] == previous_edge
    assert_vertices(edges_answer["polylines"][1]["vertices"], [(288, 180), (256, 100), (224, 20)])
    assert_vertices(edges_answer["polylines"][2]["vertices"], [(32, 180), (96, 20)])
    assert json.loads(form["roadEdges"][0]) == edges_answer


# --- crowd-keypoint: the documented labels attribute, and a template that checks the value before submitting --

def test_keypoints_checked_by_the_template_before_submitting(worker: Worker) -> None:
    page = open_template(worker, "keypoint-validation", {
        "portrait": "s3://faces/320x200.png", "landmarks": ["left eye", "right eye", "nose"],
        "detected": [{"label": "nose", "x": 160, "y": 120}, {"label": "chin", "x": 160, "y": 190}]})
    keypoint = page.locator("crowd-keypoint")
    assert keypoint.locator(".a2i-point").count() == 1  # the chin is not a label of the task: not shown
    worker.assert_not_submitted(worker.click_submit)
    assert page.get_by_role("alert").inner_text() == "Place each of these exactly once: left eye, right eye"

    face = image_of(page, "crowd-keypoint")
    keypoint.get_by_label("left eye", exact=True).check()
    click_at(page, face, (0.4, 0.4))
    keypoint.get_by_label("right eye", exact=True).check()
    click_at(page, face, (0.6, 0.4))
    click_at(page, face, (0.7, 0.45))
    worker.assert_not_submitted(worker.click_submit)
    assert page.get_by_role("alert").inner_text() == "Place each of these exactly once: right eye"
    keypoint.get_by_role("button", name="Delete point 4 (right eye)").click()
    # the left eye, selected, dragged into place
    keypoint.get_by_role("button", name="Select point 2 (left eye)").click()
    drag(page, face, (0.4, 0.4), (0.35, 0.45))
    # a point selected on the image is relabelled in the list
    keypoint.get_by_role("button", name="Select point 1 (nose)").click()
    keypoint.get_by_label("Label of point 1 (nose)").select_option("nose")
    save_screenshot(page, "portal-keypoint")

    form = worker.submit()
    value = worker.answer(form)["faceLandmarks"]
    assert sorted(value) == ["inputImageProperties", "keypoints"]
    assert value["inputImageProperties"] == {"height": 200, "width": 320}
    assert [(point["label"], near(point["x"], x), near(point["y"], y)) for point, (x, y) in zip(
        value["keypoints"], [(160, 120), (112, 90), (192, 80)], strict=True)] == [
        ("nose", True, True), ("left eye", True, True), ("right eye", True, True)]


# --- crowd-bounding-box: labels a script adds, and a tree built from _submittableValue on submit --------------

def test_bounding_boxes_with_instances_a_script_adds(worker: Worker) -> None:
    page = open_template(worker, "bounding-box-hierarchy", {"photo": "s3://street/640x400.png"})
    boxes = page.locator("crowd-bounding-box")
    assert page.locator("#owner option").all_inner_texts() == ["vehicle #1"]
    page.locator("#kind").select_option("wheel")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.evaluate("boxes.labels") == ["vehicle #1", "vehicle #1 >> wheel #1", "vehicle #1 >> wheel #2"]

    photo = image_of(page, "crowd-bounding-box")
    drag(page, photo, (0.1, 0.2), (0.9, 0.8))
    boxes.get_by_label("vehicle #1 >> wheel #1").check()
    drag(page, photo, (0.15, 0.6), (0.3, 0.9))
    boxes.get_by_label("vehicle #1 >> wheel #2").check()
    drag(page, photo, (0.7, 0.9), (0.85, 0.6))  # dragged up and left: still a positive box
    click_at(page, photo, (0.5, 0.1))  # a click draws nothing
    assert boxes.locator(".a2i-box").count() == 3
    save_screenshot(page, "portal-bounding-box-hierarchy")

    form = worker.submit()
    assert len(form["_"]) == 3  # the two selects and the element's own field share the name
    answer = worker.answer(form)
    assert sorted(answer) == ["_", "vehicles"]
    drawn = answer["_"]
    assert sorted(drawn) == ["boundingBoxes", "inputImageProperties"]
    assert drawn["inputImageProperties"] == {"height": 400, "width": 640}
    assert [(box["label"], sorted(box)) for box in drawn["boundingBoxes"]] == [
        (label, ["height", "label", "left", "top", "width"])
        for label in ("vehicle #1", "vehicle #1 >> wheel #1", "vehicle #1 >> wheel #2")]
    for box, (left, top, width, height) in zip(drawn["boundingBoxes"], [
            (64, 80, 512, 240), (96, 240, 96, 120), (448, 240, 96, 120)], strict=True):
        assert all(near(box[key], want, 3) for key, want in
                   zip(("left", "top", "width", "height"), (left, top, width, height), strict=True)), box
    assert json.loads(answer["vehicles"]) == [
        {"name": "vehicle #1", "box": drawn["boundingBoxes"][0], "wheels": ["wheel #1", "wheel #2"]}]


def test_bounding_box_initial_value_adjusted(worker: Worker) -> None:
    initial = [{"label": "cat", "left": 100, "top": 120, "width": 200, "height": 150}]
    page = worker.open(f"""
      <crowd-form>
        <crowd-bounding-box name="annotatedResult" src="/img/1600x1200.png" header="Draw a box around each animal"
                            labels="['cat', 'dog']" initial-value="{attr(initial)}">
          <full-instructions header="Boxes">Draw tight boxes.</full-instructions>
          <short-instructions>Box every animal.</short-instructions>
        </crowd-bounding-box>
      </crowd-form>""")
    page.wait_for_function("document.querySelector('crowd-bounding-box img').naturalWidth > 0")
    image = image_of(page, "crowd-bounding-box")
    assert image.bounding_box()["width"] < 1600  # shown scaled down: answers must still be natural pixels
    assert page.evaluate("document.querySelector('crowd-bounding-box').value") == {
        "boundingBoxes": initial, "inputImageProperties": {"height": 1200, "width": 1600},
        "initialValueModified": False}
    page.get_by_label("dog", exact=True).check()
    drag(page, image, (0.5, 0.5), (0.75, 0.8))
    drag(page, image, (0.1, 0.6), (0.2, 0.7))
    page.get_by_label("Label of box 1 (cat)").select_option("dog")
    page.get_by_role("button", name="Select box 3 (dog)").click()  # its tag on the image
    page.keyboard.press("Delete")
    assert page.locator(".a2i-box").count() == 2
    page.get_by_role("button", name="Select box 2 (dog)").click()
    corner = page.locator(".a2i-corner-se")
    corner_box = corner.bounding_box()
    page.mouse.move(corner_box["x"] + 6, corner_box["y"] + 6)
    page.mouse.down()
    page.mouse.move(*at(image, (0.9, 0.9)), steps=4)  # the bottom-right corner, dragged
    page.mouse.up()
    page.get_by_role("button", name="Select box 1 (dog)").click()
    for _ in range(2):
        page.keyboard.press("Shift+ArrowDown")  # ten screen pixels each
    page.keyboard.press("ArrowLeft")
    scale = 1600 / image.bounding_box()["width"]
    save_screenshot(page, "portal-bounding-box")
    form = worker.submit()
    value = worker.answer(form)["annotatedResult"]
    assert value["initialValueModified"] is True
    assert [box["label"] for box in value["boundingBoxes"]] == ["dog", "dog"]
    moved = value["boundingBoxes"][0]
    assert near(moved["top"], 120 + 20 * scale) and near(moved["left"], 100 - scale)
    assert (moved["width"], moved["height"]) == (200, 150)
    resized = value["boundingBoxes"][1]
    assert near(resized["left"], 800) and near(resized["top"], 600)  # the top-left corner stayed
    assert near(resized["width"], 640, 3) and near(resized["height"], 480, 3)
    assert json.loads(form["annotatedResult"][0]) == value


# --- a template that lays a picture over the image, found through the element's shadow root ------------------

def test_a_label_map_laid_over_the_image_for_review(worker: Worker) -> None:
    page = open_template(worker, "segmentation-review-boxes", {
        "photo": "s3://birds/320x200.png", "labelMap": base64.b64encode(png(320, 200)).decode()})
    overlay = page.locator("#modelLabels")
    overlay.wait_for()
    photo = image_of(page, "crowd-bounding-box")
    laid, under = overlay.bounding_box(), photo.bounding_box()
    assert all(near(laid[key], under[key], 1) for key in ("x", "y", "width", "height")), (laid, under)
    assert overlay.evaluate("(node) => getComputedStyle(node).opacity") == "0.6"
    # the picture lets the mouse through: boxes are drawn as on the bare image
    drag(page, photo, (0.1, 0.1), (0.3, 0.4))
    form = worker.submit()
    answer = worker.answer(form)
    assert answer["overlayOpacity"] == 60
    [box] = answer["wrongRegions"]["boundingBoxes"]
    assert box["label"] == "wrong label" and near(box["left"], 32, 3) and near(box["height"], 60, 3)


# --- segmentation: the PNG label map, read back pixel by pixel ------------------------------------------------

def png_pixels(data: str) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of a base64 8-bit palette or RGBA PNG, decoded here."""
    raw = base64.b64decode(data, validate=True)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    at, chunks = 8, {}
    while at < len(raw):
        length, kind = struct.unpack(">I4s", raw[at:at + 8])
        chunks[kind] = chunks.get(kind, b"") + raw[at + 8:at + 8 + length]
        at += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and color_type in (3, 6)
    rows = zlib.decompress(chunks[b"IDAT"])
    channels = 4 if color_type == 6 else 1
    stride, previous, samples = width * channels, bytearray(width * channels), []
    for y in range(height):
        kind, line = rows[y * (stride + 1)], bytearray(rows[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - up_left
                best = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - up_left), 2, up_left))
                line[i] = (line[i] + best[2]) & 255
        samples.extend(line)
        previous = line
    if color_type == 6:
        return width, height, [tuple(samples[i:i + 4]) for i in range(0, len(samples), 4)]
    palette, alpha = chunks[b"PLTE"], chunks.get(b"tRNS", b"")
    colors = [(*palette[i * 3:i * 3 + 3], alpha[i] if i < len(alpha) else 255) for i in range(len(palette) // 3)]
    return width, height, [colors[index] if colors[index][3] else TRANSPARENT for index in samples]


def label_maps_saved(page: Any) -> None:
    """Wait until every segmentation element has encoded its latest label map (the form waits for it too)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.a2i-pending-guard')].every((guard) => guard.validity.valid)")


def rgba(hex_color: str) -> tuple[int, int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16), 255


TRANSPARENT = (0, 0, 0, 0)


def test_semantic_segmentation_corrects_a_prior_label_map(worker: Worker) -> None:
    # The prior map is the test site's plain image, all #c8dcf0: mapped to "field", every pixel starts as field.
    page = open_template(worker, "semantic-segmentation", {
        "aerialPhoto": "s3://survey/320x200.png", "classes": ["water", "forest", "field"],
        "priorLabelMap": "s3://survey/labels/320x200.png", "priorColors": [{"label": "field", "color": "#c8dcf0"}]})
    segmentation = page.locator("crowd-semantic-segmentation")
    segmentation.get_by_text("Painted: field.").wait_for()
    photo = image_of(page, "crowd-semantic-segmentation")
    drag(page, photo, (0.2, 0.5), (0.4, 0.5))  # water, with the default brush (12 pixels across)
    segmentation.get_by_label("forest").check()
    drag(page, photo, (0.6, 0.2), (0.6, 0.3))
    segmentation.get_by_label("Eraser").check()
    drag(page, photo, (0.85, 0.8), (0.95, 0.8))
    segmentation.get_by_text("Painted: water, forest, field.").wait_for()
    save_screenshot(page, "portal-semantic-segmentation")
    label_maps_saved(page)

    form = worker.submit()
    value = worker.answer(form)["landCover"]
    assert sorted(value) == ["initialValueModified", "inputImageProperties", "labelMappings", "labeledImage"]
    assert value["initialValueModified"] is True
    assert value["inputImageProperties"] == {"height": 200, "width": 320}
    assert value["labelMappings"] == {"water": {"color": "#1f77b4"}, "forest": {"color": "#ff7f0e"},
                                      "field": {"color": "#c8dcf0"}}
    width, height, pixels = png_pixels(value["labeledImage"]["pngImageData"])
    assert (width, height) == (320, 200)

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        return pixels[y * width + x]

    assert pixel(96, 100) == pixel(64, 100) == pixel(128, 100) == rgba("#1f77b4")  # along the water stroke
    assert pixel(192, 50) == rgba("#ff7f0e")
    assert pixel(288, 160) == TRANSPARENT  # erased
    assert pixel(10, 10) == pixel(310, 190) == rgba("#c8dcf0")  # the prior map's field, untouched
    # exactly the mapped colours (or nothing): no blended edge pixels
    assert set(pixels) == {rgba("#1f77b4"), rgba("#ff7f0e"), rgba("#c8dcf0"), TRANSPARENT}


def test_segmentation_colours_stay_one_per_label(worker: Worker) -> None:
    # The prior job gave "field" the colour the palette would give "water" first, and "forest" field's colour.
    page = open_template(worker, "semantic-segmentation", {
        "aerialPhoto": "s3://survey/320x200.png", "classes": ["water", "forest", "field"],
        "priorLabelMap": "s3://survey/labels/320x200.png",
        "priorColors": [{"label": "field", "color": "#1f77b4"}, {"label": "forest", "color": "#1F77B4"}]})
    page.get_by_text("Nothing painted yet.").wait_for()  # no pixel of the prior map has a mapped colour
    page.evaluate("document.querySelector('crowd-semantic-segmentation').labels = ['water', 'forest', 'field', 'road']")
    mappings = page.evaluate("document.querySelector('crowd-semantic-segmentation').value.labelMappings")
    assert mappings["field"] == {"color": "#1f77b4"}
    colors = [mapping["color"] for mapping in mappings.values()]
    assert list(mappings) == ["water", "forest", "field", "road"] and len(set(colors)) == 4


def test_instance_segmentation_with_kinds_the_worker_names(worker: Worker) -> None:
    page = open_template(worker, "instance-segmentation-custom-labels", {
        "shelfPhoto": "s3://shop/320x200.png", "knownKinds": ["cereal"]})
    segmentation = page.locator("crowd-instance-segmentation")
    page.get_by_label("Kind of product").fill("soup")
    page.get_by_role("button", name="Add kind").click()
    assert page.evaluate("shelf.labels") == ["cereal", "soup"]
    photo = image_of(page, "crowd-instance-segmentation")

    segmentation.get_by_role("button", name="Add instance").click()  # cereal #1
    drag(page, photo, (0.1, 0.2), (0.2, 0.2))
    segmentation.get_by_role("button", name="Add instance").click()  # cereal #2
    drag(page, photo, (0.4, 0.2), (0.5, 0.2))
    segmentation.get_by_label("soup", exact=True).check()
    drag(page, photo, (0.7, 0.7), (0.8, 0.7))  # the first stroke of a kind starts its first instance
    segmentation.get_by_label("Label of cereal #2").select_option("soup")
    segmentation.get_by_role("button", name="Delete cereal #1").click()  # and its pixels
    save_screenshot(page, "portal-instance-segmentation")
    label_maps_saved(page)

    form = worker.submit()
    value = worker.answer(form)["shelfItems"]
    assert sorted(value) == ["inputImageProperties", "instances", "labeledImage"]
    assert value["instances"] == [{"color": "#ff7f0e", "label": "soup"}, {"color": "#2ca02c", "label": "soup"}]
    width, _, pixels = png_pixels(value["labeledImage"]["pngImageData"])
    assert pixels[40 * width + 48] == TRANSPARENT  # cereal #1, deleted
    assert pixels[40 * width + 144] == rgba("#ff7f0e")
    assert pixels[140 * width + 240] == rgba("#2ca02c")
    assert set(pixels) == {rgba("#ff7f0e"), rgba("#2ca02c"), TRANSPARENT}


# --- the JavaScript API before the elements are defined or attached -----------------------------------------

def test_properties_set_before_the_element_renders(worker: Worker) -> None:
    page = worker.open("""
      <crowd-form>
        <crowd-polygon id="early" name="early" src="/img/320x200.png" labels="['from the attribute']"></crowd-polygon>
        <div id="later"></div>
      </crowd-form>
      <script>
        // Runs while the page is parsed: crowd-polygon is not defined yet.
        early.labels = ['set', 'before', 'definition'];
        document.addEventListener('all-crowd-elements-ready', function () {
          var line = document.createElement('crowd-line');
          line.setAttribute('name', 'late');
          line.setAttribute('src', '/img/320x200.png');
          line.labels = ['set before attaching'];
          line.initialValue = {lines: [{label: 'set before attaching', vertices: [{x: 1, y: 2}, {x: 3, y: 4}]}]};
          later.appendChild(line);
        });
      </script>""")
    page.wait_for_function("() => [...document.querySelectorAll('.a2i-stage img')].every((i) => i.naturalWidth > 0)")
    assert page.evaluate("early.labels") == ["set", "before", "definition"]
    assert page.locator("crowd-polygon .a2i-choice").all_inner_texts() == ["set", "before", "definition"]
    assert page.evaluate("document.querySelector('crowd-line').labels") == ["set before attaching"]
    form = worker.submit()
    # an element the template's markup does not have is not known to the server: its JSON is kept as posted
    assert json.loads(worker.answer(form)["late"]) == {
        "lines": [{"label": "set before attaching", "vertices": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}],
        "inputImageProperties": {"height": 200, "width": 320}, "initialValueModified": False}
    assert json.loads(form["__a2i_labels:early"][0]) == ["set", "before", "definition"]


# --- through the local service: the answer A2I's output.json holds -----------------------------------------

@pytest.mark.timeout(300)
def test_a_segmentation_answered_on_the_portal_is_stored_in_output_json(
        browser_page: Any, local_service: str, portal_endpoint: str, output_bucket: str) -> None:  # noqa: F811
    s3 = boto3.client("s3")
    for key in ("survey/photo.png", "survey/prior.png"):  # the prior map: all #c8dcf0, mapped to "field"
        s3.put_object(Bucket=output_bucket, Key=key, Body=png(320, 200), ContentType="image/png")
    team = unique("surveyors")
    flow_arn = create_flow(boto3.client("sagemaker"), output_path=f"s3://{output_bucket}/drawing",
                           workteam_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/{team}",
                           template=(TEMPLATES / "semantic-segmentation.liquid.html").read_text())
    name = start_loop(flow_arn, {
        "aerialPhoto": f"s3://{output_bucket}/survey/photo.png", "classes": ["water", "forest", "field"],
        "priorLabelMap": f"s3://{output_bucket}/survey/prior.png",
        "priorColors": [{"label": "field", "color": "#c8dcf0"}]})
    worker_name = unique("ana")
    credential = AdminClient(local_service).add_worker(worker_name, team)["credential"]

    page = browser_page
    page.set_default_timeout(10_000)
    page.goto(f"{portal_endpoint}/portal/tasks")
    page.get_by_label("Worker name").fill(worker_name)
    page.get_by_label("Credential").fill(credential)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{portal_endpoint}/portal/tasks/us-east-1/{name}")
    segmentation = page.locator("crowd-semantic-segmentation")
    segmentation.get_by_text("Painted: field.").wait_for()  # the prior map, read through the portal's signed link
    drag(page, image_of(page, "crowd-semantic-segmentation"), (0.2, 0.5), (0.4, 0.5))
    label_maps_saved(page)
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_url("**/portal/tasks?done=*")

    described = boto3.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=name)
    assert described["HumanLoopStatus"] == "Completed", described
    bucket, key = described["HumanLoopOutput"]["OutputS3Uri"][5:].split("/", 1)
    stored = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["humanAnswers"][0]["answerContent"]
    value = stored["landCover"]
    assert sorted(stored) == ["landCover"]
    assert sorted(value) == ["initialValueModified", "inputImageProperties", "labelMappings", "labeledImage"]
    assert value["labelMappings"]["water"] == {"color": "#1f77b4"} and value["initialValueModified"] is True
    width, height, pixels = png_pixels(value["labeledImage"]["pngImageData"])
    assert (width, height) == (320, 200)
    assert pixels[100 * width + 96] == rgba("#1f77b4") and pixels[10 * width + 10] == rgba("#c8dcf0")
