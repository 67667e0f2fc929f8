"""``airflow-a2i report``: the review report of results files, written to a folder, its gist printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from airflow_a2i.activation.model import ActivationConditionError


def summary_text(report: Mapping[str, Any], where: str) -> str:
    """What the command (and the demo) prints: the volume, the estimate, the recommendation."""
    volume, estimate, recommendation = report["volume"], report["estimate"], report["recommendation"]
    lines = [f"Review report: {where}",
             f"  {volume['pages']} pages, {volume['review_share']:.1%} sent to review; "
             f"{volume['fields_corrected']} of {volume['fields_reviewed']} reviewed fields corrected"]
    if estimate["accuracy"] is not None:
        low, high = estimate["accuracy_interval"]
        lines.append(f"  Field accuracy after review, estimated: {estimate['accuracy']:.2%} ({low:.2%} to {high:.2%}); "
                     f"{estimate['errors_left']:.1f} error(s) estimated left in {estimate['unreviewed']} unreviewed "
                     f"field(s), from a sample of {estimate['sample']}")
    else:
        lines.append(f"  {estimate['note']}")
    lines.append(f"  Recommendation: {recommendation['explanation']}")
    if recommendation["conditions"]:
        lines.append(f"  Activation conditions: {json.dumps(recommendation['conditions'], separators=(',', ':'))}")
    return "\n".join(lines)


def run_report(sources: Sequence[str], out: str | Path, *, target_accuracy: float | None = None,
               review_budget: float | None = None, sampling_percentage: float | None = None,
               conditions_file: str | Path | None = None, keys: Sequence[str] = (), plots: bool | None = None,
               as_json: bool = False, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Exit 0 written, 1 results unreadable, 2 bad arguments."""
    from airflow_a2i.report.build import build_report, headline
    from airflow_a2i.report.data import load_conditions
    from airflow_a2i.report.files import REPORT_HTML, iter_rows, report_files, results_location, write_local
    from airflow_a2i.report.recommend import check_aim

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    conditions = None
    try:
        check_aim(target_accuracy if target_accuracy is not None or review_budget is not None else 0.99,
                  review_budget, sampling_percentage)
        locations = [results_location(source) for source in sources]
        if conditions_file is not None:
            conditions = load_conditions(Path(conditions_file).read_text(encoding="utf-8"))
    except (ValueError, OSError, ActivationConditionError) as error:
        print(f"airflow-a2i report: {error}", file=stderr)
        return 2
    try:
        # the rows are read as the report is built
        report = build_report(iter_rows(locations), sources=locations, conditions=conditions,
                              target_accuracy=target_accuracy, review_budget=review_budget,
                              sampling_percentage_=sampling_percentage, important_keys=list(keys) or None)
    except FileNotFoundError as error:
        print(f"airflow-a2i report: {error}", file=stderr)
        return 1
    except ValueError as error:  # a line that is not a results line (the arguments were checked above)
        print(f"airflow-a2i report: {error}", file=stderr)
        return 1
    except Exception as error:  # botocore's (no bucket, no credentials), without importing botocore here
        print(f"airflow-a2i report: cannot read the results: {error}", file=stderr)
        return 1
    written = write_local(out, report_files(report, plots=plots))
    if as_json:
        print(json.dumps({"report": str(written[REPORT_HTML]), **headline(report)}, indent=2), file=stdout)
    else:
        print(summary_text(report, str(written[REPORT_HTML])), file=stdout)
    return 0
