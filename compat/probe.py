"""What differs between Airflow lines, run inside one line's venv: ``.compat/LINE/bin/python compat/probe.py ...``.

That venv holds only Airflow, the Amazon provider and the airflow-a2i wheel (compat/build-venv), so this script
imports nothing from the tests or from the ``[local]`` extra; tests/compat/ drives it and checks what it prints
(one JSON document on stdout's last line).

    probe.py run-dag DAG_FILE [--conf JSON] [--xcom TASK_ID ...] [--attribute NAME]
                                               dag.test() the file's ``dag`` (or NAME): its state, task states,
                                               the XComs
    probe.py triggers                          each trigger through Airflow's own stored form and back
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

TRIGGER_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("airflow_a2i.triggers.human_loop.A2IHumanLoopTrigger", {
        "human_loop_names": ["loop-a", "loop-b"], "aws_conn_id": "aws_default", "region_name": "eu-west-1",
        "policy": {"poll_interval": 7.5, "on_loop_failure": "skip", "on_review_timeout": "stop_and_continue",
                   "review_timeout": 3600.0, "stop_on_kill": True}}),
    ("airflow_a2i.triggers.batch.A2IHumanLoopBatchTrigger", {
        "manifest_uris": ["s3://bucket/runs/r1/manifests/chunk-0"],
        "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review",
        "aws_conn_id": "aws_default", "region_name": "us-east-1",
        "policy": {"poll_interval": 30.0, "on_loop_failure": "continue", "on_review_timeout": "fail",
                   "review_timeout": 86400.0, "stop_on_kill": False}}),
]


def run_dag(dag_file: Path, conf: dict[str, Any] | None, xcom_tasks: list[str], attribute: str = "dag"
            ) -> dict[str, Any]:
    # The in-process DAG runner is a repository helper (demo/), not part of the wheel under test: the repository is
    # appended to the path, after site-packages, so airflow_a2i itself still comes from the installed wheel.
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    from demo.dag_runner import load_dag_file, run_dag, task_states, xcom

    dag = load_dag_file(dag_file, attribute)
    dag_run = run_dag(dag, run_conf=conf)
    states = task_states(dag_run)
    return {"state": str(getattr(dag_run.state, "value", dag_run.state)), "tasks": states,
            "xcom": {task_id: xcom(dag_run, task_id) for task_id in xcom_tasks}}


def triggers() -> dict[str, Any]:
    """Each trigger as the triggerer gets it: Airflow's Trigger row (kwargs encrypted and back), then rebuilt."""
    from airflow.models.trigger import Trigger

    report = {}
    for classpath, kwargs in TRIGGER_EXAMPLES:
        module, name = classpath.rsplit(".", 1)
        trigger = getattr(importlib.import_module(module), name)(**kwargs)
        stored = Trigger.from_object(trigger)
        rebuilt_path, rebuilt_kwargs = stored.classpath, stored.kwargs
        module, name = rebuilt_path.rsplit(".", 1)
        rebuilt = getattr(importlib.import_module(module), name)(**rebuilt_kwargs)
        report[classpath] = {"classpath": rebuilt_path, "first": trigger.serialize()[1],
                             "rebuilt": rebuilt.serialize()[1]}
    return report


def imports() -> dict[str, Any]:
    """Import every module of the installed airflow_a2i outside ``airflow_a2i.local`` (what a deployment uses),
    and one of ``airflow_a2i.local`` (which needs the [local] extra): what failed, and why."""
    import pkgutil

    import airflow_a2i

    names = sorted(module.name for module in pkgutil.walk_packages(airflow_a2i.__path__, "airflow_a2i."))
    failed: dict[str, str] = {}
    imported = []
    for name in names:
        if name.startswith("airflow_a2i.local"):
            continue
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as error:
            failed[name] = f"{type(error).__name__}: {error}"
    try:
        importlib.import_module("airflow_a2i.local.serving")
        local_error = None
    except ImportError as error:
        local_error = f"{type(error).__name__}: {error}"
    return {"installed_from": airflow_a2i.__file__, "imported": imported, "failed": failed,
            "local_without_extra": local_error}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="probe.py")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run-dag")
    run.add_argument("dag_file", type=Path)
    run.add_argument("--conf", type=json.loads, default=None)
    run.add_argument("--xcom", action="append", default=[], help="a (not mapped) task whose return value to print")
    run.add_argument("--attribute", default="dag", help="the file's DAG to run (a module attribute)")
    commands.add_parser("triggers")
    commands.add_parser("imports")
    args = parser.parse_args(argv)
    if args.command == "run-dag":
        result = run_dag(args.dag_file, args.conf, args.xcom, args.attribute)
    else:
        result = triggers() if args.command == "triggers" else imports()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
