"""Benchmarks: the baseline users write today against airflow-a2i, in one process, against a local service.

``make bench`` (or ``.venv/bin/python benchmarks/run.py [--n 2000] [--memory-loops 10000]``). Starts its own
local A2I service in a temporary directory, with fake credentials; never real AWS. Prints one table and
writes it to ``benchmarks/results.md``.

``--only parse`` (DAG file parse time on each Airflow venv) or ``--only import`` (import cost) measures just that,
without the local service, and updates those rows and their note in ``benchmarks/results.md``, the others kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# Before boto3 or Airflow are imported: fake credentials, no profile, a throwaway Airflow home.
WORK_DIR = Path(tempfile.mkdtemp(prefix="airflow-a2i-bench-"))
for _variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_RETRY_MODE",
                  "AWS_MAX_ATTEMPTS"):
    os.environ.pop(_variable, None)
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": str(WORK_DIR / "aws-config-absent"),
    "AWS_SHARED_CREDENTIALS_FILE": str(WORK_DIR / "aws-credentials-absent"),
    "AIRFLOW_HOME": str(WORK_DIR / "airflow-home"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(WORK_DIR / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
})
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import events, measure, parse, scale  # noqa: E402
from benchmarks.table import Row, machine, merge, render  # noqa: E402

# What ``--only`` measures: its function (notes) -> rows, and how its rows and note begin.
ONLY = {
    "parse": (lambda notes, args: parse.parse_time(notes, runs=args.parse_runs, log=measure.log),
              "DAG file parse time, ", "Parse time"),
    "import": (lambda notes, args: measure.import_cost(notes), "Import cost on top of airflow.sdk", "Import cost: "),
    "events": (lambda notes, args: with_bench(lambda bench: events.event_vs_poll(bench, notes)), "Events vs polling",
               "Events vs polling"),
    "scale": (lambda notes, args: with_bench(lambda bench: scale.scale(bench, notes, tuple(args.scale_sizes))),
              "Scale ", "Scale: "),
}


def with_bench(measure_with: Any) -> Any:
    """Run one measurement against its own local service."""
    with measure.Bench(WORK_DIR) as bench:
        return measure_with(bench)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="loops started and waited on per arm (default 2000)")
    parser.add_argument("--memory-loops", type=int, default=10_000,
                        help="loops the batch trigger waits on while its memory is traced (default 10000)")
    parser.add_argument("--reviews", type=float, nargs="+", default=[5.0, 15.0],
                        help="review durations (s) for the worker-slot measurement (default 5 15)")
    parser.add_argument("--latency-loops", type=int, default=500,
                        help="loops per arm of the start comparison with 50 ms added per call (0: skip; default 500)")
    parser.add_argument("--skip-deployment", action="store_true",
                        help="skip the latency measurement on a real Airflow deployment")
    parser.add_argument("--parse-runs", type=int, default=parse.PARSE_RUNS,
                        help=f"fresh interpreters per venv and DAG file, parse time (default {parse.PARSE_RUNS})")
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=list(scale.SIZES),
                        help="batch sizes of the scale section (default 1000 10000; 100000 takes much longer)")
    parser.add_argument("--only", choices=sorted(ONLY),
                        help="measure only this; its rows and note replace theirs in the output, the rest is kept")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args()

    rows: list[Row] = []
    notes: list[str] = []
    if args.only:
        measure_only, row_prefix, note_prefix = ONLY[args.only]
        rows = measure_only(notes, args)
        notes = [f"{note} (Measured alone by `benchmarks/run.py --only {args.only}`: {machine()}.)" for note in notes]
        previous = args.output.read_text() if args.output.exists() else render([], machine(), [], args)
        text = merge(previous, rows, notes, row_prefix, note_prefix)
        print(text)
        args.output.write_text(text)
        print(f"Written to {args.output}")
        return 0
    with measure.Bench(WORK_DIR) as bench:
        capacity = bench.capacity()
        quota = max(1, min(50, int(capacity / 2)))
        notes.append(f"Local service capacity: {capacity:.0f} StartHumanLoop/s with 8 threads (a 3 s burst); "
                     f"enforced StartHumanLoop quota: {quota}/s.")
        rows += bench.start_arms(args.n, quota, notes)
        if args.latency_loops:
            rows += bench.start_with_latency(args.latency_loops, quota, 0.05, notes)
        rows += bench.wait_arms(args.n, args.reviews, notes)
        rows += bench.memory(args.memory_loops, notes)
        rows += events.event_vs_poll(bench, notes)
        rows += scale.scale(bench, notes, tuple(args.scale_sizes))
        if args.skip_deployment:
            notes.append("Latency on a real deployment: not measured (--skip-deployment).")
        else:
            rows += bench.deployment_latency(notes)
    rows += measure.import_cost(notes)
    rows += parse.parse_time(notes, runs=args.parse_runs, log=measure.log)

    text = render(rows, machine(), notes, args)
    print(text)
    args.output.write_text(text)
    print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(WORK_DIR, ignore_errors=True)
