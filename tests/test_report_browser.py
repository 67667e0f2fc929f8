"""The review report's page in Chromium: it opens from a file with no request beyond itself and no console error,
and shows its plots (the README's screenshot comes from here: test-artifacts/screenshots/review-report.png)."""

from __future__ import annotations

import pytest

from airflow_a2i.report.build import build_report
from airflow_a2i.report.files import report_files, write_local
from tests.browser import browser, page, save_screenshot  # noqa: F401 (fixtures)
from tests.report_data import conditions, generate_pages, result_rows

pytestmark = pytest.mark.timeout(120)


def _open(page, path):  # noqa: F811 (page: the fixture)
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return requests, problems


def test_the_report_page_opens_offline_with_its_plots(page, tmp_path):  # noqa: F811
    rows, _ = result_rows(generate_pages(30, 400), conditions(80, 10), seed=30, task_count=2)
    report = build_report(rows, sources=["s3://bucket/runs/2026-01-01/results/results.jsonl"], target_accuracy=0.97)
    written = write_local(tmp_path / "report", report_files(report, plots=True))
    requests, problems = _open(page, written["report.html"])
    assert requests == [written["report.html"].as_uri()]  # nothing else: no font, script, image or stylesheet
    assert problems == []
    headings = page.locator("h2").all_inner_texts()
    assert headings[:6] == ["Errors nobody reviewed", "Recommendation", "Threshold curve", "Volume",
                            "Quality of the reviewed fields", "People"]
    assert page.locator("svg").count() == 4  # the curve, per key, calibration, review times: drawn, not blank
    for index in range(4):
        box = page.locator("svg").nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
    assert "KeyValueBlockConfidenceLessThan" in page.locator("pre").inner_text()
    # the top of the page (the figures, the estimate, the recommendation, the curves): docs/screenshots/ has a copy
    # (quantized to 256 colours, as the README shows it)
    curves = page.locator("svg").nth(1).bounding_box()
    bottom = curves["y"] + curves["height"] + 8
    save_screenshot(page, "review-report", clip={"x": 0, "y": 0, "width": 1280, "height": bottom})


def test_the_page_without_plots_opens_clean_too(page, tmp_path):  # noqa: F811
    rows, _ = result_rows(generate_pages(31, 50), conditions(80, sampling=0), seed=31)
    written = write_local(tmp_path / "report", report_files(build_report(rows), plots=False))
    requests, problems = _open(page, written["report.html"])
    assert requests == [written["report.html"].as_uri()] and problems == []
    assert page.locator("svg").count() == 0
    notes = page.locator(".note").all_inner_texts()
    assert any("No sample" in note for note in notes) and any("airflow-a2i[report]" in note for note in notes)
