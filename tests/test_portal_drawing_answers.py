"""The drawing elements' answers as the portal shapes them from a form post (airflow_a2i.local.portal.elements):
AWS's documented shapes (SageMaker Developer Guide, sms-ui-template-crowd-*), and refusals that say what to post."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_a2i.local.portal.elements import AnswerError
from airflow_a2i.local.portal.elements.drawing import MAX_SHAPES
from tests.test_portal_answers import answer, refused

Form = dict[str, list[str]]

POLYGON = '<crowd-polygon name="outline" labels="[\'cat\', \'dog\']" src="x.png"></crowd-polygon>'
LINE = '<crowd-line name="lanes" labels="[\'solid\']" src="x.png"></crowd-line>'
POLYLINE = '<crowd-polyline name="edges" labels="[\'edge\']" src="x.png"></crowd-polyline>'
SEMANTIC = '<crowd-semantic-segmentation name="cover" labels="[\'water\', \'field\']" src="x.png">' \
           '</crowd-semantic-segmentation>'
INSTANCES = '<crowd-instance-segmentation name="items" labels="[\'can\']" src="x.png"></crowd-instance-segmentation>'
BOXES = '<crowd-bounding-box name="boxes" labels="[\'car\']" src="x.png"></crowd-bounding-box>'
KEYPOINTS = '<crowd-keypoint name="points" labels="[\'nose\']" src="x.png"></crowd-keypoint>'
IMAGE = {"height": 2, "width": 3}


def png(width: int, height: int, *, color_type: int = 6, rows: bytes | None = None) -> bytes:
    """An 8-bit PNG (RGBA by default) of the given size, every pixel zero unless ``rows`` (filtered) are given."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    channels = {2: 3, 3: 1, 6: 4}[color_type]
    data = rows if rows is not None else b"".join(b"\0" + bytes(width * channels) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post(name: str, document: Any, **extra: list[str]) -> Form:
    return {name: [document if isinstance(document, str) else json.dumps(document)], **extra}




SEMANTIC_ANSWER = {"inputImageProperties": IMAGE, "labelMappings": {"water": {"color": "#1f77b4"}},
                   "labeledImage": {"pngImageData": b64(png(3, 2))}}
INSTANCE_ANSWER = {"inputImageProperties": IMAGE, "instances": [
    {"color": "#1f77b4", "label": "can"}, {"color": "#FF7F0E", "label": "can"}],
    "labeledImage": {"pngImageData": b64(png(3, 2, color_type=2))}}


@pytest.mark.parametrize(("html", "form", "expected"), [
    (POLYGON, post("outline", {"polygons": [{"label": "cat", "vertices": [
        {"x": 1.4, "y": 2.6}, {"x": 10, "y": 2}, {"x": 5, "y": 9, "z": 1}], "extra": True}],
        "inputImageProperties": IMAGE, "initialValueModified": False}),
     {"outline": {"polygons": [{"label": "cat", "vertices": [{"x": 1, "y": 3}, {"x": 10, "y": 2}, {"x": 5, "y": 9}]}],
                  "inputImageProperties": IMAGE, "initialValueModified": False}}),
    (LINE, post("lanes", {"lines": [{"label": "solid", "vertices": [{"x": 0, "y": 0}, {"x": 3, "y": 2}]}],
                          "inputImageProperties": IMAGE}),
     {"lanes": {"lines": [{"label": "solid", "vertices": [{"x": 0, "y": 0}, {"x": 3, "y": 2}]}],
                "inputImageProperties": IMAGE}}),
    (POLYLINE, post("edges", {"polylines": [], "inputImageProperties": IMAGE}),
     {"edges": {"polylines": [], "inputImageProperties": IMAGE}}),
    (POLYLINE, post("edges", ""), {}),  # nothing posted: absent
    (SEMANTIC, post("cover", SEMANTIC_ANSWER), {"cover": SEMANTIC_ANSWER}),
    (INSTANCES, post("items", INSTANCE_ANSWER), {"items": {**INSTANCE_ANSWER, "instances": [
        {"color": "#1f77b4", "label": "can"}, {"color": "#ff7f0e", "label": "can"}]}}),
    # labels a template's script set: checked against those the page posted, not the attribute's
    (POLYGON, post("outline", {"polygons": [{"label": "Coffee 3.50", "vertices": [{"x": 0, "y": 0}] * 3}],
                               "inputImageProperties": IMAGE}, **{"__a2i_labels:outline": ['["Coffee 3.50"]']}),
     {"outline": {"polygons": [{"label": "Coffee 3.50", "vertices": [{"x": 0, "y": 0}] * 3}],
                  "inputImageProperties": IMAGE}}),
    (BOXES, post("boxes", {"boundingBoxes": [{"label": "car", "left": 0, "top": 0, "width": 1, "height": 1}],
                           "inputImageProperties": IMAGE, "initialValueModified": True}),
     {"boxes": {"boundingBoxes": [{"height": 1, "label": "car", "left": 0, "top": 0, "width": 1}],
                "inputImageProperties": IMAGE, "initialValueModified": True}}),
    (KEYPOINTS, post("points", {"keypoints": [], "inputImageProperties": IMAGE}, **{"__a2i_labels:points": ["[]"]}),
     {"points": {"keypoints": [], "inputImageProperties": IMAGE}}),
], ids=["polygon", "line", "polyline, none drawn", "polyline, nothing posted", "semantic segmentation",
        "instance segmentation", "labels set by a script", "bounding box modified", "keypoint, labels emptied"])
def test_drawing_answers(html: str, form: Form, expected: dict[str, Any]) -> None:
    assert answer(html, form) == expected


def test_plain_inputs_named_like_a_drawing_element_leave_its_answer_alone() -> None:
    # AWS's hierarchical bounding box sample names its selects and a hidden input "_", as its crowd-bounding-box;
    # on the page the instructions (and the selects in them) come before the element's own field.
    page = ('<crowd-form><crowd-bounding-box name="_" labels="[\'car\']" src="x.png"><short-instructions>'
            '<select name="_"><option>car</option></select></short-instructions></crowd-bounding-box>'
            '<input type="hidden" name="_" value="_"></crowd-form>')
    boxes = {"boundingBoxes": [], "inputImageProperties": IMAGE}
    assert answer(page, {"_": ["car", json.dumps(boxes), "_"]}) == {"_": boxes}
    assert "is not JSON" in refused(page, {"_": ["car", "_"]})


def polygon_post(polygons: Any, **extra: list[str]) -> Form:
    return post("outline", {"polygons": polygons, "inputImageProperties": IMAGE}, **extra)


def semantic_post(png_data: str, mappings: Any = None, size: dict[str, int] = IMAGE) -> Form:
    return post("cover", {"inputImageProperties": size, "labeledImage": {"pngImageData": png_data},
                          "labelMappings": {"water": {"color": "#1f77b4"}} if mappings is None else mappings})


TRIANGLE = [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 0, "y": 1}]
GOOD_PNG = png(3, 2)


def damaged(data: bytes) -> bytes:
    """The PNG with one byte of its header changed (its CRC no longer matches)."""
    return data[:17] + bytes([data[17] ^ 1]) + data[18:]


@pytest.mark.parametrize(("html", "form", "says"), [
    (POLYGON, polygon_post([{"label": "bird", "vertices": TRIANGLE}]), "'bird' is not one of the labels of the "
     "crowd-polygon 'outline': post one of 'cat', 'dog'"),
    (POLYGON, polygon_post([{"label": "cat", "vertices": TRIANGLE[:2]}]), "has 2 vertices: post 3 to 5000"),
    (POLYGON, polygon_post([{"label": "cat"}]), "has no list of vertices"),
    (POLYGON, polygon_post([{"label": "cat", "vertices": [{"x": 0, "y": 0}, {"x": 1, "y": 1e400},
                                                           {"x": 2, "y": 2}]}]), "y inf"),
    (POLYGON, polygon_post([{"label": "cat", "vertices": TRIANGLE}] * (MAX_SHAPES + 1)), "post at most 2000"),
    (POLYGON, polygon_post([{"label": "Tea", "vertices": TRIANGLE}], **{"__a2i_labels:outline": ['["Coffee"]']}),
     "'Tea' is not one of the labels"),
    (POLYGON, polygon_post([], **{"__a2i_labels:outline": ["[1, 2]"]}), "is not a JSON list of strings"),
    (POLYGON, polygon_post([], **{"__a2i_labels:outline": [json.dumps(["x" * 300])]}), "longer than 256"),
    (POLYGON, post("outline", {"polygons": [], "inputImageProperties": IMAGE, "initialValueModified": "yes"}),
     "initialValueModified 'yes'"),
    (LINE, post("lanes", {"lines": [{"label": "solid", "vertices": TRIANGLE}], "inputImageProperties": IMAGE}),
     "has 3 vertices: post exactly 2"),
    (POLYLINE, post("edges", {"polylines": [{"label": "edge", "vertices": TRIANGLE[:1]}],
                              "inputImageProperties": IMAGE}), "has 1 vertices: post 2 to"),
    (POLYLINE, post("edges", {"polylines": []}), "has no inputImageProperties"),
    (BOXES, post("boxes", {"boundingBoxes": [{"label": "car", "left": 0, "top": 0, "width": -1, "height": 1}],
                           "inputImageProperties": IMAGE}), "negative height or width"),
    (SEMANTIC, semantic_post(b64(GOOD_PNG), {"sky": {"color": "#000000"}}), "'sky' is not one of the labels"),
    (SEMANTIC, semantic_post(b64(GOOD_PNG), {"water": {"color": "blue"}}), "is not a hex color: post \"#rrggbb\""),
    (SEMANTIC, semantic_post(b64(GOOD_PNG), {"water": {"color": "#1f77b4"}, "field": {"color": "#1F77B4"}}),
     "the color #1f77b4 stands for more than one label"),
    (SEMANTIC, semantic_post(b64(GOOD_PNG), ["water"]), "has no labelMappings object of objects"),
    (SEMANTIC, semantic_post("data:image/png;base64," + b64(GOOD_PNG)), "is not base64: post the PNG base64-encoded"),
    (SEMANTIC, semantic_post(b64(b"GIF89a" + bytes(20))), "is not a PNG"),
    (SEMANTIC, semantic_post(b64(png(4, 2))), "is 4x2 pixels, the image 3x2"),
    (SEMANTIC, semantic_post(b64(GOOD_PNG[:-12])), "has no IEND chunk"),
    (SEMANTIC, semantic_post(b64(GOOD_PNG[:40])), "cut short"),
    (SEMANTIC, semantic_post(b64(damaged(GOOD_PNG))), "has a damaged b'IHDR' chunk"),
    (SEMANTIC, semantic_post(b64(png(3, 2, rows=bytes(10)))), "does not hold 3x2 pixels of image data"),
    (SEMANTIC, semantic_post(b64(png(3, 2, rows=bytes(100)))), "does not hold 3x2 pixels"),
    (SEMANTIC, post("cover", {"inputImageProperties": IMAGE, "labelMappings": {}}), "no labeledImage.pngImageData"),
    (SEMANTIC, semantic_post(b64(png(3, 2, color_type=3))), "has no PLTE chunk"),
    (INSTANCES, post("items", {**INSTANCE_ANSWER, "instances": [{"color": "#1f77b4", "label": "can"}] * 2}),
     "stands for more than one label or instance"),
    (INSTANCES, post("items", {**INSTANCE_ANSWER, "instances": [{"color": "#1f77b4", "label": "jar"}]}),
     "'jar' is not one of the labels"),
])
def test_drawing_posts_refused(html: str, form: Form, says: str) -> None:
    assert says in refused(html, form)


def test_a_label_map_too_big_to_inflate_is_refused_without_inflating_it() -> None:
    # 3x2 declared, but the image data inflates to 50 MB: refused after reading just past the 3x2 rows' length.
    bomb = png(3, 2, rows=bytes(50 * 1024 * 1024))
    assert len(bomb) < 100_000
    assert "does not hold 3x2 pixels" in refused(SEMANTIC, semantic_post(b64(bomb)))


# Whatever a browser (or anyone holding a session) posts to a drawing element: an answer or a reason ---------------

DRAWING_PAGE = POLYGON + LINE + POLYLINE + SEMANTIC + INSTANCES
NAMES = st.sampled_from(["outline", "lanes", "edges", "cover", "items", "__a2i_labels:outline",
                         "__a2i_labels:cover"])
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["polygons", "lines", "polylines", "label", "vertices", "x", "y", "inputImageProperties",
                     "height", "width", "labelMappings", "color", "instances", "labeledImage", "pngImageData"]),
    inner, max_size=4), max_leaves=12)
VALUES = st.one_of(
    st.sampled_from(["", "[]", "{}", '["cat"]', json.dumps(SEMANTIC_ANSWER), json.dumps(INSTANCE_ANSWER),
                     json.dumps({"polygons": [{"label": "cat", "vertices": TRIANGLE}], "inputImageProperties": IMAGE}),
                     json.dumps({**SEMANTIC_ANSWER, "labeledImage": {"pngImageData": b64(GOOD_PNG[:50])}})]),
    st.builds(lambda value: json.dumps(value, allow_nan=True), JSON_VALUES),
)


@settings(max_examples=200)
@given(form=st.dictionaries(NAMES, st.lists(VALUES, min_size=1, max_size=2), max_size=5))
def test_any_drawing_post_gives_an_answer_or_a_reason(form: Form) -> None:
    try:
        shaped = answer(DRAWING_PAGE, form)
    except AnswerError as error:
        assert str(error)
        return
    json.dumps(shaped, allow_nan=False)  # finite numbers, JSON types only
    assert not any(key.startswith("__a2i_") for key in shaped)
