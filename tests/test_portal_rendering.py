"""Task templates rendered as A2I renders them: AWS's public sample templates, A2I's filters, and errors that
name the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_a2i.local.portal.elements import Element, find_elements, parse_attribute_literal, shape_answer
from airflow_a2i.local.portal.rendering import TemplateRenderError, parse_s3_location, render_template

TEMPLATES = Path(__file__).parent / "templates"  # modelled on aws-samples' A2I task UIs; each names its source
FIXTURES = Path(__file__).parent / "fixtures"  # copies of ../shared/fixtures, recorded by AWS

HOSTILE = "<script>alert(\"pwned\")</script> & 'quotes'"


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.liquid.html").read_text()


def only(elements: list[Element], tag: str) -> Element:
    [element] = [element for element in elements if element.tag == tag]
    return element


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    # The output.json of a real A2I human loop of the built-in Textract type, recorded by AWS and published in
    # aws-samples/amazon-textract-response-parser (Apache-2.0); its input keys are at the top level.
    return json.loads((FIXTURES / "a2i-textract-output.json").read_text())


# --- the public sample templates -----------------------------------------------------------------------------


def test_sentiment_template_escapes_the_text_and_declares_the_classifier() -> None:
    html = render_template(template("sentiment-analysis"), {"taskObject": HOSTILE})

    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &#39;quotes&#39;" in html
    assert "<script>alert" not in html
    classifier = only(find_elements(html), "crowd-classifier")
    assert classifier.name == "sentiment"
    assert parse_attribute_literal(classifier.attributes["categories"]) == ["Positive", "Negative", "Neutral", "N/A"]
    assert shape_answer([classifier], {"sentiment": ["Neutral"]}) == {"sentiment": {"label": "Neutral"}}


def test_translation_template_gives_one_text_area_per_pair() -> None:
    pairs = [{"originalText": "Hola, ¿cómo estás?", "translation": "Hello, how are you?"},
             {"originalText": "Me llamo \"Ana\" <3", "translation": "My name is \"Ana\" <3"}]
    html = render_template(template("translation-review"), {"translationPairs": pairs})

    assert "<td>Hola, ¿cómo estás?</td>" in html
    assert "<td>Me llamo &#34;Ana&#34; &lt;3</td>" in html
    areas = [element for element in find_elements(html) if element.tag == "crowd-text-area"]
    assert [area.name for area in areas] == ["translation1", "translation2"]
    assert [area.attributes["value"] for area in areas] == [pair["translation"] for pair in pairs]
    posted = {"translation1": ["Hello, how are you doing?"], "translation2": [""], "__a2i_csrf": ["token"]}
    assert shape_answer(areas, posted) == {"translation1": "Hello, how are you doing?", "translation2": ""}


def test_translation_template_with_no_pairs_renders_an_empty_table() -> None:
    html = render_template(template("translation-review"), {})

    assert "<th>Original</th>" in html
    assert find_elements(html) == []


def test_named_entity_template_reads_back_its_labels_and_text() -> None:
    labels = [{"label": "person", "shortDisplayName": "per", "fullDisplayName": "Person"},
              {"label": "organization", "shortDisplayName": "org", "fullDisplayName": "O'Reilly & <Co>"}]
    initial = [{"label": "person", "startOffset": 0, "endOffset": 4}]
    text = "Jane met \"O'Reilly\" <b>staff</b>"
    html = render_template(template("named-entity-recognition"),
                           {"labels": labels, "initialValue": initial, "originalText": text})

    assert "<crowd-form>" not in html  # the element brings its own submit button
    assert "<b>staff</b>" not in html
    annotation = only(find_elements(html), "crowd-entity-annotation")
    assert parse_attribute_literal(annotation.attributes["labels"]) == labels
    assert parse_attribute_literal(annotation.attributes["initial-value"]) == initial
    assert annotation.attributes["text"] == text
    posted = {"crowd-entity-annotation": [json.dumps({"entities": [
        {"label": "person", "startOffset": 0, "endOffset": 4},
        {"label": "organization", "startOffset": 10, "endOffset": 18}]})]}
    assert shape_answer([annotation], posted)["crowd-entity-annotation"]["entities"][1] == {
        "label": "organization", "startOffset": 10, "endOffset": 18}


def test_image_classification_template_signs_the_image_and_selects_the_prediction() -> None:
    granted: list[str] = []

    def grant(location: str) -> str:
        granted.append(location)
        return f"http://localhost:8080/portal/objects?key={location[len('s3://'):]}&sig=abc"

    task_input = {"taskObject": "s3://pictures/pets/cat 1.jpg", "question": "Which animal is this?",
                  "prediction": "Cat", "confidence": 0.42, "categories": ["Cat", "Dog", "Rabbit & Hare"]}
    html = render_template(template("image-classification"), task_input, grant_read_access=grant)

    assert granted == ["s3://pictures/pets/cat 1.jpg"]
    assert 'src="http://localhost:8080/portal/objects?key=pictures/pets/cat 1.jpg&amp;sig=abc"' in html
    assert '<option value="Cat" selected>Cat</option>' in html
    assert '<option value="Rabbit &amp; Hare">Rabbit &amp; Hare</option>' in html
    assert "a confidence of 0.42" in html
    elements = find_elements(html)
    assert [(element.tag, element.name) for element in elements] == [("select", "category")]
    assert shape_answer(elements, {"category": ["Rabbit & Hare"]}) == {"category": "Rabbit & Hare"}


def test_image_classification_without_a_callback_links_the_public_s3_url() -> None:
    html = render_template(template("image-classification"), {"taskObject": "s3://pictures/pets/cat 1.jpg"})

    assert 'src="https://pictures.s3.amazonaws.com/pets/cat%201.jpg"' in html


def test_tabular_template_prints_the_requester_html_and_declares_native_controls() -> None:
    table = '<table border="1" class="dataframe"><tr><th>age</th><td>39</td></tr></table>'
    pairs = [{"row": 1, "prediction": 0}, {"row": 2, "prediction": 1}]
    html = render_template(template("tabular-review"), {"table": table, "Pairs": pairs})

    assert f'<div id="my_table">{table}</div>' in html  # skip_autoescape: printed as it is
    names = [(element.tag, element.name, element.attributes.get("value")) for element in find_elements(html)]
    assert names[:5] == [("crowd-text-area", "predicted1", "0"), ("input", "rating1", "agree"),
                         ("input", "rating1", "disagree"), ("input", "True Prediction", None),
                         ("input", "Change Reason", None)]
    posted = {"predicted1": ["0"], "rating1": ["agree"], "predicted2": ["0"], "rating2": ["disagree"],
              "True Prediction": ["1", "0"], "Change Reason": ["", "income is too low"]}
    assert shape_answer(find_elements(html), posted) == {
        "predicted1": "0", "rating1": {"agree": True, "disagree": False}, "True Prediction": "1",
        "Change Reason": "", "predicted2": "0", "rating2": {"agree": False, "disagree": True}}


def test_textract_template_prints_the_blocks_as_json_and_signs_the_captured_uri(recorded: dict[str, Any]) -> None:
    granted: list[str] = []

    def grant(location: str) -> str:
        granted.append(location)
        return "https://portal.example/objects/mr2.png?token=a&b=c"

    html = render_template(template("textract-key-value"), recorded, grant_read_access=grant)

    # The captured URI is HTML (autoescaped pieces): the callback gets the text, once.
    assert granted == ["http://s3.amazonaws.com/textract-documentsbucket-sirajama/inputDocuments/mr2.png"]
    assert 'src="https://portal.example/objects/mr2.png?token=a&amp;b=c"' in html
    element = only(find_elements(html), "crowd-textract-analyze-document")
    assert element.name == "AWS/Textract/AnalyzeDocument/Forms/V1"
    assert element.attributes["src"] == "https://portal.example/objects/mr2.png?token=a&b=c"
    assert parse_attribute_literal(element.attributes["initial-value"]) == recorded["selectedAiServiceResponse"][
        "blocks"]
    assert parse_attribute_literal(element.attributes["block-types"]) == ["KEY_VALUE_SET"]
    assert element.attributes["keys"] == ""  # no humanLoopContext in the recording: undefined prints nothing


def test_textract_template_with_important_keys_prints_them_as_json(recorded: dict[str, Any]) -> None:
    task_input = {**recorded, "humanLoopContext": {"importantFormKeys": ["Policy Number:", "Total:"]}}
    html = render_template(template("textract-key-value"), task_input)

    element = only(find_elements(html), "crowd-textract-analyze-document")
    assert parse_attribute_literal(element.attributes["keys"]) == ["Policy Number:", "Total:"]
    assert element.attributes["src"] == (
        "https://textract-documentsbucket-sirajama.s3.amazonaws.com/inputDocuments/mr2.png")


# --- A2I's filters and printing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ task.input.text }}", "&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;"),
    ("{{ task.input.text | escape }}", "&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;"),
    ("{{ task.input.text | escape | escape }}", "&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;"),
    ("{{ task.input.escaped | escape_once }}", "Tom &amp; Jerry &lt;3"),
    ("{{ task.input.text | skip_autoescape }}", '<b>Tom & "Jerry"</b>'),
    ("{{ task.input.list }}", "[1, &#34;a&lt;b&#34;, {&#34;k&#34;: null}]"),
    ("{{ task.input.dict }}", "{&#34;k&#34;: [true, false]}"),
    ("{{ task.input.list | to_json }}", '[1, "a\\u003cb", {"k": null}]'),
    ("{{ task.input.list | to_json | escape }}", "[1, &#34;a\\u003cb&#34;, {&#34;k&#34;: null}]"),
    ("{{ task.input.missing }}|{{ task.input.missing.deeper }}|{{ task.input.missing | to_json }}", "||null"),
    ("{% for item in task.input.list %}({{ item }}){% endfor %}", "(1)(a&lt;b)({&#34;k&#34;: null})"),
    ("{{ task.input.list.size }} {{ task.input.number }} {{ task.input.flag }}", "3 2.5 true"),
    ('{{ "Have you read \'James & the Giant Peach\'?" }}', "Have you read 'James & the Giant Peach'?"),
    ('{{ "Tom & Jerry" | escape }}', "Tom &amp; Jerry"),
    ('{% capture c %}<i>{{ task.input.text }}</i>{% endcapture %}{{ c }}',
     "<i>&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;</i>"),
    ('{% capture c %}{{ task.input.text }}{% endcapture %}{{ c | escape }}',
     "&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;"),
    ("{% echo task.input.dict %}", "{&#34;k&#34;: [true, false]}"),
    ("{{ 's3://bucket/a key.png' | grant_read_access }}", "https://bucket.s3.amazonaws.com/a%20key.png"),
    ("{{ 'https://s3.amazonaws.com/bucket/k.png' | grant_read_access }}", "https://bucket.s3.amazonaws.com/k.png"),
    ("{{ 'https://example.com/x.png?a=1&b=2' | grant_read_access }}", "https://example.com/x.png?a=1&amp;b=2"),
    ("{{ task.input.missing | grant_read_access }}", ""),
])
def test_filters_and_printing(source: str, expected: str) -> None:
    task_input = {"text": '<b>Tom & "Jerry"</b>', "escaped": "Tom &amp; Jerry <3", "list": [1, "a<b", {"k": None}],
                  "dict": {"k": [True, False]}, "number": 2.5, "flag": True}
    assert render_template(source, task_input) == expected


def test_to_json_cannot_close_a_script_element() -> None:
    html = render_template("<script>var input = {{ task.input | to_json }};</script>", {"a": "</script><b>"})

    assert html == '<script>var input = {"a": "\\u003c/script\\u003e\\u003cb\\u003e"};</script>'
    assert json.loads(html[len("<script>var input = "):-len(";</script>")]) == {"a": "</script><b>"}


def test_grant_read_access_passes_urls_to_the_callback_as_written() -> None:
    granted: list[str] = []
    source = "{{ task.input.a | grant_read_access }} {{ task.input.b | grant_read_access }}"
    render_template(source, {"a": " s3://bucket/key ", "b": "https://bucket.s3.us-west-2.amazonaws.com/k%20x"},
                    grant_read_access=lambda location: granted.append(location) or "url")

    assert granted == ["s3://bucket/key", "https://bucket.s3.us-west-2.amazonaws.com/k%20x"]


@pytest.mark.parametrize(("location", "expected"), [
    ("s3://bucket/dir/key.png", ("bucket", "dir/key.png")),
    ("https://s3.amazonaws.com/bucket/dir/a%20b.png", ("bucket", "dir/a b.png")),
    ("http://s3.amazonaws.com/bucket/key", ("bucket", "key")),
    ("https://s3.eu-west-1.amazonaws.com/bucket/key", ("bucket", "key")),
    ("https://my.bucket.s3.us-east-1.amazonaws.com/key", ("my.bucket", "key")),
    ("https://bucket.s3-eu-west-1.amazonaws.com/key", ("bucket", "key")),
    ("https://bucket.s3.amazonaws.com/key", ("bucket", "key")),
    ("s3://bucket-only", None),
    ("https://s3.amazonaws.com/bucket", None),
    ("https://example.com/bucket/key", None),
    ("ftp://bucket/key", None),
])
def test_parse_s3_location(location: str, expected: tuple[str, str] | None) -> None:
    assert parse_s3_location(location) == expected


# --- errors name the line -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "line", "says"), [
    ("<crowd-form>\n  <p>hello</p>\n  {% if %}\n</crowd-form>", 3, "missing expression"),
    ("<p>\n{{ task.input.name | no_such_filter }}\n</p>", 2, "unknown filter 'no_such_filter'"),
    ("one\ntwo\nthree\n{% no_such_tag %}", 4, "unexpected tag 'no_such_tag'"),
    ("a\n{% for x in task.input.list %}\n{% if x %}{% endif %}\n{{ x }}", 2, "{% for %} is never closed"),
    ("a\n\n{{ task.input.name ", 3, "expected '}}'"),
    ("\n{{ task.input.name | append: 1, 2 }}", 2, "append"),
])
def test_errors_start_with_the_line(source: str, line: int, says: str) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        render_template(source, {"name": "x", "list": [1]})

    assert raised.value.line == line
    assert str(raised.value).startswith(f"line {line}: ")
    assert says in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_failing_grant_read_access_callback_is_an_error_at_its_line() -> None:
    def refuse(location: str) -> str:
        raise LookupError(f"no such object {location}")

    with pytest.raises(TemplateRenderError, match=r"^line 2: grant_read_access: s3://b/k: .*no such object") as raised:
        render_template("<p>\n<img src=\"{{ 's3://b/k' | grant_read_access }}\">", {}, grant_read_access=refuse)
    assert raised.value.line == 2
