"""The benchmarks' one table, and the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    measurement: str
    baseline: str
    ours: str
    ratio: str = ""
    goal: str = ""
    met: bool | None = None  # None: no goal


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def ratio(ours: float, baseline: float) -> str:
    if baseline == 0:
        return "n/a"
    return f"{ours / baseline:.3f}"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = subprocess.run(
        [sys.executable, "-c", "import airflow, botocore, boto3; "
         "print(airflow.__version__, botocore.__version__, boto3.__version__)"],
        capture_output=True, text=True, check=False).stdout.split()
    airflow_version, botocore_version, boto3_version = [*versions, "?", "?", "?"][:3]
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Airflow {airflow_version}, botocore {botocore_version}, "
            f"boto3 {boto3_version}; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def table_line(row: Row) -> str:
    met = "" if row.met is None else ("yes" if row.met else "**no**")
    return "| " + " | ".join([row.measurement, row.baseline, row.ours, row.ratio, row.goal, met]) + " |"


def render(rows: list[Row], machine_text: str, notes: list[str], args: Any) -> str:
    header = ["Measurement", "Baseline", "Ours", "Ratio (ours/baseline)", "Goal", "Met?"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [table_line(row) for row in rows]
    body = [
        "# Benchmark results",
        "",
        f"Machine: {machine_text}.",
        f"Command: `benchmarks/run.py --n {args.n} --memory-loops {args.memory_loops} "
        f"--latency-loops {args.latency_loops} --reviews "
        f"{' '.join(str(r) for r in args.reviews)}{' --skip-deployment' if args.skip_deployment else ''}"
        f"{f' --parse-runs {args.parse_runs}' if getattr(args, 'parse_runs', None) else ''}`.",
        "",
        *lines,
        "",
        "Notes:",
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    return "\n".join(body)


def merge(text: str, rows: list[Row], notes: list[str], row_prefix: str, note_prefix: str) -> str:
    """``text`` (a rendered table) with its rows beginning ``row_prefix`` and notes beginning ``note_prefix``
    replaced by ``rows`` and ``notes``, where the first of them was (else after the last row, the last note)."""
    lines = text.splitlines()

    def replace(old: list[int], new: list[str], after: int) -> None:
        at = old[0] if old else after + 1
        for index in reversed(old):
            del lines[index]
        lines[at:at] = new

    table = [index for index, line in enumerate(lines) if line.startswith("| ")]
    replace([index for index in table if lines[index].startswith(f"| {row_prefix}")],
            [table_line(row) for row in rows], table[-1])
    listed = [index for index, line in enumerate(lines) if line.startswith("- ")]
    if not listed:
        lines += ["", "Notes:", ""]
    replace([index for index in listed if lines[index].startswith(f"- {note_prefix}")],
            [f"- {note}" for note in notes], listed[-1] if listed else len(lines) - 1)
    return "\n".join(lines) + "\n"
