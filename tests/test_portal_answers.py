"""The crowd elements' server side: the elements a page declares, the answerContent of a form post (every
element of the form contract), the errors for values the page does not allow, and JavaScript literals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_a2i.local.portal.elements import AnswerError, find_elements, parse_attribute_literal, shape_answer
from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE
from airflow_a2i.results.built_in import merge_blocks, moderation_labels, textract_fields

FIXTURES = Path(__file__).parent / "fixtures"  # copies of ../shared/fixtures, recorded by AWS

Form = dict[str, list[str]]


def answer(html: str, form: Form) -> dict[str, Any]:
    return shape_answer(find_elements(html), form)


def refused(html: str, form: Form) -> str:
    with pytest.raises(AnswerError) as raised:
        answer(html, form)
    return str(raised.value)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    # The output.json of a real A2I human loop of the built-in Textract type, recorded by AWS and published in
    # aws-samples/amazon-textract-response-parser (Apache-2.0); its input keys are at the top level.
    return json.loads((FIXTURES / "a2i-textract-output.json").read_text())


# --- find_elements ----------------------------------------------------------------------------------------------


def test_find_elements_in_document_order_with_decoded_attributes() -> None:
    html = """
    <crowd-form>
      <crowd-instructions><input name="in-instructions" type="hidden" value="x"></crowd-instructions>
      <crowd-classifier name="c" categories="[&quot;a &amp; b&quot;, 'c']"></crowd-classifier>
      <crowd-button name="not-an-answer"></crowd-button>
      <!-- <crowd-input name="commented-out"></crowd-input> -->
      <script>var x = '<crowd-input name="in-a-script">';</script>
      <crowd-radio-group><crowd-radio-button name="r1"></crowd-radio-button></crowd-radio-group>
      <crowd-radio-group></crowd-radio-group>
      <crowd-radio-group>
        <crowd-radio-button name="r2" value="yes"/><crowd-radio-button name="r3" value="no"/>
      </crowd-radio-group>
      <crowd-radio-button name="lonely"></crowd-radio-button>
      <INPUT NAME="Upper" Required>
      <input value="no name">
      <select name="s" multiple><option>1</option></select>
      <crowd-rekognition-detect-moderation-labels categories="[]"></crowd-rekognition-detect-moderation-labels>
      <crowd-not-an-element name="not-supported"></crowd-not-an-element>
    </crowd-form>"""
    found = [(element.tag, element.name, element.radio_group) for element in find_elements(html)]

    assert found == [("input", "in-instructions", None), ("crowd-classifier", "c", None),
                     ("crowd-radio-button", "r1", 0), ("crowd-radio-button", "r2", 2),
                     ("crowd-radio-button", "r3", 2), ("crowd-radio-button", "lonely", None),
                     ("input", "Upper", None), ("select", "s", None),
                     ("crowd-rekognition-detect-moderation-labels", REKOGNITION_SOURCE, None)]
    elements = find_elements(html)
    assert parse_attribute_literal(elements[1].attributes["categories"]) == ["a & b", "c"]
    assert elements[6].attributes == {"name": "Upper", "required": ""}


def test_radio_buttons_belong_to_the_group_a_browser_puts_them_in() -> None:
    html = """
    <crowd-form>
      <crowd-radio-group>
        <crowd-radio-button name="a"></crowd-radio-button>
        <crowd-radio-group><crowd-radio-button name="nested"></crowd-radio-button></crowd-radio-group>
        <p><crowd-radio-button name="b"></p>
      </crowd-radio-group>
      <crowd-radio-group/>
        <crowd-radio-button name="after-self-closing"></crowd-radio-button>
    </crowd-form>
    <crowd-radio-button name="outside"></crowd-radio-button>"""
    groups = {element.name: element.radio_group for element in find_elements(html)}

    assert groups == {"a": 0, "nested": 1, "b": 0, "after-self-closing": 2, "outside": None}


# --- the form contract, element by element -------------------------------------------------------------------

CLASSIFIER = '<crowd-classifier name="sentiment" categories="[\'Positive\', \'Negative\', \'Needs furthur review\']">'
MULTI = '<crowd-classifier-multi-select name="category" categories="[\'World\', \'Sports\', \'Business\']">'
IMAGE = '<crowd-image-classifier name="animal" categories="[\'cat\', \'dog\']" src="x.png">'
IMAGE_MULTI = '<crowd-image-classifier-multi-select name="tags" categories="[\'cat\', \'dog\', \'sofa\']">'
SLIDER = '<crowd-slider name="score" min="-5" max="5" step="0.5"></crowd-slider>'
BOXES = '<crowd-bounding-box name="annotatedResult" labels="[\'car\', \'bike\']" src="x.png">'
KEYPOINTS = '<crowd-keypoint name="points" labels="[\'nose\']" src="x.png">'
ENTITIES = ('<crowd-entity-annotation name="ner" labels="[{label: \'person\'}, {label: \'place\'}]" '
            'text="Ana 🙂 went to Rome"></crowd-entity-annotation>')
MODERATION = """<crowd-rekognition-detect-moderation-labels categories='[
    { name: "Suggestive", parentName: "", },
    { Name: "Female Swimwear Or Underwear", ParentName: "Suggestive" },
  ]'></crowd-rekognition-detect-moderation-labels>"""

CONTRACT = [
    # 1. crowd-classifier: {"label"}, absent when none chosen
    ("classifier", CLASSIFIER, {"sentiment": ["Needs furthur review"]},
     {"sentiment": {"label": "Needs furthur review"}}),
    ("classifier, none chosen", CLASSIFIER, {}, {}),
    # 2. crowd-classifier-multi-select: {"labels"} in category order, always present
    ("multi-select", MULTI, {"category": ["Business", "World"]}, {"category": {"labels": ["World", "Business"]}}),
    ("multi-select, none checked", MULTI, {}, {"category": {"labels": []}}),
    # 3. crowd-image-classifier: {"label", "workerComment"?}
    ("image classifier", IMAGE, {"animal": ["dog"], "__a2i_comment:animal": ["  "]}, {"animal": {"label": "dog"}}),
    ("image classifier, comment", IMAGE, {"animal": ["cat"], "__a2i_comment:animal": ["a small one"]},
     {"animal": {"label": "cat", "workerComment": "a small one"}}),
    ("image classifier, no label", IMAGE, {"__a2i_comment:animal": ["unsure"]}, {}),
    # 4. crowd-image-classifier-multi-select
    ("image multi-select", IMAGE_MULTI, {"tags": ["sofa", "cat"]}, {"tags": {"labels": ["cat", "sofa"]}}),
    # 5. crowd-input: string, omitted when empty
    ("crowd-input", '<crowd-input name="title"></crowd-input>', {"title": ["A <title>"]}, {"title": "A <title>"}),
    ("crowd-input, empty", '<crowd-input name="title"></crowd-input>', {"title": [""]}, {}),
    # 6. crowd-text-area: string, empty kept
    ("crowd-text-area", '<crowd-text-area name="notes"></crowd-text-area>', {"notes": ["line 1\nline 2"]},
     {"notes": "line 1\nline 2"}),
    ("crowd-text-area, empty", '<crowd-text-area name="notes"></crowd-text-area>', {"notes": [""]}, {"notes": ""}),
    # 7. plain controls: first string, "" when declared and not posted, list for select multiple
    ("plain controls", '<input name="a"><input type="email" name="b"><input type="hidden" name="c" value="v">'
     '<input type="number" name="d"><textarea name="e"></textarea><select name="f"><option>x</option></select>',
     {"a": ["1", "2"], "c": ["v"], "d": ["42"], "e": ["text"], "f": ["x"]},
     {"a": "1", "b": "", "c": "v", "d": "42", "e": "text", "f": "x"}),
    ("select multiple", '<select name="s" multiple></select>', {"s": ["x", "y"]}, {"s": ["x", "y"]}),
    ("ignored input types", '<input type="submit" name="go"><input type="file" name="f"><input type="reset" '
     'name="r"><input type="button" name="b"><input type="image" name="i">', {"go": ["Submit"]}, {}),
    # 8. plain checkbox/radio: {V: bool} for every V declared under N
    ("plain checkboxes", '<input type="checkbox" name="agree"><input type="checkbox" name="pets" value="cat">'
     '<input type="checkbox" name="pets" value="dog">', {"pets": ["dog"]},
     {"agree": {"on": False}, "pets": {"cat": False, "dog": True}}),
    ("plain radios", '<input type="radio" name="size" value="S"><input type="radio" name="size" value="L">',
     {"size": ["L"]}, {"size": {"S": False, "L": True}}),
    # 9. crowd-checkbox / crowd-toggle-button: {V: bool}, merged across elements with the same name
    ("crowd-checkbox", '<crowd-checkbox name="addToCustom0"></crowd-checkbox>', {"addToCustom0": ["on"]},
     {"addToCustom0": {"on": True}}),
    ("crowd-checkbox merge", '<crowd-checkbox name="flags" value="blurry"></crowd-checkbox>'
     '<crowd-toggle-button name="flags" value="dark"></crowd-toggle-button>', {"flags": ["dark"]},
     {"flags": {"blurry": False, "dark": True}}),
    ("crowd-toggle-button", '<crowd-toggle-button name="nsfw"></crowd-toggle-button>', {},
     {"nsfw": {"on": False}}),
    # 10. crowd-radio-group / crowd-radio-button: B: {V: posted == B}
    ("radio group", '<crowd-radio-group><crowd-radio-button name="happy" value="yes"></crowd-radio-button>'
     '<crowd-radio-button name="sad" value="yes"></crowd-radio-button></crowd-radio-group>',
     {"__a2i_radio_group:0": ["sad"]}, {"happy": {"yes": False}, "sad": {"yes": True}}),
    ("second radio group", '<crowd-radio-group><crowd-radio-button name="a"></crowd-radio-button></crowd-radio-group>'
     '<crowd-radio-group><crowd-radio-button name="b"></crowd-radio-button>'
     '<crowd-radio-button name="c"></crowd-radio-button></crowd-radio-group>',
     {"__a2i_radio_group:1": ["b"]}, {"a": {"on": False}, "b": {"on": True}, "c": {"on": False}}),
    ("radio button outside a group", '<crowd-radio-button name="solo" value="x"></crowd-radio-button>',
     {"solo": ["x"]}, {"solo": {"x": True}}),
    # 11. crowd-slider: a number, int when integral
    ("slider, integral", SLIDER, {"score": ["3.0"]}, {"score": 3}),
    ("slider, fraction", SLIDER, {"score": ["-4.5"]}, {"score": -4.5}),
    ("slider, default range", '<crowd-slider name="s"></crowd-slider>', {"s": ["100"]}, {"s": 100}),
    ("slider, not posted", SLIDER, {}, {}),
    ("slider, a bound that is not a number", '<crowd-slider name="s" max="ten" step="any"></crowd-slider>',
     {"s": ["99.5"]}, {"s": 99.5}),
    # 12. crowd-bounding-box: rounded, labels checked
    ("bounding box", BOXES, {"annotatedResult": [json.dumps({
        "boundingBoxes": [{"height": 10.4, "label": "car", "left": 1.6, "top": 0, "width": 20, "extra": 1}],
        "inputImageProperties": {"height": 480.0, "width": 640}})]},
     {"annotatedResult": {"boundingBoxes": [{"height": 10, "label": "car", "left": 2, "top": 0, "width": 20}],
                          "inputImageProperties": {"height": 480, "width": 640}}}),
    ("bounding box, none drawn", BOXES, {"annotatedResult": [json.dumps({
        "boundingBoxes": [], "inputImageProperties": {"height": 1, "width": 2}})]},
     {"annotatedResult": {"boundingBoxes": [], "inputImageProperties": {"height": 1, "width": 2}}}),
    # 13. crowd-keypoint
    ("keypoint", KEYPOINTS, {"points": [json.dumps({"keypoints": [{"label": "nose", "x": 3.2, "y": 4.7}],
                                                     "inputImageProperties": {"height": 10, "width": 10}})]},
     {"points": {"keypoints": [{"label": "nose", "x": 3, "y": 5}],
                 "inputImageProperties": {"height": 10, "width": 10}}}),
    # 14. crowd-entity-annotation: offsets in code points (the emoji counts 1)
    ("entity annotation", ENTITIES, {"ner": [json.dumps({"entities": [
        {"label": "person", "startOffset": 0, "endOffset": 3},
        {"label": "place", "startOffset": 14, "endOffset": 18}]})]},
     {"ner": {"entities": [{"label": "person", "startOffset": 0, "endOffset": 3},
                           {"label": "place", "startOffset": 14, "endOffset": 18}]}}),
    # 16. crowd-rekognition-detect-moderation-labels
    ("moderation", MODERATION, {"__a2i_moderation": ["Female Swimwear Or Underwear", "Suggestive"]},
     {REKOGNITION_SOURCE: {"moderationLabels": [
         {"name": "Suggestive", "parentName": ""},
         {"name": "Female Swimwear Or Underwear", "parentName": "Suggestive"}]}}),
    ("moderation, none apply", MODERATION, {"__a2i_moderation_none": ["on"]},
     {REKOGNITION_SOURCE: {"moderationLabels": []}}),
    ("moderation, nothing checked", MODERATION, {}, {REKOGNITION_SOURCE: {"moderationLabels": []}}),
    # display-only elements, reserved and undeclared names
    ("display only", '<crowd-form><crowd-button name="b"></crowd-button><crowd-alert name="a"></crowd-alert>'
     '<crowd-card name="c"></crowd-card><crowd-modal name="m"></crowd-modal><crowd-tabs><crowd-tab name="t">'
     '</crowd-tab></crowd-tabs><short-instructions></short-instructions><full-instructions></full-instructions>'
     '</crowd-form>', {"__a2i_csrf": ["token"], "__a2i_anything": ["x"]}, {}),
    ("undeclared names are kept", '<crowd-input name="a"></crowd-input>',
     {"made-by-script": ["1", "2"], "a": ["x"], "__a2i_csrf": ["t"]}, {"a": "x", "made-by-script": "1"}),
]


@pytest.mark.parametrize(("html", "form", "expected"), [case[1:] for case in CONTRACT],
                         ids=[case[0] for case in CONTRACT])
def test_form_contract(html: str, form: Form, expected: dict[str, Any]) -> None:
    assert answer(html, form) == expected


def test_image_classifier_comment_keeps_its_text_as_written() -> None:
    posted = {"animal": ["dog"], "__a2i_comment:animal": ["  two dogs\n"]}
    assert answer(IMAGE, posted) == {"animal": {"label": "dog", "workerComment": "  two dogs\n"}}


# --- merge rules -----------------------------------------------------------------------------------------------


def test_checkbox_like_elements_of_one_name_merge_into_one_object() -> None:
    html = ('<crowd-checkbox name="issues" value="blurry"></crowd-checkbox>'
            '<input type="checkbox" name="issues" value="dark">'
            '<crowd-toggle-button name="issues" value="cropped"></crowd-toggle-button>'
            '<crowd-checkbox name="issues" value="blurry"></crowd-checkbox>')
    assert answer(html, {"issues": ["blurry", "cropped"]}) == {
        "issues": {"blurry": True, "dark": False, "cropped": True}}


def test_a_checkbox_value_a_script_added_is_kept_as_checked() -> None:
    html = '<input type="checkbox" name="pets" value="cat">'
    assert answer(html, {"pets": ["cat", "hamster"]}) == {"pets": {"cat": True, "hamster": True}}


def test_the_first_element_of_a_name_decides_unless_both_are_checkbox_like() -> None:
    html = '<crowd-input name="x"></crowd-input><input type="checkbox" name="x" value="y">'
    assert answer(html, {"x": ["typed"]}) == {"x": "typed"}


def test_answer_keys_follow_the_document_then_the_post() -> None:
    html = '<input name="b"><crowd-text-area name="a"></crowd-text-area>'
    assert list(answer(html, {"z": ["1"], "a": ["2"], "b": ["3"]})) == ["b", "a", "z"]


# --- values the page does not allow ------------------------------------------------------------------------------


@pytest.mark.parametrize(("html", "form", "says"), [
    (CLASSIFIER, {"sentiment": ["Happy"]}, "'Happy' is not one of the categories of the crowd-classifier"),
    (MULTI, {"category": ["World", "Weather"]}, "post one of 'World', 'Sports', 'Business'"),
    (IMAGE, {"animal": ["cow"]}, "'cow' is not one of the categories"),
    ('<crowd-classifier name="c"></crowd-classifier>', {"c": ["a"]}, "has no categories attribute"),
    ('<crowd-classifier name="c" categories="[\'a\'"></crowd-classifier>', {"c": ["a"]},
     "the categories attribute of the crowd-classifier 'c' cannot be read"),
    ('<crowd-classifier name="c" categories="{a: 1}"></crowd-classifier>', {"c": ["a"]}, "is not a list"),
    (SLIDER, {"score": ["loud"]}, "'loud' posted for the crowd-slider 'score' is not a number"),
    (SLIDER, {"score": ["nan"]}, "is not a number"),
    (SLIDER, {"score": ["6"]}, "outside its range: post a number from -5 to 5"),
    (SLIDER, {"score": ["0.25"]}, "not on a step of 0.5"),
    (BOXES, {"annotatedResult": ["{not json"]}, "is not JSON: post {\"boundingBoxes\""),
    (BOXES, {"annotatedResult": ["[]"]}, "is not a JSON object"),
    (BOXES, {"annotatedResult": [json.dumps({"inputImageProperties": {"height": 1, "width": 1}})]},
     "has no list of objects 'boundingBoxes'"),
    (BOXES, {"annotatedResult": [json.dumps({"boundingBoxes": [
        {"height": "10", "label": "car", "left": 0, "top": 0, "width": 1}],
        "inputImageProperties": {"height": 1, "width": 1}})]}, "height '10'"),
    (BOXES, {"annotatedResult": [json.dumps({"boundingBoxes": [
        {"height": 1, "label": "truck", "left": 0, "top": 0, "width": 1}],
        "inputImageProperties": {"height": 1, "width": 1}})]}, "'truck' is not one of the labels"),
    (BOXES, {"annotatedResult": [json.dumps({"boundingBoxes": []})]}, "has no inputImageProperties"),
    (KEYPOINTS, {"points": [json.dumps({"keypoints": [{"label": "nose", "x": True, "y": 1}],
                                        "inputImageProperties": {"height": 1, "width": 1}})]}, "x True"),
    (KEYPOINTS, {"points": [json.dumps({"keypoints": [{"x": 1, "y": 1}],
                                        "inputImageProperties": {"height": 1, "width": 1}})]}, "no string label"),
    (ENTITIES, {"ner": [json.dumps({"entities": [{"label": "person", "startOffset": 3, "endOffset": 3}]})]},
     "0 <= startOffset < endOffset and endOffset at most 18"),
    (ENTITIES, {"ner": [json.dumps({"entities": [{"label": "person", "startOffset": 0, "endOffset": 19}]})]},
     "not a span of its text"),
    (ENTITIES, {"ner": [json.dumps({"entities": [{"label": "person", "startOffset": 0.5, "endOffset": 2}]})]},
     "not a whole number"),
    (ENTITIES, {"ner": [json.dumps({"entities": [{"label": "thing", "startOffset": 0, "endOffset": 2}]})]},
     "post one of 'person', 'place'"),
    (MODERATION, {"__a2i_moderation": ["Violence"]}, "'Violence' is not one of the categories"),
    (MODERATION, {"__a2i_moderation": ["Suggestive"], "__a2i_moderation_none": ["on"]},
     "post either the labels that apply or none of them"),
    ('<crowd-radio-group><crowd-radio-button name="a"></crowd-radio-button></crowd-radio-group>',
     {"__a2i_radio_group:0": ["b"]}, "not the name of a crowd-radio-button in crowd-radio-group 0: post one of 'a'"),
])
def test_values_the_page_does_not_allow(html: str, form: Form, says: str) -> None:
    assert says in refused(html, form)


# --- crowd-textract-analyze-document ------------------------------------------------------------------------------

TOTAL_KEY = "efef5f95-e05c-476c-8251-6378c6d69001"
TOTAL_VALUE = "5d2518f0-40e5-420f-b72e-3aae5c2425a1"


def textract_page(blocks: list[dict[str, Any]]) -> str:
    literal = json.dumps(blocks).replace("&", "&amp;").replace('"', "&quot;")
    return f'<crowd-textract-analyze-document initial-value="{literal}"></crowd-textract-analyze-document>'


def post_pairs(*pairs: dict[str, str]) -> Form:
    return {"__a2i_textract": [json.dumps(list(pairs))], "__a2i_csrf": ["token"]}


def test_textract_pair_unchanged_is_what_a2i_wrote(recorded: dict[str, Any]) -> None:
    html = textract_page(recorded["selectedAiServiceResponse"]["blocks"])
    result = answer(html, post_pairs({"keyBlockId": TOTAL_KEY, "value": "$148.99"}))

    # The last four blocks of the recorded answer are this pair, untouched by the worker.
    recorded_blocks = recorded["humanAnswers"][0]["answerContent"][TEXTRACT_SOURCE]["blocks"]
    assert result == {TEXTRACT_SOURCE: {"blocks": recorded_blocks[-4:]}}


def test_textract_edited_value_round_trips_through_the_results_reader(recorded: dict[str, Any]) -> None:
    html = textract_page(recorded["selectedAiServiceResponse"]["blocks"])
    result = answer(html, post_pairs({"keyBlockId": TOTAL_KEY, "value": " $150.00  USD ", "key": "Total:"}))
    blocks = result[TEXTRACT_SOURCE]["blocks"]

    words = [block for block in blocks if block["blockType"] == "WORD"]
    assert [word["text"] for word in words] == ["Total:", "$150.00", "USD"]
    assert all(set(word) == {"blockType", "id", "text"} for word in words)
    by_id = {block["id"]: block for block in blocks}
    value = by_id[TOTAL_VALUE]
    assert value["relationships"] == [{"ids": [words[1]["id"], words[2]["id"]], "type": "CHILD"}]
    assert set(value) == {"blockType", "confidence", "entityTypes", "id", "relationships"}
    assert "geometry" not in by_id[TOTAL_KEY]

    fields = {field["key"]: field for field in textract_fields(recorded["aiServiceResponse"], result[TEXTRACT_SOURCE])}
    assert fields["Total:"]["machine_value"] == "$148.99"
    assert fields["Total:"]["human_value"] == "$150.00 USD"
    assert fields["Total:"]["corrected"] is True
    merged = merge_blocks(recorded["aiServiceResponse"]["blocks"], blocks)
    assert len(merged) == len(recorded["aiServiceResponse"]["blocks"]) + len(words)


def test_textract_pairs_of_the_whole_response_and_an_emptied_value(recorded: dict[str, Any]) -> None:
    machine = recorded["aiServiceResponse"]
    html = textract_page(machine["blocks"])
    before = {field["key"]: field["machine_value"] for field in textract_fields(machine, None)}
    key_ids = [block["id"] for block in machine["blocks"]
               if block["blockType"] == "KEY_VALUE_SET" and "KEY" in block["entityTypes"]]
    keys = [field["key"] for field in textract_fields(machine, None)]
    posted = [{"keyBlockId": key_id, "value": before[key]} for key_id, key in zip(key_ids, keys, strict=True)]
    posted[0]["value"] = ""

    result = answer(html, post_pairs(*posted))[TEXTRACT_SOURCE]
    fields = textract_fields(machine, result)

    assert all(field["reviewed"] for field in fields)
    assert [field["corrected"] for field in fields] == [True] + [False] * (len(fields) - 1)
    assert fields[0]["human_value"] == ""
    emptied = next(block for block in result["blocks"] if block["id"] == _related_value(machine, key_ids[0]))
    assert [relationship["type"] for relationship in emptied["relationships"]] == []


def _related_value(response: dict[str, Any], key_id: str) -> str:
    key = next(block for block in response["blocks"] if block["id"] == key_id)
    return next(relationship["ids"][0] for relationship in key["relationships"] if relationship["type"] == "VALUE")


def test_textract_key_with_no_value_gets_a_value_block() -> None:
    blocks = [{"BlockType": "KEY_VALUE_SET", "Id": "k", "EntityTypes": ["KEY"], "Confidence": 50.5,
               "Relationships": [{"Type": "CHILD", "Ids": ["w"]}]},
              {"BlockType": "WORD", "Id": "w", "Text": "Name:", "Confidence": 99.0}]  # PascalCase, as Textract
    html = textract_page(blocks)

    result = answer(html, post_pairs({"keyBlockId": "k", "value": "Jane Doe"}))[TEXTRACT_SOURCE]
    fields = textract_fields({"Blocks": blocks}, result)
    assert fields == [{"key": "Name:", "machine_value": "", "machine_confidence": 50.5, "human_value": "Jane Doe",
                       "reviewed": True, "corrected": True}]
    assert answer(html, post_pairs({"keyBlockId": "k", "value": ""}))[TEXTRACT_SOURCE]["blocks"] == [
        {"blockType": "WORD", "id": "w", "text": "Name:"},
        {"blockType": "KEY_VALUE_SET", "confidence": 50.5, "entityTypes": ["KEY"], "id": "k",
         "relationships": [{"ids": ["w"], "type": "CHILD"}]}]


@pytest.mark.parametrize(("form", "says"), [
    ({}, "posted no __a2i_textract field"),
    ({"__a2i_textract": ["{}"]}, 'is not [{"keyBlockId"'),
    ({"__a2i_textract": [json.dumps([{"keyBlockId": TOTAL_KEY}])]}, "post that JSON"),
    (post_pairs({"keyBlockId": "no-such-block", "value": "x"}),
     "'no-such-block' posted in __a2i_textract is not a KEY"),
    (post_pairs({"keyBlockId": TOTAL_VALUE, "value": "x"}), "is not a KEY block"),
    (post_pairs({"keyBlockId": TOTAL_KEY, "value": "x"}, {"keyBlockId": TOTAL_KEY, "value": "y"}), "posted twice"),
])
def test_textract_posts_that_are_refused(recorded: dict[str, Any], form: Form, says: str) -> None:
    assert says in refused(textract_page(recorded["selectedAiServiceResponse"]["blocks"]), form)


def test_textract_key_null_leaves_the_key_as_it_is(recorded: dict[str, Any]) -> None:
    html = textract_page(recorded["selectedAiServiceResponse"]["blocks"])
    form = {"__a2i_textract": [json.dumps([{"keyBlockId": TOTAL_KEY, "value": "$148.99", "key": None}])]}

    recorded_blocks = recorded["humanAnswers"][0]["answerContent"][TEXTRACT_SOURCE]["blocks"]
    assert answer(html, form)[TEXTRACT_SOURCE]["blocks"] == recorded_blocks[-4:]


def test_textract_initial_value_that_is_not_blocks_is_refused() -> None:
    html = '<crowd-textract-analyze-document initial-value="42"></crowd-textract-analyze-document>'
    assert "is not a list of Textract blocks" in refused(html, post_pairs())


def test_moderation_categories_without_a_name_are_not_choices() -> None:
    html = '<crowd-rekognition-detect-moderation-labels categories="[{parentName: \'x\'}, {name: \'A\'}]">'
    assert "post one of 'A'" in refused(html, {"__a2i_moderation": ["B"]})


def test_entity_offsets_count_newlines_as_a_browser_reads_them() -> None:
    html = '<crowd-entity-annotation name="ner" text="ab\r\ncd"></crowd-entity-annotation>'
    posted = {"ner": [json.dumps({"entities": [{"label": "x", "startOffset": 3, "endOffset": 5}]})]}
    assert answer(html, posted) == {"ner": {"entities": [{"label": "x", "startOffset": 3, "endOffset": 5}]}}
    posted = {"ner": [json.dumps({"entities": [{"label": "x", "startOffset": 3, "endOffset": 6}]})]}
    assert "endOffset at most 5" in refused(html, posted)


def test_moderation_answer_reads_back_through_the_results_reader() -> None:
    machine = {"ModerationLabels": [{"Name": "Suggestive", "ParentName": "", "Confidence": 80.0},
                                    {"Name": "Female Swimwear Or Underwear", "ParentName": "Suggestive",
                                     "Confidence": 70.0}]}
    result = answer(MODERATION, {"__a2i_moderation": ["Suggestive"]})[REKOGNITION_SOURCE]

    assert [(label["name"], label["kept_by_reviewer"]) for label in moderation_labels(machine, result)] == [
        ("Suggestive", True), ("Female Swimwear Or Underwear", False)]


# --- JavaScript literals in attributes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("['Positive', 'Negative', 'N/A']", ["Positive", "Negative", "N/A"]),
    ('[{label: "person", shortDisplayName: \'per\',},]', [{"label": "person", "shortDisplayName": "per"}]),
    ("{ $a: 1, _b2: -2.5e3, 'c d': .5, 3: 0x1F, e: +7, }", {"$a": 1, "_b2": -2500.0, "c d": 0.5, "3": 31, "e": 7}),
    ("[true, false, null, undefined, True, False, None]", [True, False, None, None, True, False, None]),
    ("'it\\'s \\\"quoted\\\" \\n \\u00e9 \\u{1F642} \\x41 \\\\'", "it's \"quoted\" \n é 🙂 A \\"),
    ('"\\ud83d\\ude42"', "🙂"),
    ("[ // a comment\n 1, /* another */ 2 ]", [1, 2]),
    ("  [\n  ]  ", []),
    ("[-Infinity, Infinity]", [-math.inf, math.inf]),
    ("'line\\\ncontinued'", "linecontinued"),
])
def test_parse_attribute_literal(text: str, expected: Any) -> None:
    assert parse_attribute_literal(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("", "the attribute is empty"),
    ("[1, 2", "expected ',' or ']' at character 6, found the end of the text"),
    ("{a b}", "expected ':' after an object key at character 4"),
    ("[positive]", "a bare word is only allowed as an object key"),
    ("'unterminated", "expected the closing '"),
    ("[1] [2]", "expected the end of the literal at character 5"),
    ("[1,,2]", "expected a value at character 4"),
    ("{a: 1,, }", "expected an object key"),
    ("'\\u12'", "hexadecimal digits"),
    ("12abc", "expected a number at character 1"),
    ("[" * 300 + "]" * 300, "nested more than 200 levels deep"),
    ("/* never closed", "the end of a /* comment */"),
])
def test_parse_attribute_literal_says_where_it_stopped(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=r"^not a JavaScript literal") as raised:
        parse_attribute_literal(text)
    assert says in str(raised.value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150)
@given(value=JSON_VALUES, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_json_parses_back_equal(value: Any, ascii_only: bool, indent: int | None) -> None:
    assert parse_attribute_literal(json.dumps(value, ensure_ascii=ascii_only, indent=indent)) == value


# Whatever a browser (or anyone holding a session) posts: an answer or a reason, never a crash ------------------

RICH_PAGE = """
<crowd-form>
  <crowd-classifier name="sentiment" categories="['positive', 'negative']"></crowd-classifier>
  <crowd-classifier-multi-select name="topics" categories="['a', 'b']"></crowd-classifier-multi-select>
  <crowd-input name="note"></crowd-input>
  <crowd-checkbox name="flag" value="urgent"></crowd-checkbox>
  <crowd-radio-group><crowd-radio-button name="yes"></crowd-radio-button>
    <crowd-radio-button name="no"></crowd-radio-button></crowd-radio-group>
  <crowd-slider name="score" min="0" max="10" step="1"></crowd-slider>
  <crowd-bounding-box name="boxes" labels="['car']" src="x.png"></crowd-bounding-box>
  <crowd-keypoint name="points" keypoints="['eye']" src="x.png"></crowd-keypoint>
  <crowd-entity-annotation name="entities" labels="[{label: 'person'}]" text="Ana met Bo"></crowd-entity-annotation>
  <crowd-textract-analyze-document initial-value='[{"blockType": "KEY_VALUE_SET", "id": "k", "entityTypes": ["KEY"],
    "relationships": [{"type": "VALUE", "ids": ["v"]}]}, {"blockType": "KEY_VALUE_SET", "id": "v",
    "entityTypes": ["VALUE"]}]'></crowd-textract-analyze-document>
  <crowd-rekognition-detect-moderation-labels categories="[{name: 'Suggestive', parentName: ''}]">
  </crowd-rekognition-detect-moderation-labels>
  <select name="choice"><option>one</option><option>two</option></select>
  <input type="radio" name="plain" value="x"><input type="radio" name="plain" value="y">
</crowd-form>"""
FIELD_NAMES = st.sampled_from(["sentiment", "topics", "note", "flag", "__a2i_radio_group:0", "score", "boxes",
                               "points", "entities", "__a2i_textract", "__a2i_moderation", "__a2i_moderation_none",
                               "choice", "plain", "__a2i_comment:sentiment", "unknown"])
FIELD_VALUES = st.one_of(
    st.sampled_from(["positive", "a", "urgent", "yes", "5", "11", "-1", "1e309", "NaN", "one", "x", "Suggestive",
                     "", "[]", "{}", "null", '{"boundingBoxes": [{"label": "car", "left": 1, "top": 2, '
                     '"width": 3, "height": 4}], "inputImageProperties": {"width": 10, "height": 10}}',
                     '[{"keyBlockId": "k", "value": "new"}]', '[{"keyBlockId": "nope", "value": 1}]',
                     '{"entities": [{"label": "person", "startOffset": 0, "endOffset": 3}]}',
                     '{"keypoints": [{"label": "eye", "x": 1e400, "y": 2}]}']),
    st.text(max_size=30),
    st.builds(json.dumps, JSON_VALUES),
)


@settings(max_examples=200)
@given(form=st.dictionaries(FIELD_NAMES, st.lists(FIELD_VALUES, min_size=1, max_size=3), max_size=8))
def test_any_post_gives_an_answer_or_a_reason(form: dict[str, list[str]]) -> None:
    elements = find_elements(RICH_PAGE)
    try:
        answer = shape_answer(elements, form)
    except AnswerError as error:
        assert str(error)  # says what to change
        return
    json.dumps(answer, allow_nan=False)  # what output.json can hold: finite numbers, JSON types only
    assert not any(key.startswith("__a2i_") for key in answer)
