"""
The image annotation elements' answers: boxes, keypoints, polygons, lines, polylines (coordinates in the image's
natural pixels, rounded to int as A2I writes them) and the segmentation elements' PNG label maps.

Labels are checked against the element's ``labels`` attribute or, when a template's script set the element's
``labels`` property, against the labels the page posted under ``__a2i_labels:NAME``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from airflow_a2i.local.portal.elements.found import Element, _first, _one_of
from airflow_a2i.local.portal.elements.literals import LABELS_PREFIX, AnswerError
from airflow_a2i.local.portal.elements.shapers import _ABSENT, _element_labels, _json_label, _json_list, _posted_json

#: At most this many shapes per element, and vertices per shape: far above what a person draws on one image.
MAX_SHAPES = 2000
MAX_VERTICES = 5000
#: Labels a script may give an element, and their length.
MAX_LABELS = 500
MAX_LABEL_CHARS = 256
#: A label map's image: at most this many pixels (a 100-megapixel photo).
MAX_PIXELS = 100_000_000
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type -> samples per pixel; the bit depths each allows.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}

_IMAGE = '"inputImageProperties": {"height", "width"}'
_BOXES = '{"boundingBoxes": [{"height", "label", "left", "top", "width"}], ' + _IMAGE + "}"
_KEYPOINTS = '{"keypoints": [{"label", "x", "y"}], ' + _IMAGE + "}"
_POLYGONS = '{"polygons": [{"label", "vertices": [{"x", "y"}, ...]}], ' + _IMAGE + "}"
_LINES = '{"lines": [{"label", "vertices": [{"x", "y"}, {"x", "y"}]}], ' + _IMAGE + "}"
_POLYLINES = '{"polylines": [{"label", "vertices": [{"x", "y"}, ...]}], ' + _IMAGE + "}"
_SEMANTIC = ('{"labeledImage": {"pngImageData": "<base64 PNG>"}, "labelMappings": {"<label>": {"color": "#rrggbb"}}, '
             + _IMAGE + "}")
_INSTANCES = ('{"labeledImage": {"pngImageData": "<base64 PNG>"}, "instances": [{"color": "#rrggbb", "label"}], '
              + _IMAGE + "}")


# --- what every drawing element shares ------------------------------------------------------------------------

def _allowed_labels(element: Element, form: Mapping[str, list[str]]) -> list[str] | None:
    """The labels a worker could choose: those a script set (posted under ``__a2i_labels:NAME``), else the
    ``labels`` attribute's; None when the element has neither (any label)."""
    posted = _first(form, LABELS_PREFIX + element.name)
    if posted is None:
        return _element_labels(element)
    try:
        labels = json.loads(posted)
    except (ValueError, RecursionError):
        labels = None
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise AnswerError(f"{LABELS_PREFIX}{element.name} posted for {element.describe()} is not a JSON list of "
                          f"strings: post the labels the element offered, as JSON")
    if len(labels) > MAX_LABELS or any(len(label) > MAX_LABEL_CHARS for label in labels):
        raise AnswerError(f"{LABELS_PREFIX}{element.name} posted for {element.describe()} has more than {MAX_LABELS} "
                          f"labels or a label longer than {MAX_LABEL_CHARS} characters: post fewer, shorter labels")
    return labels


def _json_number(item: dict[str, Any], key: str, element: Element) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AnswerError(f"{key} {value!r} in the JSON posted for {element.describe()} is not a number: "
                          f"post a number for every {key}")
    return round(value)


def _image_properties(document: dict[str, Any], element: Element, shape: str) -> dict[str, int]:
    properties = document.get("inputImageProperties")
    if not isinstance(properties, dict):
        raise AnswerError(f"the JSON posted for {element.describe()} has no inputImageProperties object: "
                          f"post {shape}")
    size = {key: _json_number(properties, key, element) for key in ("height", "width")}
    if size["height"] < 0 or size["width"] < 0:
        raise AnswerError(f"the inputImageProperties posted for {element.describe()} have a negative size: post "
                          f"the image's natural height and width")
    return size


def _shapes(document: dict[str, Any], key: str, element: Element, shape: str) -> list[dict[str, Any]]:
    items = _json_list(document, key, element, shape)
    if len(items) > MAX_SHAPES:
        raise AnswerError(f"the JSON posted for {element.describe()} has {len(items)} {key}: post at most "
                          f"{MAX_SHAPES}")
    return items


def _with_modified_flag(answer: dict[str, Any], document: dict[str, Any], element: Element) -> dict[str, Any]:
    """``initialValueModified``, which A2I adds when the element started from an ``initial-value``."""
    if "initialValueModified" not in document:
        return answer
    modified = document["initialValueModified"]
    if not isinstance(modified, bool):
        raise AnswerError(f"initialValueModified {modified!r} in the JSON posted for {element.describe()} is not "
                          f"true or false: post a boolean")
    return {**answer, "initialValueModified": modified}


# --- boxes and points ------------------------------------------------------------------------------------------

def _bounding_box(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _BOXES)
    if document is _ABSENT:
        return _ABSENT
    labels = _allowed_labels(element, form)
    boxes = []
    for box in _shapes(document, "boundingBoxes", element, _BOXES):
        height, width = _json_number(box, "height", element), _json_number(box, "width", element)
        if height < 0 or width < 0:
            raise AnswerError(f"a box posted for {element.describe()} has a negative height or width: post its "
                              f"top-left corner and a positive size")
        boxes.append({"height": height, "label": _json_label(box, element, labels),
                      "left": _json_number(box, "left", element), "top": _json_number(box, "top", element),
                      "width": width})
    answer = {"boundingBoxes": boxes, "inputImageProperties": _image_properties(document, element, _BOXES)}
    return _with_modified_flag(answer, document, element)


def _keypoint(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _KEYPOINTS)
    if document is _ABSENT:
        return _ABSENT
    labels = _allowed_labels(element, form)
    points = [{"label": _json_label(point, element, labels), "x": _json_number(point, "x", element),
               "y": _json_number(point, "y", element)}
              for point in _shapes(document, "keypoints", element, _KEYPOINTS)]
    return {"keypoints": points, "inputImageProperties": _image_properties(document, element, _KEYPOINTS)}


# --- polygons, lines and polylines: labelled lists of vertices ------------------------------------------------

def _vertices(item: dict[str, Any], element: Element, kind: str, counts: tuple[int, int], shape: str) -> list[dict]:
    vertices = item.get("vertices")
    if not isinstance(vertices, list) or not all(isinstance(vertex, dict) for vertex in vertices):
        raise AnswerError(f"a {kind} posted for {element.describe()} has no list of vertices: post {shape}")
    fewest, most = counts
    if not fewest <= len(vertices) <= most:
        wanted = f"exactly {fewest}" if fewest == most else f"{fewest} to {most}"
        raise AnswerError(f"a {kind} posted for {element.describe()} has {len(vertices)} vertices: post {wanted}")
    return [{"x": _json_number(vertex, "x", element), "y": _json_number(vertex, "y", element)} for vertex in vertices]


def _vertex_shapes(element: Element, form: Mapping[str, list[str]], key: str, counts: tuple[int, int],
                   shape: str) -> Any:
    document = _posted_json(element, form, shape)
    if document is _ABSENT:
        return _ABSENT
    labels = _allowed_labels(element, form)
    kind = key.removesuffix("s")
    shapes = [{"label": _json_label(item, element, labels), "vertices": _vertices(item, element, kind, counts, shape)}
              for item in _shapes(document, key, element, shape)]
    answer = {key: shapes, "inputImageProperties": _image_properties(document, element, shape)}
    return _with_modified_flag(answer, document, element)


def _polygon(element: Element, form: Mapping[str, list[str]]) -> Any:
    return _vertex_shapes(element, form, "polygons", (3, MAX_VERTICES), _POLYGONS)


def _line(element: Element, form: Mapping[str, list[str]]) -> Any:
    return _vertex_shapes(element, form, "lines", (2, 2), _LINES)


def _polyline(element: Element, form: Mapping[str, list[str]]) -> Any:
    return _vertex_shapes(element, form, "polylines", (2, MAX_VERTICES), _POLYLINES)


# --- segmentation: a PNG label map and the colours in it ------------------------------------------------------

def _color(value: Any, element: Element, where: str) -> str:
    if not isinstance(value, str) or not _COLOR.fullmatch(value):
        raise AnswerError(f"the color {value!r} of {where} posted for {element.describe()} is not a hex color: "
                          f"post \"#rrggbb\"")
    return value.lower()


def _png_chunks(data: bytes, element: Element) -> list[tuple[bytes, bytes]]:
    chunks: list[tuple[bytes, bytes]] = []
    at = len(_PNG_SIGNATURE)
    while at < len(data):
        if at + 12 > len(data):
            raise AnswerError(f"the PNG posted for {element.describe()} is cut short: post the whole label map")
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length] or b"\0\0\0\0")
        if len(body) != length or zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise AnswerError(f"the PNG posted for {element.describe()} has a damaged {kind!r} chunk: post the label "
                              f"map as the browser encoded it")
        chunks.append((kind, body))
        at += 12 + length
        if kind == b"IEND":
            return chunks
    raise AnswerError(f"the PNG posted for {element.describe()} has no IEND chunk: post the whole label map")


def _check_pixels(chunks: list[tuple[bytes, bytes]], header: bytes, element: Element) -> None:
    """The image data inflates to exactly the rows the header promises (inflated in pieces, never past that)."""
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if interlace != 0:
        raise AnswerError(f"the PNG posted for {element.describe()} is interlaced: post a plain PNG, as a canvas "
                          f"encodes it")
    expected = height * (1 + math.ceil(width * _PNG_CHANNELS[color_type] * depth / 8))
    inflater = zlib.decompressobj()
    total = 0
    try:
        for body in (body for kind, body in chunks if kind == b"IDAT"):
            while body and total <= expected:
                total += len(inflater.decompress(body, 1 << 20))
                body = inflater.unconsumed_tail
    except zlib.error:
        raise AnswerError(f"the PNG posted for {element.describe()} has image data that does not inflate: post the "
                          f"label map as the browser encoded it") from None
    if total != expected or not inflater.eof:
        raise AnswerError(f"the PNG posted for {element.describe()} does not hold {width}x{height} pixels of image "
                          f"data: post the whole label map")


def _png_label_map(document: dict[str, Any], size: dict[str, int], element: Element, shape: str) -> str:
    """The base64 PNG of ``labeledImage``, checked to be a PNG of the annotated image's size."""
    labeled = document.get("labeledImage")
    text = labeled.get("pngImageData") if isinstance(labeled, dict) else None
    if not isinstance(text, str):
        raise AnswerError(f"the JSON posted for {element.describe()} has no labeledImage.pngImageData string: "
                          f"post {shape}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AnswerError(f"labeledImage.pngImageData posted for {element.describe()} is not base64: post the PNG "
                          f"base64-encoded, without a data: prefix") from None
    if not data.startswith(_PNG_SIGNATURE):
        raise AnswerError(f"labeledImage.pngImageData posted for {element.describe()} is not a PNG: post the label "
                          f"map as a PNG")
    chunks = _png_chunks(data, element)
    kind, header = chunks[0]
    if kind != b"IHDR" or len(header) != 13:
        raise AnswerError(f"the PNG posted for {element.describe()} does not start with its header: post a PNG")
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    if (width, height) != (size["width"], size["height"]):
        raise AnswerError(f"the PNG posted for {element.describe()} is {width}x{height} pixels, the image "
                          f"{size['width']}x{size['height']}: post a label map of the image's size")
    if width * height > MAX_PIXELS or depth not in _PNG_DEPTHS.get(color_type, ()):
        raise AnswerError(f"the PNG posted for {element.describe()} has {width}x{height} pixels of depth {depth} "
                          f"and colour type {color_type}: post a palette or RGB(A) PNG of at most {MAX_PIXELS} "
                          f"pixels")
    if color_type == 3 and not any(kind == b"PLTE" for kind, _ in chunks):
        raise AnswerError(f"the palette PNG posted for {element.describe()} has no PLTE chunk: post its palette")
    _check_pixels(chunks, header, element)
    return text


def _semantic_segmentation(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _SEMANTIC)
    if document is _ABSENT:
        return _ABSENT
    labels = _allowed_labels(element, form)
    mappings = document.get("labelMappings")
    if not isinstance(mappings, dict) or not all(isinstance(value, dict) for value in mappings.values()):
        raise AnswerError(f"the JSON posted for {element.describe()} has no labelMappings object of objects: "
                          f"post {_SEMANTIC}")
    shaped: dict[str, dict[str, str]] = {}
    for label, mapping in mappings.items():
        if labels is not None:
            _one_of(element, label, labels, "labels")
        shaped[label] = {"color": _color(mapping.get("color"), element, f"the label {label!r}")}
    _distinct_colors([mapping["color"] for mapping in shaped.values()], element)
    size = _image_properties(document, element, _SEMANTIC)
    answer = {"inputImageProperties": size, "labelMappings": shaped,
              "labeledImage": {"pngImageData": _png_label_map(document, size, element, _SEMANTIC)}}
    return _with_modified_flag(answer, document, element)


def _instance_segmentation(element: Element, form: Mapping[str, list[str]]) -> Any:
    document = _posted_json(element, form, _INSTANCES)
    if document is _ABSENT:
        return _ABSENT
    labels = _allowed_labels(element, form)
    instances = [{"color": _color(instance.get("color"), element, f"instance {index + 1}"),
                  "label": _json_label(instance, element, labels)}
                 for index, instance in enumerate(_shapes(document, "instances", element, _INSTANCES))]
    _distinct_colors([instance["color"] for instance in instances], element)
    size = _image_properties(document, element, _INSTANCES)
    return {"inputImageProperties": size, "instances": instances,
            "labeledImage": {"pngImageData": _png_label_map(document, size, element, _INSTANCES)}}


def _distinct_colors(colors: list[str], element: Element) -> None:
    repeated = sorted(color for color, count in Counter(colors).items() if count > 1)
    if repeated:
        raise AnswerError(f"the color {repeated[0]} stands for more than one label or instance in the JSON posted "
                          f"for {element.describe()}: post one color each")
