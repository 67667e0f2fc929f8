"""The review report's computations on generated results with known truth (pure tier)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_a2i.activation import parse_conditions, simulate
from airflow_a2i.activation.model import TEXTRACT
from airflow_a2i.report.build import build_report, headline
from airflow_a2i.report.data import pages_of, recorded_conditions, selects_field
from airflow_a2i.report.estimates import estimate_errors_left, strata, threshold_curve, wilson_interval
from airflow_a2i.report.recommend import recommend
from tests.report_data import accuracy_under, conditions, generate_pages, response_documents, result_rows

REPETITIONS = 40


def _true_unreviewed_error_rate(truths: list[list[dict[str, Any]]]) -> float:
    unreviewed = [field for page in truths for field in page if not field["reviewed"]]
    return sum(field["wrong"] for field in unreviewed) / len(unreviewed)


@given(successes=st.integers(0, 500), extra=st.integers(0, 500))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_the_wilson_interval_holds_the_share(successes, extra):
    trials = successes + extra
    if trials == 0:
        assert wilson_interval(0, 0) is None
        return
    low, high = wilson_interval(successes, trials)
    assert 0 <= low <= successes / trials <= high <= 1
    assert high - low < 1 if trials > 3 else True


def test_the_estimate_holds_the_true_error_rate_in_most_repetitions():
    """The unreviewed fields' true error rate lies in the 95% interval in most seeded repetitions; the interval
    is not vacuous (a 0-100% interval would always hold it)."""
    held, widths = 0, []
    for seed in range(REPETITIONS):
        rows, truths = result_rows(generate_pages(seed, 400), conditions(80, 10), seed=seed)
        estimate = build_report(rows)["estimate"]
        low, high = estimate["error_rate_interval"]
        truth = _true_unreviewed_error_rate(truths)
        held += low <= truth <= high
        widths.append(high - low)
        total = sum(len(page) for page in truths)
        true_accuracy = 1 - sum(field["wrong"] and not field["reviewed"] for page in truths for field in page) / total
        assert estimate["fields"] == total and estimate["known_errors"] + estimate["sample_errors"] == sum(
            field["wrong"] and field["reviewed"] for page in truths for field in page)
        assert (estimate["accuracy_interval"][0] <= true_accuracy <= estimate["accuracy_interval"][1]) == \
            (low <= truth <= high)
    assert held >= 0.85 * REPETITIONS, f"{held} of {REPETITIONS}"
    assert max(widths) < 0.12


def test_without_a_sample_the_report_says_so_and_recommends_nothing():
    rows, truths = result_rows(generate_pages(3, 200), conditions(80, sampling=0), seed=3)
    report = build_report(rows)
    estimate = report["estimate"]
    assert estimate["sample"] == 0 and estimate["error_rate"] is None and estimate["accuracy"] is None
    assert "No sample" in estimate["note"] and "Sampling" in estimate["note"]
    assert report["recommendation"]["conditions"] is None
    assert "without a sample" in report["recommendation"]["explanation"]
    # the curve gives what reviews saw: a lower bound, no rate
    assert all(point["error_rate"] is None for point in report["threshold_curve"])
    seen_at_current = next(point for point in report["threshold_curve"] if point["threshold"] == 80)["errors_seen"]
    assert seen_at_current == 0  # the errors under 80 were all reviewed; those above it, nobody saw
    assert _true_unreviewed_error_rate(truths) > 0


def test_the_current_conditions_are_read_back_from_the_loops():
    rows, _ = result_rows(generate_pages(4, 60), conditions(75, 20), seed=4)
    read = recorded_conditions(rows)
    assert read == conditions(75, 20)
    report = build_report(rows)
    assert (report["current_threshold"], report["current_sampling_percentage"]) == (75, 20)
    assert selects_field(read, "Total", 74.9) and not selects_field(read, "Total", 75)


def test_the_threshold_curve_at_the_current_threshold_is_what_happened():
    rows, truths = result_rows(generate_pages(5, 300), conditions(80, 10), seed=5)
    pages = pages_of(rows)
    curve = {point.threshold: point for point in threshold_curve(pages, strata(pages, conditions(80, 10)))}
    by_confidence = [point.page_review_rate for point in curve.values()]
    assert by_confidence == sorted(by_confidence)  # more threshold, more review
    assert curve[0].page_review_rate == 0 and curve[100].field_review_rate > 0.99
    # at 80, the pages the confidence condition sent (Sampling aside) are those the loops recorded
    confidence_pages = sum(1 for row in rows if row["activation_results"] and
                           row["activation_results"]["Conditions"][0]["EvaluationResult"])
    assert curve[80].page_review_rate == pytest.approx(confidence_pages / len(rows))
    errors = [point.error_rate for point in curve.values()]
    assert errors[0] > errors[-1] == 0  # reviewing everything leaves none
    assert sum(field["wrong"] for page in truths for field in page) > 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize("per_key", [True, False], ids=["thresholds per key", "one threshold"])
def test_the_recommendation_applied_on_held_out_data_reaches_its_prediction(per_key):
    """The recommended conditions, evaluated by activation simulate on new pages from the same source, give
    an accuracy within the stated interval in most repetitions, and the target when the interval promised it."""
    target = 0.96
    held = reached = promised = 0
    seeds = range(10)
    for seed in seeds:
        rows, _ = result_rows(generate_pages(seed, 500), conditions(80, 10), seed=seed)
        recommendation = build_report(rows, target_accuracy=target, per_key_thresholds=per_key)["recommendation"]
        assert (recommendation["per_key_thresholds"] is not None) == (recommendation["threshold"] is None)
        chosen = parse_conditions(json.dumps(recommendation["conditions"]), TEXTRACT)  # as the JSON is taken
        held_out = generate_pages(1000 + seed, 600)
        report = simulate(chosen, response_documents(held_out))
        assert not report.skipped
        selected = []
        for page, (_, result) in zip(held_out, report.results, strict=True):
            ids = {block["Id"] for block in result.selected_response.get("Blocks", [])}
            selected.append({key for key, ident in page.key_ids.items() if ident in ids})
        accuracy = accuracy_under(selected, held_out)
        low, high = recommendation["accuracy_interval"]
        held += low - 0.004 <= accuracy <= high + 0.004  # the held-out pages' own chance: about 0.4 points
        review_rate = report.to_dict()["share"]
        assert review_rate == pytest.approx(recommendation["review_rate"], abs=0.05)
        if low >= target:
            promised += 1
            reached += accuracy >= target - 0.004
    assert held >= 0.8 * len(seeds), held
    assert promised and reached >= 0.8 * promised


def test_thresholds_per_key_review_fewer_pages_where_keys_differ():
    """The generated keys are misread at 2% to 12%: one threshold per key reaches the target with fewer pages."""
    rows, _ = result_rows(generate_pages(14, 500), conditions(80, 10), seed=14)
    per_key = build_report(rows, target_accuracy=0.96)["recommendation"]
    single = build_report(rows, target_accuracy=0.96, per_key_thresholds=False)["recommendation"]
    assert per_key["accuracy_interval"][0] >= 0.96 and single["accuracy_interval"][0] >= 0.96
    assert per_key["review_rate"] < single["review_rate"] - 0.1
    thresholds = per_key["per_key_thresholds"]
    assert thresholds["Total"] > thresholds.get("Account", 0)  # the worst-read key gets the highest threshold
    named = [item["ConditionParameters"]["ImportantFormKey"] for item in per_key["conditions"]["Conditions"]
             if item["ConditionType"] == "ImportantFormKeyConfidenceCheck"]
    assert named == sorted(thresholds) and "*" not in named


def test_a_review_budget_gives_the_most_accurate_threshold_within_it():
    rows, _ = result_rows(generate_pages(6, 300), conditions(80, 10), seed=6)
    recommendation = build_report(rows, review_budget=0.5, per_key_thresholds=False)["recommendation"]
    assert recommendation["review_rate"] <= 0.5 and recommendation["meets_target"]
    richer = build_report(rows, review_budget=0.9, per_key_thresholds=False)["recommendation"]
    assert richer["accuracy"] >= recommendation["accuracy"] and richer["threshold"] >= recommendation["threshold"]
    per_key = build_report(rows, review_budget=0.5)["recommendation"]  # per key: as accurate or more, in budget
    assert per_key["review_rate"] <= 0.5 and per_key["accuracy"] >= recommendation["accuracy"]
    with pytest.raises(ValueError, match="exactly one"):
        recommend([], target_accuracy=0.9, review_budget=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        recommend([], target_accuracy=99)


def test_an_unreachable_target_says_so():
    rows, _ = result_rows(generate_pages(7, 300), conditions(80, 10), seed=7)
    recommendation = build_report(rows, target_accuracy=1.0)["recommendation"]
    assert not recommendation["meets_target"] or recommendation["accuracy"] == 1.0
    if not recommendation["meets_target"]:
        assert "no confidence threshold reaches" in recommendation["explanation"]


def test_the_recommended_conditions_are_what_the_flow_definition_operator_takes():
    from airflow_a2i.operators.flow_definition import A2ICreateFlowDefinitionOperator

    rows, _ = result_rows(generate_pages(8, 200), conditions(80, 10), seed=8)
    document = build_report(rows)["recommendation"]["conditions"]
    A2ICreateFlowDefinitionOperator(
        task_id="flow", flow_definition_name="tuned", role_arn="arn:aws:iam::123456789012:role/a2i",
        workteam_arn="arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
        output_s3_path="s3://bucket/out", human_task_ui_arn="arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/ui",
        human_loop_request_source=TEXTRACT, activation_conditions=document, task_title="Check",
        task_description="Check the values")


def test_volume_quality_and_people_on_rows_counted_by_hand():
    def field(key, confidence, reviewed=False, corrected=False):
        return {"key": key, "machine_value": "x", "machine_confidence": confidence, "human_value": None,
                "reviewed": reviewed, "corrected": corrected, "added_by_reviewer": confidence is None}

    def loop(name, fields, answers, agreement=1.0, sampled=False, met=("*",)):
        results = {"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": {
            "ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 80}, "EvaluationResult": "*" in met},
            {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 10},
             "EvaluationResult": sampled}]}
        return {"item_key": name, "human_loop_name": name, "status": "Completed", "document": f"doc-{name[0]}",
                "answers": [{"worker_id": worker, "time_spent_in_seconds": seconds} for worker, seconds in answers],
                "agreement": agreement, "activation_results": results, "sampled": sampled, "fields": fields}

    rows = [
        loop("a1", [field("Total", 50, True, True), field("Date", 99)], [("w1", 30), ("w2", 50)], agreement=0.5),
        loop("a2", [field("Total", 70, True), field("Date", 97, True, True), field("Name", None, True, True)],
             [("w1", 10)], sampled=True),
        {"item_key": "b1", "human_loop_name": None, "status": None, "document": "doc-b", "answers": None,
         "agreement": None, "activation_results": None, "sampled": False, "fields": [field("Total", 99)]},
        {"item_key": "c1", "human_loop_name": "c1", "status": "InProgress", "document": "doc-c", "answers": None,
         "agreement": None, "activation_results": None, "sampled": None, "fields": [field("Total", 60)]},
    ]
    report = build_report(rows)
    volume = report["volume"]
    assert (volume["documents"], volume["pages"], volume["loops"], volume["pages_sent_to_review"]) == (3, 4, 3, 3)
    assert volume["loops_by_status"] == {"Completed": 2, "InProgress": 1}
    assert volume["pages_sampled"] == 1
    assert [(item["condition"], item["loops"]) for item in volume["conditions_met"]] == [
        ("ImportantFormKeyConfidenceCheck('*' KVLessThan=80)", 2), ("Sampling(10%)", 1)]
    assert (volume["fields"], volume["fields_reviewed"], volume["fields_corrected"], volume["fields_added"]) == \
        (7, 4, 3, 1)
    quality = {item["key"]: item for item in report["quality"]["per_key"]}
    assert (quality["Total"]["reviewed"], quality["Total"]["corrected"]) == (2, 1)
    bands = {band["band"]: band for band in report["quality"]["per_band"]}
    assert bands["50-70"]["reviewed"] == 1 and bands["50-70"]["kept_share"] == 0
    assert bands["70-80"]["kept_share"] == 1
    estimate = report["estimate"]
    # the sampled page's Date (97, not selected by <80) is the sample: 1 of 1 wrong; Total 50 and 70 are known;
    # a1's Date and b1's Total are unreviewed; c1's Total waits on its loop; a2's Name was added by the reviewer
    assert (estimate["sample"], estimate["sample_errors"], estimate["unreviewed"], estimate["pending"],
            estimate["added"], estimate["known_errors"], estimate["fields"]) == (1, 1, 2, 1, 1, 1, 5)
    assert estimate["error_rate"] == 1 and estimate["accuracy"] == pytest.approx(1 - 2 / 5)
    people = report["people"]
    assert (people["answers"], people["seconds"]) == (3, 90)
    assert people["time_percentiles"] == {"p50": 30, "p90": 50, "p99": 50}
    assert [(worker["worker_id"], worker["tasks"], worker["tasks_per_hour"]) for worker in people["workers"]] == [
        ("w1", 2, 180.0), ("w2", 1, 72.0)]
    assert people["agreement"] == {"loops": 1, "mean": 0.5, "full_agreement_share": 0.0}
    # a1: 40 s mean over 1 reviewed field; a2: 10 s over 3 fields
    assert [(key["key"], key["mean_seconds"]) for key in people["slowest_keys"]] == [
        ("Total", pytest.approx((40 + 10 / 3) / 2)), ("Date", pytest.approx(10 / 3)),
        ("Name", pytest.approx(10 / 3))]
    assert headline(report)["pages"] == 4


def test_rows_that_are_not_results_lines_are_refused():
    with pytest.raises(ValueError, match="line 2 is not a results line"):
        pages_of([{"human_loop_name": None}, {"something": 1}])


def test_an_empty_sample_per_key_gives_no_rate_for_that_key():
    rows, _ = result_rows(generate_pages(9, 100), conditions(80, 10), seed=9)
    report = build_report(rows, important_keys=["Total", "Not A Key"])
    keys = {item["key"]: item for item in report["key_curves"]}
    assert keys["Not A Key"]["fields"] == 0 and keys["Not A Key"]["estimate"]["accuracy"] is None
    assert keys["Total"]["fields"] > 0
    assert estimate_errors_left(strata([], None)).accuracy is None


def _write_results(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_the_command_combines_runs_and_writes_the_page_and_the_figures(tmp_path, capsys):
    from airflow_a2i.cli import main

    first, _ = result_rows(generate_pages(10, 150), conditions(80, 10), seed=10)
    second, _ = result_rows(generate_pages(11, 150), conditions(80, 10), seed=11)
    _write_results(tmp_path / "run-1" / "results.jsonl", first)
    _write_results(tmp_path / "run-2" / "results.jsonl", second)
    code = main(["report", str(tmp_path / "run-1"), str(tmp_path / "run-2" / "results.jsonl"),
                 "--out", str(tmp_path / "out"), "--target-accuracy", "0.95", "--key", "Total", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    figures = json.loads((tmp_path / "out" / "report.json").read_text())
    assert figures["volume"]["pages"] == printed["pages"] == 300
    assert [item["key"] for item in figures["key_curves"]] == ["Total"]
    assert printed["recommended_conditions"] == figures["recommendation"]["conditions"]
    # the conditions file `activation simulate` takes, as it is
    conditions_file = tmp_path / "recommended.json"
    conditions_file.write_text(json.dumps(printed["recommended_conditions"]))
    assert parse_conditions(conditions_file.read_text(), TEXTRACT).document() == printed["recommended_conditions"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "Content-Security-Policy" in page
    # nothing the page would fetch: no src/href but in-page references, no url(), no @import
    import re

    assert not [ref for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) if not ref.startswith("#")]
    assert not [ref for ref in re.findall(r"url\(([^)]*)\)", page) if not ref.startswith("#")]
    assert "@import" not in page and "<script" not in page
    import html

    shown = html.unescape(page.split("<pre>", 1)[1].split("</pre>", 1)[0])
    assert json.loads(shown) == printed["recommended_conditions"]  # the page's JSON can be copied as it is


def test_the_command_says_what_is_wrong(tmp_path, capsys):
    from airflow_a2i.cli import main

    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"human_loop_name": null}\nnot json\n')
    assert main(["report", str(bad), "--out", str(tmp_path / "out")]) == 1
    assert "line 2 is not JSON" in capsys.readouterr().err
    rows, _ = result_rows(generate_pages(12, 20), conditions(80, 10), seed=12)
    good = _write_results(tmp_path / "good.jsonl", rows)
    assert main(["report", str(good), "--out", str(tmp_path / "out"), "--review-budget", "30"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    conditions_file = tmp_path / "conditions.json"
    conditions_file.write_text('{"Conditions": []}')
    assert main(["report", str(good), "--out", str(tmp_path / "out"), "--conditions", str(conditions_file)]) == 2
    assert "is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", str(good), "--out", "x", "--target-accuracy", "0.9", "--review-budget", "0.3"])


def test_without_plots_the_page_has_the_tables_and_says_how_to_get_plots(tmp_path):
    from airflow_a2i.report.files import report_files

    rows, _ = result_rows(generate_pages(13, 60), conditions(80, 10), seed=13)
    page = report_files(build_report(rows), plots=False)["report.html"]
    assert "<svg" not in page and "airflow-a2i[report]" in page and "<table>" in page


def test_building_a_report_imports_no_plotting_library_and_the_operator_module_no_report():
    import subprocess
    import sys

    for check in ("import sys, airflow_a2i.report.build, airflow_a2i.report.files, airflow_a2i.report.command; "
                  "assert 'matplotlib' not in sys.modules",
                  # a DAG file's parse pays for the operator, not for the report's computations or plots
                  "import sys, airflow_a2i.operators.report; "
                  "assert not [name for name in sys.modules if name.startswith(('airflow_a2i.report', 'matplotlib'))]"):
        subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


_confidences = st.one_of(st.none(), st.floats(0, 100, allow_nan=False))
_fields = st.lists(st.fixed_dictionaries({
    "key": st.sampled_from(["Total", "Date", "Name:", ""]), "machine_confidence": _confidences,
    "reviewed": st.booleans(), "corrected": st.booleans(), "added_by_reviewer": st.booleans()}), max_size=5)
_rows = st.lists(st.fixed_dictionaries({
    "item_key": st.one_of(st.none(), st.text(max_size=5)), "human_loop_name": st.one_of(st.none(), st.text(max_size=5)),
    "status": st.sampled_from([None, "Completed", "Failed", "InProgress", "Missing"]),
    "answers": st.one_of(st.none(), st.lists(st.fixed_dictionaries({
        "worker_id": st.sampled_from(["w1", "w2"]), "time_spent_in_seconds": st.one_of(st.none(), st.floats(0, 1e4))}),
        max_size=3)),
    "agreement": st.one_of(st.none(), st.floats(0, 1)), "sampled": st.one_of(st.none(), st.booleans()),
    "fields": st.one_of(st.none(), _fields),
    "activation_results": st.one_of(st.none(), st.just(conditions(80, 10).document()))}), max_size=12)


@given(rows=_rows, aim=st.sampled_from([{"target_accuracy": 0.99}, {"review_budget": 0.3}, {"target_accuracy": 1}]))
@settings(max_examples=60)
def test_any_results_give_a_report_and_a_page(rows, aim):
    """Odd results (no fields, no loops, missing times, fields added, unknown conditions) never break the report:
    its figures are JSON and its page renders; what cannot be estimated says so."""
    from airflow_a2i.report.files import report_files

    report = build_report(rows, **aim)
    files = report_files(report, plots=False)
    assert json.loads(files["report.json"])["volume"]["pages"] == len(rows)
    estimate = report["estimate"]
    assert (estimate["accuracy"] is None) == (estimate["accuracy_interval"] is None)
    if estimate["accuracy"] is not None:
        low, high = estimate["accuracy_interval"]
        assert 0 <= low <= estimate["accuracy"] <= high <= 1
    for point in report["threshold_curve"]:
        if point["error_rate"] is not None:
            low, high = point["error_rate_interval"]
            assert 0 <= low <= point["error_rate"] <= high <= 1
    recommendation = report["recommendation"]
    assert (recommendation["conditions"] is None) == (recommendation["accuracy"] is None)


def test_rows_are_read_in_one_pass():
    """The operator and the command stream a batch's rows: a one-shot iterator gives the same report as a list."""
    rows, _ = result_rows(generate_pages(15, 120), conditions(80, 10), seed=15)
    assert build_report(iter(rows)) == build_report(rows)
