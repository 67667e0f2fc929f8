"""Run A2IStartHumanLoopBatchOperator.execute() in a process of its own, so a test can kill -9 it mid-batch."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from airflow_a2i.operators.batch import A2IStartHumanLoopBatchOperator


def main(arguments: dict) -> None:
    operator = A2IStartHumanLoopBatchOperator(
        task_id=arguments["task_id"], flow_definition_arn=arguments["flow_definition_arn"],
        items_s3_uri=arguments["items_s3_uri"], manifest_s3_uri=arguments["manifest_s3_uri"],
        max_concurrency=arguments.get("max_concurrency", 8), flush_every=arguments.get("flush_every", 200),
        flush_seconds=arguments.get("flush_seconds", 10.0), aws_conn_id=None)
    ti = SimpleNamespace(dag_id=arguments["dag_id"], task_id=arguments["task_id"], map_index=-1,
                         try_number=arguments["try_number"])
    print(json.dumps(operator.execute({"ti": ti, "run_id": arguments["run_id"]})), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
