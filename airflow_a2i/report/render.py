"""The review report as one self-contained HTML page: inline CSS and SVG plots, no script, no outside resource.

A Content-Security-Policy in the page forbids every fetch, so it opens offline, from a file, or from S3 alike.
Plots need matplotlib (``pip install 'airflow-a2i[report]'``), imported here only; without it the page has the
tables and says how to get the plots.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1d2430; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d8dde6; padding-bottom: .2rem;
margin-top: 2.2rem; }
.sources { color: #5a6475; font-size: .85rem; word-break: break-all; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #d8dde6; border-radius: 8px; padding: .6rem .9rem; min-width: 150px; background: #f7f9fc; }
.card b { display: block; font-size: 1.35rem; } .card span { color: #5a6475; font-size: .85rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #e3e7ee; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f0f3f8; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5rem .8rem; margin: .8rem 0; }
.good { background: #e8f5e9; border-left-color: #2e7d32; }
pre { background: #f0f3f8; padding: .8rem; white-space: pre-wrap; font-size: .85rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; } .plots svg { max-width: 100%; height: auto; }
.muted { color: #5a6475; font-size: .85rem; }
"""


def _percent(value: object, digits: int = 1) -> str:
    return f"{float(value) * 100:.{digits}f}%" if isinstance(value, int | float) else "n/a"


def _interval(value: object, digits: int = 1) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return f"{_percent(value[0], digits)} to {_percent(value[1], digits)}"
    return "n/a"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'


def _conditions_json(document: Mapping[str, Any]) -> str:
    """The conditions, one to a line: valid JSON, short enough to read."""
    lines = ",\n".join(f"  {json.dumps(item)}" for item in document["Conditions"])
    return '{"Conditions": [\n' + lines + "\n]}"


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_html(report: Mapping[str, Any], *, plots: bool | None = None) -> str:
    """The page. ``plots``: draw them (default: when matplotlib is installed)."""
    draw = plots_available() if plots is None else plots
    volume, estimate, recommendation = report["volume"], report["estimate"], report["recommendation"]
    people, quality = report["people"], report["quality"]
    svgs = _plots(report) if draw else {}
    parts = [f"<h1>Review report</h1><p class=\"sources\">{html.escape(', '.join(report['sources']) or 'results')}</p>"]
    parts.append('<div class="cards">' + "".join([
        _card(str(volume["documents"]), "documents"), _card(str(volume["pages"]), "pages"),
        _card(_percent(volume["review_share"]), "of pages sent to review"),
        _card(f"{volume['fields_corrected']} / {volume['fields_reviewed']}", "reviewed fields corrected"),
        _card(_percent(estimate["accuracy"], 2), "estimated field accuracy after review"),
        _card(_percent(recommendation["accuracy"], 2) if recommendation["conditions"] else "none",
              "accuracy with the recommended conditions"),
    ]) + "</div>")
    if not draw:
        parts.append('<p class="note">No plots: install them with <code>pip install "airflow-a2i[report]"</code> '
                     "(matplotlib) and build the report again.</p>")

    parts.append("<h2>Errors nobody reviewed</h2>")
    good = " good" if estimate["accuracy"] is not None else ""
    parts.append(f'<p class="note{good}">{html.escape(estimate["note"])}</p>')
    parts.append(_table(["", ""], [
        ["fields read by the machine", estimate["fields"]],
        ["reviewed because of the conditions", estimate["fields"] - estimate["unreviewed"] - estimate["sample"]],
        ["reviewed by chance (Sampling), the sample", estimate["sample"]],
        ["errors in the sample", estimate["sample_errors"]], ["not reviewed", estimate["unreviewed"]],
        ["error rate among unreviewed fields", f"{_percent(estimate['error_rate'])} "
                                               f"({_interval(estimate['error_rate_interval'])})"],
        ["errors left (estimate)", "n/a" if estimate["errors_left"] is None else f"{estimate['errors_left']:.1f}"],
        ["field accuracy after review", f"{_percent(estimate['accuracy'], 2)} "
                                        f"({_interval(estimate['accuracy_interval'], 2)})"],
        ["keys reviewers added (the machine missed them)", estimate["added"]],
        ["fields of loops not finished", estimate["pending"]]]))

    parts.append("<h2>Recommendation</h2>")
    parts.append(f"<p>{html.escape(recommendation['explanation'])}</p>")
    if recommendation["conditions"]:
        parts.append("<p>Activation conditions, as <code>A2ICreateFlowDefinitionOperator(activation_conditions=...)"
                     "</code> and <code>airflow-a2i activation simulate</code> take them:</p>")
        parts.append(f"<pre>{html.escape(_conditions_json(recommendation['conditions']))}</pre>")

    parts.append("<h2>Threshold curve</h2>")
    parts.append("<p>For each <code>KeyValueBlockConfidenceLessThan</code> threshold on every key: the share of pages "
                 "it sends to review against the share of fields left wrong (exact where people reviewed the "
                 "fields, estimated from the sample elsewhere; the band is the 95% interval).</p>")
    parts.append('<div class="plots">' + svgs.get("curve", "") + svgs.get("keys", "") + "</div>")
    curve_rows = [[f"{point['threshold']:g}", _percent(point["page_review_rate"]), _percent(point["field_review_rate"]),
                   _percent(point["error_rate"], 2), _interval(point["error_rate_interval"], 2)]
                  for point in report["threshold_curve"] if point["threshold"] in _SHOWN_THRESHOLDS or
                  point["threshold"] in (report.get("current_threshold"), recommendation.get("threshold"))]
    parts.append(_table(["threshold", "pages reviewed", "fields reviewed", "fields left wrong", "interval"],
                        curve_rows))
    parts.append(f"<p class=\"muted\">Current conditions: <code>{html.escape(json.dumps(report['current_conditions']))}"
                 "</code></p>")

    parts.append("<h2>Volume</h2>")
    parts.append(_table(["", ""], [["documents", volume["documents"]], ["pages", volume["pages"]],
                                   ["loops", volume["loops"]], ["pages sampled", volume["pages_sampled"]]] +
                        [[f"loops {status}", count] for status, count in volume["loops_by_status"].items()]))
    parts.append("<p>Why pages went to review (a loop can meet several conditions):</p>")
    parts.append(_table(["condition", "loops", "share of pages"], [
        [item["condition"], item["loops"], _percent(item["share_of_pages"])] for item in volume["conditions_met"]]))
    parts.append(_table(["key", "fields reviewed"], [[item["key"], item["fields_reviewed"]]
                                                      for item in volume["reviewed_per_key"][:15]]))

    parts.append("<h2>Quality of the reviewed fields</h2>")
    parts.append("<p class=\"muted\">What people did with the fields they reviewed. These were chosen mostly for "
                 "their low confidence: not a picture of the machine overall.</p>")
    parts.append('<div class="plots">' + svgs.get("calibration", "") + "</div>")
    parts.append(_table(["key", "reviewed", "corrected", "correction rate"], [
        [item["key"], item["reviewed"], item["corrected"], _percent(item["correction_rate"])]
        for item in quality["per_key"][:15]]))
    parts.append(_table(["confidence", "reviewed", "corrected", "kept"], [
        [band["band"], band["reviewed"], band["corrected"], _percent(band["kept_share"])]
        for band in quality["per_band"]]))

    parts.append("<h2>People</h2>")
    spread = people["time_percentiles"] or {}
    parts.append(f"<p>{people['answers']} answers, {people['seconds']:.0f} s in all; per task p50 "
                 f"{spread.get('p50', 'n/a')} s, p90 {spread.get('p90', 'n/a')} s, p99 {spread.get('p99', 'n/a')} s."
                 "</p>")
    parts.append('<div class="plots">' + svgs.get("times", "") + "</div>")
    parts.append(_table(["worker", "tasks", "seconds", "median s", "tasks per hour"], [
        [item["worker_id"], item["tasks"], f"{item['seconds']:.0f}", f"{item['median_seconds']:.1f}",
         "n/a" if item["tasks_per_hour"] is None else f"{item['tasks_per_hour']:.0f}"]
        for item in people["workers"][:20]]))
    agreement = people["agreement"]
    parts.append(f"<p>Agreement where several workers answered: {agreement['loops']} loop(s), mean "
                 f"{_percent(agreement['mean'])}, all agreeing in {_percent(agreement['full_agreement_share'])}.</p>")
    parts.append(_table(["key", "fields", "seconds per field"], [
        [item["key"], item["fields"], f"{item['mean_seconds']:.1f}"] for item in people["slowest_keys"]]))

    parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in report["notes"]) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Review report</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


_SHOWN_THRESHOLDS = frozenset({0.0, 50.0, 60.0, 70.0, 80.0, 85.0, 90.0, 92.0, 94.0, 95.0, 96.0, 97.0, 98.0, 99.0,
                               99.5, 100.0})


def _plots(report: Mapping[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    drawers: dict[str, Callable[[Any, Mapping[str, Any]], bool]] = {
        "curve": _curve_plot, "keys": _keys_plot, "calibration": _calibration_plot, "times": _times_plot}
    return {name: svg for name, draw in drawers.items() if (svg := _svg(name, draw, report))}


def _svg(name: str, draw: Callable[[Any, Mapping[str, Any]], bool], report: Mapping[str, Any]) -> str:
    import matplotlib.pyplot as plt
    from matplotlib import rc_context

    # text stays text (no embedded glyphs); the salt keeps each inline SVG's ids apart from the others'
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": f"a2i-report-{name}", "font.size": 9}):
        figure, axes = plt.subplots(figsize=(5.2, 3.6))
        try:
            if not draw(axes, report):
                return ""
            figure.tight_layout()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # the XML prolog and DOCTYPE do not belong inline
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def _curve_plot(axes: Any, report: Mapping[str, Any]) -> bool:
    points = [point for point in report["threshold_curve"] if point["error_rate"] is not None]
    if not points:
        return False
    review = [point["page_review_rate"] * 100 for point in points]
    axes.plot(review, [point["error_rate"] * 100 for point in points], color="#1f5fbf", label="global threshold")
    axes.fill_between(review, [point["error_rate_interval"][0] * 100 for point in points],
                      [point["error_rate_interval"][1] * 100 for point in points], color="#1f5fbf", alpha=.15)
    for threshold, label, color in ((report.get("current_threshold"), "current", "#c62828"),
                                    (report["recommendation"].get("threshold"), "recommended", "#2e7d32")):
        point = next((point for point in points if point["threshold"] == threshold), None)
        if point is not None:
            axes.scatter([point["page_review_rate"] * 100], [point["error_rate"] * 100], color=color, zorder=3,
                         label=f"{label} (< {threshold:g})")
    recommendation = report["recommendation"]
    if recommendation.get("per_key_thresholds") and recommendation.get("accuracy") is not None:
        axes.scatter([recommendation["review_rate"] * 100], [(1 - recommendation["accuracy"]) * 100], marker="D",
                     color="#2e7d32", zorder=3, label="recommended (per key, with Sampling)")
    axes.set_xlabel("pages sent to review (%)")
    axes.set_ylabel("fields left wrong (%)")
    axes.set_title("Review rate caused vs error rate left")
    axes.legend(frameon=False)
    axes.grid(alpha=.3)
    return True


def _keys_plot(axes: Any, report: Mapping[str, Any]) -> bool:
    drawn = False
    for item in report["key_curves"]:
        points = [point for point in item["curve"] if point["error_rate"] is not None]
        if points:
            axes.plot([point["threshold"] for point in points], [point["error_rate"] * 100 for point in points],
                      label=item["key"])
            drawn = True
    if not drawn:
        return False
    current = report.get("current_threshold")
    if current is not None:
        axes.axvline(current, color="#c62828", linestyle="--", linewidth=1, label=f"current (< {current:g})")
    axes.set_xlabel("KeyValueBlockConfidenceLessThan")
    axes.set_ylabel("fields of the key left wrong (%)")
    axes.set_title("Per key: error rate left by threshold")
    axes.set_xlim(50, 100)
    axes.legend(frameon=False, fontsize=7)
    axes.grid(alpha=.3)
    return True


def _calibration_plot(axes: Any, report: Mapping[str, Any]) -> bool:
    bands = [band for band in report["quality"]["per_band"] if band["reviewed"]]
    if not bands:
        return False
    axes.plot([0, 100], [0, 100], color="#999999", linestyle=":", label="calibrated")
    axes.scatter([band["mean_confidence"] for band in bands], [band["kept_share"] * 100 for band in bands],
                 s=[20 + 200 * band["reviewed"] / max(item["reviewed"] for item in bands) for band in bands],
                 color="#1f5fbf", label="reviewed fields, per band")
    axes.set_xlabel("machine confidence (%)")
    axes.set_ylabel("values people kept (%)")
    axes.set_title("Calibration")
    axes.set_xlim(0, 101)
    axes.set_ylim(0, 102)
    axes.legend(frameon=False)
    axes.grid(alpha=.3)
    return True


def _times_plot(axes: Any, report: Mapping[str, Any]) -> bool:
    times = report["people"]["times"]
    if not times:
        return False
    axes.hist(times, bins=min(30, max(5, len(times) // 5)), color="#1f5fbf", alpha=.8)
    for name, value in (report["people"]["time_percentiles"] or {}).items():
        axes.axvline(value, color="#c62828", linestyle="--", linewidth=1)
        axes.text(value, axes.get_ylim()[1] * .95, f" {name}", color="#c62828", fontsize=7, va="top")
    axes.set_xlabel("seconds per task")
    axes.set_ylabel("answers")
    axes.set_title("Review time")
    return True
