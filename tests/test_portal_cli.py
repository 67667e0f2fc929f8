"""``airflow-a2i template render`` (an offline preview of a task template) and ``airflow-a2i local worker``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_a2i.cli import main
from tests.conftest import unique
from tests.portal_client import PortalClient

ROOT = Path(__file__).resolve().parent.parent


def test_render_writes_a_page_that_works_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "preview.html"
    code = main(["template", "render", "--template", str(ROOT / "dags" / "templates" / "custom_review.liquid.html"),
                 "--input", json.dumps({"text": "<b>bold?</b>", "prompt": "Total?"}), "--out", str(out)])
    assert code == 0
    assert f"into {out}" in capsys.readouterr().out
    page = out.read_text()
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "Total?" in page
    assert "customElements.define" in page  # the portal's crowd elements, inlined
    assert not re.search(r"<script[^>]+src=", page)  # nothing to fetch: crowd-html-elements.js is left out


def test_render_reads_the_input_from_a_file_and_prints_the_page(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "t.liquid.html"
    template.write_text("<p>{% for item in task.input.items %}[{{ item }}]{% endfor %}</p>")
    task_input = tmp_path / "input.json"
    task_input.write_text(json.dumps({"items": ["a", "b"]}))
    assert main(["template", "render", "--template", str(template), "--input", f"@{task_input}"]) == 0
    assert "<p>[a][b]</p>" in capsys.readouterr().out


def test_a_render_error_names_the_template_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "broken.liquid.html"
    template.write_text("<p>one</p>\n<p>two</p>\n{{ task.input.x | no_such_filter }}\n")
    assert main(["template", "render", "--template", str(template), "--input", "{}"]) == 1
    error = capsys.readouterr().err
    assert f"{template}: line 3:" in error and "no_such_filter" in error


@pytest.mark.parametrize(("given", "message"), [
    ("not json", "Cannot read the template or the input"),
    ("[1, 2]", "--input must be a JSON object"),
])
def test_bad_input_is_refused_with_what_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str,
                                                message: str) -> None:
    template = tmp_path / "t.liquid.html"
    template.write_text("<p>{{ task.input }}</p>")
    assert main(["template", "render", "--template", str(template), "--input", given]) == 2
    assert message in capsys.readouterr().err


def test_worker_add_prints_a_one_time_credential_that_logs_in(portal_endpoint: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    name = unique("cli-worker")
    assert main(["local", "worker", "add", name, "--team", "reviewers"]) == 0
    printed = capsys.readouterr().out
    credential = re.search(r"Credential \(shown this once; give it to the worker\): (\S+)", printed)
    assert credential, printed
    assert PortalClient(portal_endpoint).log_in(name, credential.group(1)).url.endswith("/portal/tasks")

    assert main(["local", "worker", "list"]) == 0
    assert re.search(rf"^{name}\tteam reviewers\tworkerId [0-9a-f]{{16}}$", capsys.readouterr().out, re.M)
    assert main(["local", "worker", "remove", name]) == 0
    capsys.readouterr()
    assert main(["local", "worker", "remove", name]) == 1
    assert f"There is no worker named '{name}'" in capsys.readouterr().err
    refused = PortalClient(portal_endpoint).log_in(name, credential.group(1))
    assert refused.status_code == 401
