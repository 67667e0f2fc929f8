"""
The server side of the crowd elements: the answer fields a rendered task page declares, and the
``answerContent`` A2I would write for a worker's form post.

The form contract (the portal's JavaScript, which stands in for crowd-html-elements.js, posts
``application/x-www-form-urlencoded``; a name may repeat). Names starting with ``__a2i_`` are reserved and
never copied into the answer; ``__a2i_csrf`` carries the CSRF token. Per element: what is posted -> the
answer under the element's ``name`` N.

1. crowd-classifier [categories]: radio ``N=category`` -> ``{"label": c}``; absent when none is chosen.
2. crowd-classifier-multi-select, crowd-image-classifier-multi-select [categories]: checkboxes
   ``N=category`` -> ``{"labels": [the checked ones, in category order]}``, always present.
3. crowd-image-classifier [categories]: as 1, plus ``__a2i_comment:N=text`` -> ``"workerComment": text``
   in the object when the text is not blank.
4. crowd-input: ``N=text`` -> string; absent when empty. crowd-text-area: ``N=text`` -> string (``""`` kept).
5. plain input (any type but checkbox, radio, submit, button, file, image, reset), textarea, select:
   ``N=text`` -> the first value, ``""`` when none is posted; ``<select multiple>`` -> list of strings.
6. plain checkbox/radio [value=V, default "on"], crowd-checkbox, crowd-toggle-button [value=V]: ``N=V`` when
   checked -> ``{V: bool}`` for every V the page declares under N, merged into one object.
7. crowd-radio-button [name=B, value=V] in the k-th crowd-radio-group of the page (0-based, document order):
   one radio ``__a2i_radio_group:k=B`` -> ``B: {V: posted == B}`` for every button of the group. A
   crowd-radio-button outside any group posts like a crowd-checkbox.
8. crowd-slider [min=0, max=100, step=1; one that is not a number counts as absent]: ``N=number`` -> number
   (int when integral), within min..max and on a step.
9. crowd-bounding-box [labels?]: ``N=JSON`` ``{"boundingBoxes": [{height, label, left, top, width}],
   "inputImageProperties": {height, width}}`` -> the same, numbers rounded to int, sizes not negative.
10. crowd-keypoint [labels?]: ``N=JSON`` ``{"keypoints": [{label, x, y}], "inputImageProperties": {...}}``
    -> the same, rounded.
10a. crowd-polygon, crowd-line, crowd-polyline [labels?]: ``N=JSON`` ``{K: [{label, "vertices": [{x, y}]}],
    "inputImageProperties": {...}}`` with K ``polygons`` (3 or more vertices), ``lines`` (exactly 2),
    ``polylines`` (2 or more) -> the same, rounded.
10b. crowd-semantic-segmentation [labels?]: ``N=JSON`` ``{"labeledImage": {"pngImageData": base64 PNG},
    "labelMappings": {label: {"color": "#rrggbb"}}, "inputImageProperties": {...}}`` -> the same, colours
    lowercase; crowd-instance-segmentation [labels?]: ``{"labeledImage": ..., "instances": [{color, label}],
    "inputImageProperties": ...}``. The PNG must be a whole PNG of the image's size (the page posts an 8-bit
    palette PNG: entry 0 transparent for unpainted pixels, then the colours); one colour per label or instance.
    For 9-10b: every label among the element's ``labels``, or, once a template's script set the element's
    ``labels`` property, among the JSON list of strings posted as ``__a2i_labels:N``; at most 2000 shapes of at
    most 5000 vertices. ``"initialValueModified": bool``, which the page adds when the element started from an
    ``initial-value``, is kept (not for crowd-keypoint and crowd-instance-segmentation: AWS documents none).
    When plain inputs share the element's name (templates name throwaway fields like it), the element's value
    is the JSON object among the values posted under N.
11. crowd-entity-annotation [labels?, text?]: ``N=JSON`` ``{"entities": [{label, startOffset, endOffset}]}``
    -> the same; offsets count Unicode code points (not UTF-16 units), 0 <= start < end <= len(text).
12. crowd-textract-analyze-document [initial-value = the Textract blocks] (required):
    ``__a2i_textract=JSON`` ``[{"keyBlockId", "value", "key"?}]``, one entry per key-value pair shown, then
    ``{"key", "value"}`` (no keyBlockId; key not blank) per pair the worker added (a missing important key,
    or any other) -> ``"AWS/Textract/AnalyzeDocument/Forms/V1": {"blocks": [...]}``: per pair, its WORD
    blocks and its KEY and VALUE blocks as A2I writes them; an edited text gets new WORD blocks, an added
    pair new WORD, KEY and VALUE blocks (uuid4 ids; relationships, no geometry, no confidence).
13. crowd-rekognition-detect-moderation-labels [categories = [{name, parentName}]]: checkboxes
    ``__a2i_moderation=label name`` or ``__a2i_moderation_none=on`` ->
    ``"AWS/Rekognition/DetectModerationLabels/Image/V3": {"moderationLabels": [{name, parentName}]}``
    (``[]`` for none).

A drawing element or slider that posts nothing (or ``""``) is absent from the answer. Display-only elements
(crowd-form, crowd-button, crowd-alert, crowd-instructions, ...) give nothing. A posted name the page does
not declare is kept as a string (templates create inputs from their own scripts). :class:`AnswerError`
says which posted value is not allowed and what to post instead. A page with a ``crowd-`` element the portal
does not implement (``supported_crowd_elements()``) takes no answer at all: :class:`UnsupportedElements`.
"""

from __future__ import annotations

from airflow_a2i.local.portal.elements.answer import UnsupportedElements, shape_answer
from airflow_a2i.local.portal.elements.found import (
    Element,
    find_elements,
)
from airflow_a2i.local.portal.elements.literals import (
    CSRF_FIELD,
    RESERVED_PREFIX,
    AnswerError,
    parse_attribute_literal,
    supported_crowd_elements,
)

__all__ = ["CSRF_FIELD", "RESERVED_PREFIX", "AnswerError", "Element", "UnsupportedElements", "find_elements",
           "parse_attribute_literal", "shape_answer", "supported_crowd_elements"]
