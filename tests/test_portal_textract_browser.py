"""A Textract review in headless Chromium: the project's Textract template rendered with the real A2I loop's input,
a worker adding the important key the machine missed, the selected pair outlined on the document, the keyboard
moving between pairs; then the answer merged into the machine's result as the results operator merges it.

The loop is the ``output.json`` of a real A2I human loop recorded by AWS (aws-samples/amazon-textract-response-parser,
Apache-2.0; ``tests/fixtures/a2i-textract-output.json``): A2I found "Policy Number:" missing
(MissingImportantFormKey) and asked about "Total" (low confidence); its worker added "Policy Number:" and
"Device ID:". Its document image is not published: the page drawn here has a dark bar where each WORD lies.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_a2i.local.portal.rendering import render_template
from airflow_a2i.request_sources import TEXTRACT_SOURCE
from airflow_a2i.results.built_in import built_in_answer, textract_fields
from airflow_a2i.results.output import parse_output
from airflow_a2i.results.summary import summarize, summary_facts
from demo.samples import png
from tests.browser import browser, save_screenshot  # noqa: F401 (browser: a fixture)
from tests.browser import page as browser_page  # noqa: F401 (a fixture, as in test_portal_elements_browser)
from tests.test_portal_elements_browser import Worker, site, worker  # noqa: F401 (site, worker: fixtures)

pytestmark = pytest.mark.timeout(60)

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = Path(__file__).parent / "templates" / "textract-key-value.liquid.html"
TOTAL_KEY = "efef5f95-e05c-476c-8251-6378c6d69001"
PAGE_SIZE = (850, 1100)
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return json.loads((FIXTURES / "a2i-textract-output.json").read_text())


def page_image(blocks: list[dict[str, Any]]) -> str:
    """A data: URL of a grayscale PNG page with a dark bar at each WORD block's BoundingBox."""
    width, height = PAGE_SIZE
    pixels = [bytearray(b"\xff" * width) for _ in range(height)]
    for block in blocks:
        box = block.get("geometry", {}).get("boundingBox")
        if block["blockType"] != "WORD" or not box:
            continue
        left, top = int(box["left"] * width), int(box["top"] * height)
        right, bottom = round((box["left"] + box["width"]) * width), round((box["top"] + box["height"]) * height)
        for y in range(top, min(bottom, height)):
            pixels[y][left:min(right, width)] = b"\x50" * (min(right, width) - left)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    return "data:image/png;base64," + base64.b64encode(png(width, height, raw)).decode()


def important_form_keys(recorded: dict[str, Any]) -> list[dict[str, Any]]:
    """``humanLoopContext.importantFormKeys`` as A2I gives it: the keys of the conditions that were true."""
    keys: dict[str, dict[str, Any]] = {}
    for condition in recorded["humanTaskActivationConditionResults"]["Conditions"][0]["Or"]:
        parameters = condition["ConditionParameters"]
        if condition["EvaluationResult"]:
            keys.setdefault(parameters["ImportantFormKey"], {
                "importantFormKey": parameters["ImportantFormKey"],
                "importantFormKeyAliases": parameters["ImportantFormKeyAliases"]})
    return list(keys.values())


def review_page(recorded: dict[str, Any], selected_blocks: list[dict[str, Any]], keys: list[Any]) -> str:
    """The project's Textract template rendered with the loop's input, the document granted as a data: URL."""
    task_input = {**recorded, "selectedAiServiceResponse": {"blocks": selected_blocks},
                  "humanLoopContext": {"importantFormKeys": keys}}
    image = page_image(recorded["aiServiceResponse"]["blocks"])
    return render_template(TEMPLATE.read_text(), task_input, grant_read_access=lambda location: image)


def image_content_box(page: Any) -> dict[str, float]:
    """Where the page image's pixels are drawn (inside its border), in CSS pixels."""
    return page.locator("crowd-textract-analyze-document img").evaluate("""image => {
        const rect = image.getBoundingClientRect();
        return {x: rect.x + image.clientLeft, y: rect.y + image.clientTop,
                width: image.clientWidth, height: image.clientHeight};
    }""")


def assert_drawn_at(page: Any, part: str, expected: dict[str, float]) -> None:
    """The selected pair's ``part`` box is drawn where its geometry (fractions of the page) puts it."""
    region = page.locator(f".a2i-region-{part}.a2i-selected")
    assert region.count() == 1 and region.is_visible()
    image, box = image_content_box(page), region.bounding_box()
    drawn = {"left": (box["x"] - image["x"]) / image["width"], "top": (box["y"] - image["y"]) / image["height"],
             "width": box["width"] / image["width"], "height": box["height"] / image["height"]}
    for side, size in (("left", "width"), ("top", "height"), ("width", "width"), ("height", "height")):
        assert drawn[side] == pytest.approx(expected[side], abs=0.75 / image[size]), (part, side, drawn, expected)


def polygon_bounds(block: dict[str, Any]) -> dict[str, float]:
    xs = [point["x"] for point in block["geometry"]["polygon"]]
    ys = [point["y"] for point in block["geometry"]["polygon"]]
    return {"left": min(xs), "top": min(ys), "width": max(xs) - min(xs), "height": max(ys) - min(ys)}


def test_worker_adds_the_missing_important_key_and_it_is_merged_as_an_added_field(
        worker: Worker, recorded: dict[str, Any]) -> None:  # noqa: F811 (the fixture imported above)
    keys = important_form_keys(recorded)
    assert [key["importantFormKey"] for key in keys] == ["Total:", "Policy Number:"]
    page = worker.open(review_page(recorded, recorded["selectedAiServiceResponse"]["blocks"], keys))
    page.wait_for_function("() => document.querySelector('crowd-textract-analyze-document img').naturalWidth > 0")

    rows = page.locator(".a2i-kv-table tbody tr")
    assert [rows.nth(index).locator(".a2i-kv-key").first.evaluate("node => node.value ?? node.textContent")
            for index in range(rows.count())] == ["Total", "Policy Number:"]
    assert "not found" in rows.nth(1).text_content()
    assert "The machine did not find “Policy Number:”." in page.text_content(
        "crowd-textract-analyze-document")
    # Total's blocks as A2I selected them carry only a Polygon: its bounds are outlined.
    page.get_by_label("Value for Total").click()
    by_id = {block["id"]: block for block in recorded["selectedAiServiceResponse"]["blocks"]}
    assert_drawn_at(page, "key", polygon_bounds(by_id[TOTAL_KEY]))
    assert_drawn_at(page, "value", polygon_bounds(by_id["5d2518f0-40e5-420f-b72e-3aae5c2425a1"]))

    page.get_by_label("Value for Policy Number:").fill("AG133441")
    assert page.locator(".a2i-region.a2i-selected").count() == 0  # an added pair has no place on the page yet
    page.get_by_role("button", name="Add a key-value pair").click()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Key of added pair 1"
    page.keyboard.type("Device ID:")
    page.get_by_label("Value of added pair 1").fill("424403233")
    page.get_by_role("button", name="Add a key-value pair").click()  # one more, left empty: not posted
    save_screenshot(page, "portal-textract-added-key")
    form = worker.submit()

    assert json.loads(form["__a2i_textract"][0]) == [
        {"keyBlockId": TOTAL_KEY, "value": "$148.99"},
        {"key": "Policy Number:", "value": "AG133441"},
        {"key": "Device ID:", "value": "424403233"},
    ]
    answer = worker.answer(form)
    blocks = answer[TEXTRACT_SOURCE]["blocks"]
    recorded_blocks = recorded["humanAnswers"][0]["answerContent"][TEXTRACT_SOURCE]["blocks"]
    # The blocks A2I wrote for the same work: Total as it was, then the added pairs' new blocks, the same in all
    # but their ids (which are new: uuid4, none of the machine's).
    assert blocks[:4] == recorded_blocks[10:]
    assert ids_renamed(blocks[4:]) == ids_renamed(recorded_blocks[:10])
    machine_ids = {block["id"] for block in recorded["aiServiceResponse"]["blocks"]}
    assert all(UUID4.fullmatch(block["id"]) and block["id"] not in machine_ids for block in blocks[4:])

    # The results reader and merge the results operator uses: the output.json with this answer.
    output = copy.deepcopy(recorded)
    output["humanAnswers"][0]["answerContent"] = answer
    loop = parse_output(output)
    merged = built_in_answer(loop.consolidate().consolidated, TEXTRACT_SOURCE)
    fields = textract_fields(loop.ai_service_response or {}, merged)
    assert [field for field in fields if field["added_by_reviewer"]] == [
        {"key": "Policy Number:", "machine_value": None, "machine_confidence": None, "human_value": "AG133441",
         "reviewed": True, "corrected": True, "added_by_reviewer": True},
        {"key": "Device ID:", "machine_value": None, "machine_confidence": None, "human_value": "424403233",
         "reviewed": True, "corrected": True, "added_by_reviewer": True}]
    row = {"human_loop_name": loop.human_loop_name, "status": "Completed", "output_error": None, "agreement": 1.0,
           "ties": [], "answers": [{"worker_id": "w", "time_spent_in_seconds": None}], "fields": fields}
    assert summarize([summary_facts(row)], "s3://results/run")["fields_added"] == 2


def ids_renamed(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks with each id replaced by its rank of first appearance: their shape and links, not their ids."""
    names: dict[str, str] = {}
    for block in blocks:
        names.setdefault(block["id"], f"#{len(names)}")
    text = json.dumps(blocks)
    for block_id, name in names.items():
        text = text.replace(json.dumps(block_id), json.dumps(name))
    return json.loads(text)


def test_selected_pair_is_outlined_and_the_arrow_keys_move_between_pairs(
        worker: Worker, recorded: dict[str, Any]) -> None:  # noqa: F811 (the fixture imported above)
    # Every pair of the machine's response (with BoundingBoxes), as a loop that samples whole documents shows it.
    machine_blocks = recorded["aiServiceResponse"]["blocks"]
    page = worker.open(review_page(recorded, machine_blocks, []))
    page.wait_for_function("() => document.querySelector('crowd-textract-analyze-document img').naturalWidth > 0")
    pairs = key_value_boxes(machine_blocks)
    rows = page.locator(".a2i-kv-table tbody tr")
    assert [rows.nth(index).locator(".a2i-kv-key").text_content() for index in range(rows.count())] == \
        [key for key, _, _ in pairs]
    assert page.locator(".a2i-region.a2i-selected").count() == 0  # nothing selected yet

    def assert_selected(index: int) -> None:
        key, key_box, value_box = pairs[index]
        assert page.locator("tr.a2i-selected .a2i-kv-key").text_content() == key
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Value for {key}"
        assert_drawn_at(page, "key", key_box)
        assert_drawn_at(page, "value", value_box)

    rows.nth(1).locator(".a2i-kv-value").click()
    assert_selected(1)
    page.keyboard.press("ArrowDown")
    assert_selected(2)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert_selected(4)
    page.keyboard.press("ArrowUp")
    assert_selected(3)
    page.mouse.move(0, 0)  # no pair hovered: only the selected one is outlined
    save_screenshot(page, "portal-textract-highlight")
    for _ in range(len(pairs) + 2):  # past either end the selection stays on the first or last pair
        page.keyboard.press("ArrowUp")
    assert_selected(0)
    for _ in range(len(pairs) + 2):
        page.keyboard.press("ArrowDown")
    assert_selected(len(pairs) - 1)
    # A click on a pair's box on the document selects that pair.
    page.locator(".a2i-region-value").nth(2).click(force=True)
    assert_selected(2)
    page.keyboard.press("End")
    page.keyboard.type(" (checked)")  # typing still goes into the value
    form = worker.submit()
    posted = {pair["value"] for pair in json.loads(form["__a2i_textract"][0])}
    assert f"{pairs_values(machine_blocks)[2]} (checked)" in posted


def key_value_boxes(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    """(key text, KEY BoundingBox, VALUE BoundingBox) of each KEY block, in the blocks' order."""
    by_id = {block["id"]: block for block in blocks}
    pairs = []
    for block in blocks:
        if block["blockType"] == "KEY_VALUE_SET" and "KEY" in block["entityTypes"]:
            value = by_id[related(block, "VALUE")[0]]
            key = " ".join(by_id[child]["text"] for child in related(block, "CHILD"))
            pairs.append((key, block["geometry"]["boundingBox"], value["geometry"]["boundingBox"]))
    return pairs


def pairs_values(blocks: list[dict[str, Any]]) -> list[str]:
    by_id = {block["id"]: block for block in blocks}
    return [" ".join(by_id[child]["text"] for child in related(by_id[related(block, "VALUE")[0]], "CHILD"))
            for block in blocks if block["blockType"] == "KEY_VALUE_SET" and "KEY" in block["entityTypes"]]


def related(block: dict[str, Any], kind: str) -> list[str]:
    return [block_id for relationship in block.get("relationships", []) if relationship["type"] == kind
            for block_id in relationship["ids"]]
