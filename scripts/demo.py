"""`make demo`: the batch document review DAG end to end on the local A2I service.

Generates the sample documents (fixed seed), starts ``airflow-a2i local serve`` with a simulated
workforce that answers from the ground truth, uploads the documents, runs
``dags/a2i_batch_document_review.py`` with real Airflow (``dag.test()``: tasks, mapping, deferral and
the trigger, in this process), and prints what happened and where the results are; then the review report:
where it is, the conditions it recommends, and how close its estimate came to the ground truth. Leaves
nothing running.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The demo's data (demo/samples.py) lives in the repository, not in the installed package: importable here and in
# the local service this script starts (its answer callable).
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
DEMO = ROOT / ".demo"
SAMPLES = DEMO / "samples"
BUCKET = "a2i-demo"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # the local service's account (moto's default)
SAMPLING_PERCENTAGE = 20


def environment(endpoint: str) -> None:
    """Plain boto3 and Airflow reach the local service through AWS_ENDPOINT_URL; nothing else changes."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(variable, None)
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": REGION, "AIRFLOW_HOME": str(DEMO / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DEMO / "airflow" / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "A2I_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/a2i-demo",
        "A2I_WORKTEAM_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/demo-reviewers",
        "A2I_INPUT_S3_URI": f"s3://{BUCKET}/input", "A2I_OUTPUT_S3_URI": f"s3://{BUCKET}/output",
    })


def upload_samples() -> int:
    import boto3

    from demo.samples import upload_samples as upload

    return upload(boto3.client("s3"), SAMPLES, BUCKET)


def run_dag():
    from airflow.utils.db import initdb

    initdb()
    from demo.dag_runner import load_dag_file
    from demo.dag_runner import run_dag as run

    dag = load_dag_file(ROOT / "dags" / "a2i_batch_document_review.py")
    # 20% of the pages reviewed at random: enough of a sample, on 60 documents, for the report's estimate
    return run(dag, run_conf={"poll_seconds": 2, "sampling_percentage": SAMPLING_PERCENTAGE})


def report(summary_uri: str, results_uri: str, elapsed: float) -> None:
    import boto3

    s3 = boto3.client("s3")

    def read(uri: str) -> str:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    lines = [json.loads(line) for line in read(results_uri).splitlines() if line.strip()]
    (DEMO / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    truth = {record["document"]: record for record in
             (json.loads(line) for line in (SAMPLES / "ground_truth.jsonl").read_text().splitlines())}
    documents = {line.get("document") for line in lines}
    reviewed = [line for line in lines if line.get("human_loop_name")]
    print(f"\nDocuments: {len(documents)}, pages: {len(lines)}; sent to review: {len(reviewed)} pages "
          f"({100 * len(reviewed) / max(len(lines), 1):.0f}%)")
    reasons: dict[str, int] = {}
    for line in reviewed:  # the conditions: a key-value pair read with less than 80% confidence
        for field in line.get("fields") or []:
            if (field.get("machine_confidence") or 100) < 80:
                reasons[field["key"]] = reasons.get(field["key"], 0) + 1
    ranked = sorted(reasons.items(), key=lambda pair: (-pair[1], pair[0]))
    more = f" and {len(ranked) - 6} more keys" if len(ranked) > 6 else ""
    print("Why: values read with less than 80% confidence, "
          + ", ".join(f"{key!r} {count}" for key, count in ranked[:6]) + more)
    before, after, total = accuracy(lines, truth)
    print(f"Field accuracy against the ground truth: {before}/{total} ({100 * before / max(total, 1):.1f}%) "
          f"before review, {after}/{total} ({100 * after / max(total, 1):.1f}%) after")
    spent = [answer.get("time_spent_in_seconds") or 0 for line in reviewed for answer in line.get("answers") or []]
    if spent:
        print(f"Review time: {sum(spent):.0f} s in all, median {statistics.median(spent):.1f} s a page")
    print(f"Results: {results_uri}\nSummary: {summary_uri}\nA copy: {DEMO / 'results.jsonl'}; "
          f"the demo took {elapsed:.0f} s")
    print("People instead of simulated reviewers: see 'Reviewing without A2I' in the README (the worker portal)")


def accuracy(lines: list[dict], truth: dict[str, dict]) -> tuple[int, int, int]:
    """Fields right before review (machine values) and after (human values where reviewed), of all true fields."""
    found: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for line in lines:
        document = (line.get("document") or "").removeprefix(f"s3://{BUCKET}/input/")
        for field in line.get("fields") or []:
            final = field.get("human_value") if field.get("reviewed") else field.get("machine_value")
            found[(document, field["key"])] = (field.get("machine_value"), final)
    before = after = total = 0
    for document, record in truth.items():
        for key, value in record["fields"].items():
            machine, final = found.get((document, key), (None, None))
            total += 1
            before += machine == value
            after += final == value
    return before, after, total


def review_report(report: dict, lines: list[dict], truth: dict[str, dict]) -> None:
    """Where the review report is, its recommendation, and how close its estimate came to the ground truth."""
    import boto3

    from airflow_a2i.report.command import summary_text

    s3 = boto3.client("s3")
    local = DEMO / "report"
    local.mkdir(parents=True, exist_ok=True)
    for uri in (report["report_uri"], report["figures_uri"]):
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        (local / key.rsplit("/", 1)[1]).write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    figures = json.loads((local / "report.json").read_text())
    print("\n" + summary_text(figures, f"{report['report_uri']} (a copy: {local / 'report.html'})"))
    right, total = truly_right(lines, truth)
    estimate = figures["estimate"]
    if estimate["accuracy"] is not None and total:
        low, high = estimate["accuracy_interval"]
        actual = right / total
        verdict = "inside" if low <= actual <= high else "outside"
        print(f"Against the ground truth: the fields the machine read are {actual:.2%} right after review "
              f"({right}/{total}); the estimate said {estimate['accuracy']:.2%} ({low:.2%} to {high:.2%}): "
              f"{abs(estimate['accuracy'] - actual) * 100:.2f} points off, {verdict} its interval")


def truly_right(lines: list[dict], truth: dict[str, dict]) -> tuple[int, int]:
    """Of the fields the machine read (not those reviewers added), how many are right after review."""
    right = total = 0
    for line in lines:
        record = truth.get((line.get("document") or "").removeprefix(f"s3://{BUCKET}/input/"))
        for field in line.get("fields") or []:
            if field.get("added_by_reviewer") or record is None or field["key"] not in record["fields"]:
                continue
            final = field.get("human_value") if field.get("reviewed") else field.get("machine_value")
            total += 1
            right += final == record["fields"][field["key"]]
    return right, total


def main() -> int:
    started = time.monotonic()
    from demo.samples import GROUND_TRUTH_ENV, write_samples
    from demo.service import ServiceProcess

    shutil.rmtree(DEMO, ignore_errors=True)
    summary = write_samples(SAMPLES)
    print(f"Sample documents: {summary.documents} ({summary.multi_page} multi-page PDFs, {summary.pages} pages) "
          f"in {SAMPLES}")
    os.environ[GROUND_TRUTH_ENV] = str(SAMPLES)
    service = ServiceProcess(DEMO / "a2i-local", "--workforce", "auto", "--workforce-delay", "1", "4",
                             "--answer-callable", "samples=demo.samples:ground_truth_answer",
                             "--workforce-callable", "samples")
    with service:
        environment(service.endpoint)
        print(f"Local A2I service: {service.endpoint} (simulated reviewers answer from the ground truth)")
        print(f"Uploaded {upload_samples()} documents to s3://{BUCKET}/input/")
        dag_run = run_dag()
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        print(f"DAG run {dag_run.run_id}: {dag_run.state} {states}")
        if str(dag_run.state) != "success":
            return 1
        from demo.dag_runner import xcom

        results = xcom(dag_run, "results")
        report(results["summary_uri"], results["results_uri"], time.monotonic() - started)
        lines = [json.loads(line) for line in (DEMO / "results.jsonl").read_text().splitlines() if line.strip()]
        truth = {record["document"]: record for record in
                 (json.loads(line) for line in (SAMPLES / "ground_truth.jsonl").read_text().splitlines())}
        review_report(xcom(dag_run, "report"), lines, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
