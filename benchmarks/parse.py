"""DAG file parse time on each Airflow line: our example DAG against the same DAG on the SageMaker operators.

``benchmarks/run.py --only parse`` (or part of ``make bench``). For each venv that exists (the main ``.venv`` and
each ``.compat/<line>``, compat/build-venv), every sample is a fresh interpreter of that venv that first imports
what Airflow's DAG processor has imported before it opens a file (its own module, ``airflow.dag_processing
.processor``, and on Airflow 3 the Task SDK's task runner that its parsing entry point imports) and runs provider
discovery, then times (CPU and wall time) the parse of ONE DAG file as that version's processor does it:
``DagBag`` on the file (``BundleDagBag`` where the processor uses it, ``load_op_links=False`` on Airflow 3, as its
``_parse_file``), then the DAGs' serialization (Airflow 3: the processor's own ``_serialize_dags``; Airflow 2:
``SerializedDAG.to_dict``, what the processor writes to the database). The DB write and the IPC are left out: they
do not depend on the file's imports.

Three variants, each file in each: plain (the above); what differs (boto3 and the Amazon provider's AWS base,
which both files import first, imported untimed: the rest is what the two files do differently); and after the
processor's pre-import: the DAG processor's parent imports the ``airflow.*`` modules a file imports before it
forks the child that parses the file (``parsing_pre_import_modules``, on by default), so that step runs untimed
before the parse.

The goal is judged on instruction counts: each venv, file and variant is also parsed once under callgrind,
instrumented only between the parse script's two calls into a small library gcc builds from callgrind.h (the
same count in every run, where CPU time moves by a few % on a shared machine). Without valgrind or gcc the CPU
times carry the goal.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.table import Row

ROOT = Path(__file__).resolve().parent.parent
OURS_DAG = ROOT / "dags" / "a2i_custom_review.py"
BASELINE_DAG = ROOT / "benchmarks" / "dags" / "sagemaker_custom_review.py"
PARSE_RUNS = 15
# Another session may rebuild a compat venv meanwhile: a failed parse is retried this many times, this far apart.
REBUILD_WAITS, REBUILD_WAIT_SECONDS = 10, 30

# Run by each venv's interpreter: DAG_FILE [pre-import]; prints one JSON line last.
PARSE_SCRIPT = r"""
import json, sys, time
from pathlib import Path

began = time.perf_counter()
import airflow
from airflow.dag_processing import processor
try:
    import airflow.sdk.execution_time.task_runner  # imported by Airflow 3's parsing entry point
except ImportError:
    pass
from airflow.providers_manager import ProvidersManager
ProvidersManager().initialize_providers_list()
path = sys.argv[1]
if hasattr(processor, "_serialize_dags"):  # Airflow 3: what _parse_file does
    import structlog
    bag_class = getattr(processor, "BundleDagBag", processor.DagBag)
    kwargs = {"dag_folder": path, "bundle_path": Path(path).parent, "load_op_links": False}
    if bag_class is processor.DagBag:
        kwargs["include_examples"] = False
    log = structlog.get_logger()
    def serialize(bag):
        serialized, errors = processor._serialize_dags(bag, log)
        return len(serialized), errors
else:  # Airflow 2: DagFileProcessor's DagBag, then what save_dag_to_db serializes
    from airflow.models.dagbag import DagBag as bag_class
    from airflow.serialization.serialized_objects import SerializedDAG
    kwargs = {"dag_folder": path, "include_examples": False}
    def serialize(bag):
        return len([SerializedDAG.to_dict(dag) for dag in bag.dags.values()]), {}
if len(sys.argv) > 2 and sys.argv[2] == "aws-base":  # what both files import first: boto3, the AWS base
    import botocore.exceptions
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink
    from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
if len(sys.argv) > 2 and sys.argv[2] == "pre-import":  # what the processor's parent does before it forks
    if hasattr(processor, "_pre_import_airflow_modules"):
        import structlog
        processor._pre_import_airflow_modules(path, structlog.get_logger())
    else:
        import importlib
        from airflow.utils.file import iter_airflow_imports
        for module in iter_airflow_imports(path):
            importlib.import_module(module)
import os
counter = None
if os.environ.get("A2I_CALLGRIND_COUNTER"):  # under callgrind: count the parse below, nothing before or after it
    import ctypes
    counter = ctypes.CDLL(os.environ["A2I_CALLGRIND_COUNTER"])
    counter.a2i_count_start()
warm, warm_cpu = time.perf_counter(), time.process_time()
bag = bag_class(**kwargs)
loaded, loaded_cpu = time.perf_counter(), time.process_time()
count, errors = serialize(bag)
done, done_cpu = time.perf_counter(), time.process_time()
if counter:
    counter.a2i_count_stop()
print(json.dumps({"warm": warm - began, "load": loaded - warm, "serialize": done - loaded,
                  "cpu_load": loaded_cpu - warm_cpu, "cpu_serialize": done_cpu - loaded_cpu,
                  "dags": {dag_id: len(dag.tasks) for dag_id, dag in bag.dags.items()}, "serialized": count,
                  "errors": {**bag.import_errors, **errors}, "airflow": airflow.__version__}))
"""


@dataclass
class Venv:
    label: str
    python: Path
    home: Path


def venvs(home_root: Path) -> list[Venv]:
    """The main venv, then each ``.compat/<line>`` of compat/matrix.txt that exists."""
    found = [Venv("3.3.2 (make test)", ROOT / ".venv" / "bin" / "python", home_root / "main")]
    for line in (ROOT / "compat" / "matrix.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split()[:2]
            python = ROOT / ".compat" / name / "bin" / "python"
            if python.exists():
                found.append(Venv(version, python, home_root / name))
    return found


# Instructions are counted only between the parse script's two calls (client requests of callgrind.h): the
# interpreter runs at valgrind's uninstrumented speed until then, about 17 s a parse on Airflow 3.
CALLGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
             "--callgrind-out-file=/dev/null"]
COUNTER_SOURCE = """#include <valgrind/callgrind.h>
void a2i_count_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
void a2i_count_stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_STOP_INSTRUMENTATION; }
"""


def build_counter(folder: Path) -> tuple[Path | None, str]:
    """The library the parse script calls to count its parse under callgrind, and why there is none."""
    missing = [tool for tool in ("valgrind", "gcc") if shutil.which(tool) is None]
    if missing:
        return None, f"{' and '.join(missing)} not found"
    source, library = folder / "counter.c", folder / "counter.so"
    source.write_text(COUNTER_SOURCE)
    built = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0:  # most likely valgrind's headers (Debian's valgrind package has them) are absent
        return None, f"gcc could not build the callgrind counter: {built.stderr.strip()[-300:]}"
    return library, ""


def parse_once(venv: Venv, dag_file: Path, *options: str, counter: Path | None = None) -> dict:
    """One parse of ``dag_file`` in a fresh interpreter of ``venv``; fails on import errors or a missing DAG.

    With ``counter`` (build_counter's library) it runs under callgrind and the report's ``instructions`` are the
    parse's alone (the interpreter's start and imports before it run uninstrumented, uncounted)."""
    venv.home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTHON"))}
    env.update({"AIRFLOW_HOME": str(venv.home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent), "AWS_DEFAULT_REGION": "us-east-1"})
    command = [str(venv.python), "-c", PARSE_SCRIPT, str(dag_file), *options]
    if counter is not None:
        # A fixed hash seed: set and dict orders, and so the instructions, are the same in every run.
        env.update({"A2I_CALLGRIND_COUNTER": str(counter), "PYTHONHASHSEED": "0"})
        command = [*CALLGRIND, *command]
    # cwd outside the repository: a compat venv imports airflow_a2i from its wheel, never from the checkout.
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=venv.home,
                            timeout=600 if counter is None else 1800)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"parsing {dag_file.name} with {venv.python} exited {result.returncode}:\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    report = json.loads(lines[-1])
    if report["errors"] or len(report["dags"]) != 1 or report["serialized"] != 1:
        raise RuntimeError(f"parsing {dag_file.name} with Airflow {report['airflow']}: {report}")
    if counter is not None:
        collected = re.search(r"Collected : (\d+)", result.stderr)
        if collected is None:
            raise RuntimeError(f"callgrind reported no count for {dag_file.name}:\n{result.stderr[-2000:]}")
        report["instructions"] = int(collected.group(1))
    return report


# What the processor's parent does before each file's child, or not: (row label part, PARSE_SCRIPT options).
VARIANTS = {"plain": ("", ()),
            "aws-base": (", what differs (boto3 and the Amazon provider's AWS base imported first)", ("aws-base",)),
            "pre-import": (", after the processor's pre-import of the file's airflow.* imports", ("pre-import",))}
FILES = {"baseline": BASELINE_DAG, "ours": OURS_DAG}


def parse_time(notes: list[str], runs: int = PARSE_RUNS, log=print) -> list[Row]:
    arms = [(variant, file) for variant in VARIANTS for file in FILES]
    with tempfile.TemporaryDirectory(prefix="airflow-a2i-parse-") as home_root:
        targets = venvs(Path(home_root))
        log(f"parse time: {', '.join(venv.label for venv in targets)}; {runs} runs of {len(arms)} arms")
        for venv in targets:  # the Airflow home's first run, the file cache and the DAG files' bytecode
            for dag_file in FILES.values():
                parse_once(venv, dag_file)
        samples: dict[tuple[str, str, str], list[dict]] = {(v.label, *arm): [] for v in targets for arm in arms}

        def sample(venv: Venv, variant: str, file: str, counter: Path | None = None) -> dict:
            """One parse; when the venv is being rebuilt meanwhile (compat/build-venv), wait for it, warm it again
            (its first imports compile bytecode), then measure."""
            for attempt in range(REBUILD_WAITS):
                try:
                    return parse_once(venv, FILES[file], *VARIANTS[variant][1], counter=counter)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                    if attempt == REBUILD_WAITS - 1:
                        raise
                    log(f"parse time: {venv.label} failed ({str(error).strip().splitlines()[-1][:200]}); "
                        f"waiting {REBUILD_WAIT_SECONDS} s for a rebuild of the venv")
                    time.sleep(REBUILD_WAIT_SECONDS)
                    with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
                        for warm_file in FILES.values():
                            parse_once(venv, warm_file)
            raise AssertionError("unreachable")

        for round_index in range(runs):  # interleaved: a change in the machine's load touches every arm alike
            for venv in targets:
                shift = round_index % len(arms)  # each arm takes each place in the order in turn
                for variant, file in arms[shift:] + arms[:shift]:
                    samples[(venv.label, variant, file)].append(sample(venv, variant, file))
            log(f"parse time: round {round_index + 1}/{runs} done")

        # The counts: one run each is enough, they are the same in every run. Two at a time (the machine's two
        # cores): a count does not depend on what else runs.
        counter, no_counter = build_counter(Path(home_root))
        counts: dict[tuple[str, str, str], int] = {}
        if counter is None:
            log(f"parse time: no instruction counts ({no_counter})")
        else:
            keys = [(venv, variant, file) for venv in targets for variant, file in arms]
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                reports = pool.map(lambda key: sample(key[0], key[1], key[2], counter), keys)
                for (venv, variant, file), report in zip(keys, reports, strict=True):
                    counts[(venv.label, variant, file)] = report["instructions"]
            log(f"parse time: {len(counts)} instruction counts done")

    def median(label: str, variant: str, file: str, *keys: str) -> float:
        return statistics.median(sum(one[key] for key in keys) for one in samples[(label, variant, file)])

    def paired(label: str, variant: str, *keys: str) -> float:
        """The median of each round's ours/baseline (the two ran in the same round, close in time)."""
        return statistics.median(sum(o[key] for key in keys) / sum(b[key] for key in keys) for b, o in zip(
            samples[(label, variant, "baseline")], samples[(label, variant, "ours")], strict=True))

    cpu, wall = ("cpu_load", "cpu_serialize"), ("load", "serialize")
    rows: list[Row] = []
    details: dict[str, list[str]] = {variant: [] for variant in VARIANTS}
    for variant, (label_part, _) in VARIANTS.items():
        for venv in targets:
            label = venv.label
            base, ours = (median(label, variant, file, *cpu) for file in FILES)
            wall_base, wall_ours = (median(label, variant, file, *wall) for file in FILES)
            # The ratio of each round (both files parsed moments apart), its median: the machine's drift between
            # rounds cancels out, which a ratio of two medians keeps.
            value = paired(label, variant, *cpu)
            log(f"parse time, Airflow {label}{label_part}: CPU baseline {base:.3f} s, ours {ours:.3f} s, paired "
                f"ratio {value:.3f}; wall {wall_base:.3f} s, {wall_ours:.3f} s, ratio {wall_ours / wall_base:.3f}")
            measurement = (f"DAG file parse time, Airflow {label}{label_part}: SageMaker-operators DAG vs "
                           "a2i_custom_review")
            if counts:  # the goal is judged on the counts: the CPU times' run-to-run spread is as large as the gap
                base_count, ours_count = (counts[(label, variant, file)] for file in FILES)
                log(f"parse time, Airflow {label}{label_part}: instructions baseline {base_count:,}, ours "
                    f"{ours_count:,}, ratio {ours_count / base_count:.3f}")
                rows.append(Row(f"{measurement} (instructions, millions)", f"{base_count / 1e6:.1f}",
                                f"{ours_count / 1e6:.1f}", f"{ours_count / base_count:.3f}", "<= 1.0",
                                ours_count <= base_count))
                rows.append(Row(f"{measurement} (CPU s)", f"{base:.3f}", f"{ours:.3f}", f"{value:.3f}"))
            else:
                rows.append(Row(f"{measurement} (CPU s)", f"{base:.3f}", f"{ours:.3f}", f"{value:.3f}", "<= 1.0",
                                value <= 1.0))
            details[variant].append(
                f"{label}: DagBag {median(label, variant, 'baseline', 'cpu_load'):.3f} vs "
                f"{median(label, variant, 'ours', 'cpu_load'):.3f} s, serialization "
                f"{median(label, variant, 'baseline', 'cpu_serialize'):.3f} vs "
                f"{median(label, variant, 'ours', 'cpu_serialize'):.3f} s, paired ratio "
                f"{paired(label, variant, *cpu):.3f}; wall {wall_base:.3f} vs {wall_ours:.3f} s (paired "
                f"{paired(label, variant, *wall):.3f})")
    if counts:
        count_note = (
            "The (instructions, millions) rows, which the goal is judged on, count the instructions the same parse "
            "executes, one run per venv, file and variant under callgrind (`valgrind --tool=callgrind "
            "--instr-atstart=no`; the parse script switches counting on just before the DagBag and off after the "
            "serialization, through callgrind.h's client requests in a library gcc builds for the run; "
            "`PYTHONHASHSEED=0`). The CPU times moved by about 5% between runs on this machine, as much as the "
            "difference between the files, and the same comparison came out above and below 1.0 on different "
            "days; a count is the same in every run (two runs of each file differed by 0.03%), whatever else the "
            "machine is doing. It counts work, not waiting: what a parse costs the DAG processor's CPU.")
    else:
        count_note = f"No instruction counts this run ({no_counter}): the goal is judged on the CPU times."
    warm = ", ".join(f"{venv.label} {median(venv.label, 'plain', 'ours', 'warm'):.1f} s" for venv in targets)
    notes.append(
        f"Parse time: median of {runs} fresh interpreters per venv, DAG file and variant, interleaved (every venv "
        "and arm each round, the order rotating). Each interpreter first imports what the DAG processor has "
        "imported before it opens a file (`airflow.dag_processing.processor`, on Airflow 3 the Task SDK's task "
        "runner its parsing entry point imports; both import airflow.sdk) and runs provider discovery "
        f"(`ProvidersManager().initialize_providers_list()`), not timed (medians: {warm}); then the timed parse "
        "of one file as that version's processor does it: `DagBag` on the file (`BundleDagBag` and "
        "`load_op_links=False` as Airflow 3's `_parse_file`; `DagBag(file, include_examples=False)` as Airflow 2's "
        "processor), then its DAG's serialization (the processor's own `_serialize_dags` on Airflow 3, "
        "`SerializedDAG.to_dict` on Airflow 2). Calling the processors' `_parse_file` itself was not chosen: its "
        "request type differs on every 3.x line and Airflow 2 has none. The (CPU s) rows give the parsing process's "
        "CPU time (`time.process_time()`): the parse is single-threaded and CPU-bound, and on this shared 2-core "
        "machine its wall time also counts waiting for other work (wall medians below); their baseline and ours "
        "columns are medians, their ratio the paired ratio: the median of each round's ours/baseline, both files "
        "parsed moments apart, so that the machine's drift between rounds cancels out. " + count_note + " Baseline: "
        "benchmarks/dags/sagemaker_custom_review.py (the same DAG on `SageMakerBaseOperator` subclasses, "
        "`AwsBaseHook` and `S3Hook`); ours: dags/a2i_custom_review.py; the compat venvs hold the airflow-a2i "
        "wheel. Plain rows: the time includes the file's own imports: boto3 and the Amazon provider's AWS base, "
        "which both files import (most of it: without them the baseline's DagBag takes about 0.01 s, see the "
        "pre-import rows), then airflow-a2i or the SageMaker operators module. Medians (CPU unless said), "
        "baseline vs ours: " + "; ".join(details["plain"]) + ".")
    notes.append(
        "Parse time, what differs: the same parse after boto3 and the Amazon provider's AWS base (`AwsBaseHook`, "
        "`AwsBaseOperator`, `BaseAwsLink`, `botocore.exceptions`) were imported, untimed: both files import them "
        "first, so in the plain rows they are the same cost for both, about 0.3 s of a 0.35-0.45 s parse on "
        "Airflow 3, and their run-to-run spread (a few %) is as large as the difference between the files. What "
        "is left is what differs: our three operator modules against the SageMaker operators module and S3Hook, "
        "the DAG file's own run, and the serialization. Medians, baseline vs ours: "
        + "; ".join(details["aws-base"]) + ".")
    notes.append(
        "Parse time after the pre-import: with `parsing_pre_import_modules` (on by default, Airflow 2 and 3), the "
        "DAG processor's long-lived parent imports every `airflow.*` module a DAG file imports before it forks "
        "the child that parses the file (Airflow 3: `DagFileProcessorProcess.start` calls "
        "`_pre_import_airflow_modules`; Airflow 2: `DagFileProcessorProcess.start` calls `import_modules`), so "
        "the child finds them imported. These rows run that step untimed before the parse. The baseline file "
        "imports `airflow.providers.amazon...` directly, so boto3, the AWS base and the SageMaker module are "
        "imported once in the parent and never again per parse. `airflow_a2i.*` is not an `airflow.*` module, "
        "so our DAG file names the AWS base (`import airflow.providers.amazon.aws.operators.base_aws`) for the "
        "parent to pre-import; what is left per parse is airflow-a2i's own modules. "
        "Medians, baseline vs ours: " + "; ".join(details["pre-import"]) + ".")
    return rows
