"""``airflow-a2i template check``: what a task UI template needs that the local worker portal does not give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_a2i.cli import main
from airflow_a2i.local.portal.template_check import check_template, outside_origin

TEMPLATES = Path(__file__).parent / "templates"
CROWD_SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.liquid.html")), ids=lambda path: path.name)
def test_the_projects_own_templates_can_be_worked_on(template: Path) -> None:
    report = check_template(template.read_text())
    assert report.workable, report.problems()
    assert report.elements, "every test template uses crowd elements"


def test_an_element_the_portal_does_not_define_is_named() -> None:
    report = check_template(f'{CROWD_SCRIPT}<crowd-form><crowd-hologram name="x"></crowd-hologram>'
                            f'<crowd-input name="note"></crowd-input></crowd-form>')
    assert report.unsupported_elements == {"crowd-hologram"}
    assert not report.workable
    assert report.problems() == ["<crowd-hologram> is not an element the portal defines: its task cannot be done "
                                 "there"]


def test_outside_resources_are_named_by_origin_and_the_crowd_script_is_not() -> None:
    report = check_template(
        f"""{CROWD_SCRIPT}
        <script src="//cdn.example.org/lib.js"></script>
        <link rel="stylesheet" href="https://fonts.example.com/a.css">
        <img srcset="/local.png 1x, https://img.example.net/b.png 2x">
        <div style="background: url('https://img.example.net/c.png')"></div>
        <style>.x {{ background-image: url(http://css.example.io:8080/d.png) }}</style>
        <a href="https://docs.example.com/help">instructions</a>
        <img src="{{{{ task.input.image | grant_read_access }}}}"><img src="data:image/png;base64,AAAA">
        <crowd-form><crowd-input name="a"></crowd-input></crowd-form>""")
    assert report.outside_resources == {"https://cdn.example.org": {"script"}, "https://fonts.example.com": {"link"},
                                        "https://img.example.net": {"img", "div"},
                                        "http://css.example.io:8080": {"style"}}
    assert not report.workable
    assert any("--portal-allow-origin https://cdn.example.org" in problem for problem in report.problems())


def test_what_else_the_crowd_assets_host_serves_is_outside() -> None:
    report = check_template(f'{CROWD_SCRIPT}<img src="https://assets.crowd.aws/images/help.png">')
    assert report.outside_resources == {"https://assets.crowd.aws": {"img"}}


def test_inline_handlers_and_javascript_urls_are_named() -> None:
    report = check_template(f'{CROWD_SCRIPT}<crowd-form><button onclick="go()" onMouseOver="x()">go</button>'
                            f'<a href=" JavaScript:void(0)">x</a></crowd-form>')
    assert report.inline_handlers == {"onclick", "onmouseover"}
    assert report.javascript_urls == 1
    assert not report.workable


def test_a_url_from_the_task_input_is_a_note_not_a_problem() -> None:
    report = check_template(f'{CROWD_SCRIPT}<crowd-form><iframe src="{{{{ task.input.video }}}}"></iframe>'
                            f'<crowd-classifier name="c" categories="[\'a\']"></crowd-classifier></crowd-form>')
    assert report.workable
    assert report.input_urls == {"iframe"}
    assert "grant_read_access" in report.notes()[0]


@pytest.mark.parametrize(("url", "origin"), [
    ("https://Example.COM:8443/x?y", "https://example.com:8443"), ("//cdn.example.org/a.js", "https://cdn.example.org"),
    ("/portal/object", None), ("data:image/png;base64,AA", None), ("{{ task.input.url }}", None), ("http://", None)])
def test_outside_origin(url: str, origin: str | None) -> None:
    assert outside_origin(url) == origin


def test_the_command_exits_by_what_it_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.liquid.html", tmp_path / "bad.liquid.html"
    good.write_text(f'{CROWD_SCRIPT}<crowd-form><crowd-input name="a"></crowd-input></crowd-form>')
    bad.write_text(f'{CROWD_SCRIPT}<crowd-form><crowd-hologram name="x"></crowd-hologram></crowd-form>')
    assert main(["template", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"
    assert main(["template", "check", "--json", str(good), str(bad)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["template"], line["workable"]) for line in lines] == [(str(good), True), (str(bad), False)]
    assert lines[1]["elements"] == ["crowd-form", "crowd-hologram"]
    assert main(["template", "check", str(tmp_path / "missing.html")]) == 2
    assert "Cannot read" in capsys.readouterr().err
