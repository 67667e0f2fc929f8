"""``airflow-a2i``: the project's command line (``airflow-a2i local serve``, ``airflow-a2i local answer``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-a2i", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the local A2I-compatible service")
    local_commands = local.add_subparsers(dest="local_command", required=True)

    serve = local_commands.add_parser("serve", help="run the service (A2I runtime, SageMaker A2I parts, moto)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback)")
    serve.add_argument("--port", type=int, default=4566, help="port; 0 picks a free one (default 4566)")
    serve.add_argument("--data-dir", type=Path, default=Path(".a2i-local"),
                       help="where the state lives (SQLite); default ./.a2i-local")
    serve.add_argument("--ready-file", type=Path,
                       help="write the endpoint URL here once the service accepts requests")
    serve.add_argument("--stop-delay", type=float, default=1.0,
                       help="seconds a stopped loop stays Stopping before it is Stopped (default 1)")
    serve.add_argument("--max-open-loops", type=int, default=None,
                       help="loops InProgress or Stopping per Region before ServiceQuotaExceededException")
    serve.add_argument("--verbose", action="store_true", help="log every request")

    answer = local_commands.add_parser("answer", help="answer a human loop as a worker")
    answer.add_argument("loop_name", metavar="LOOP_NAME")
    answer.add_argument("--answer", required=True, help="the answerContent as a JSON object")
    answer.add_argument("--worker-id", default=None, help="the worker's id (default local-cli-worker)")
    answer.add_argument("--region", default=None, help="the loop's Region, when its name exists in several")
    answer.add_argument("--time-spent", type=float, default=0.0, help="seconds the worker spent on the task")
    answer.add_argument("--endpoint", default=None, help="the service's URL (default: $AWS_ENDPOINT_URL)")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from airflow_a2i.local.server import serve

    serve(args.host, args.port, args.data_dir, args.ready_file, stop_delay=args.stop_delay,
          max_open_loops=args.max_open_loops, verbose=args.verbose)
    return 0


def _answer(args: argparse.Namespace) -> int:
    from airflow_a2i.local.admin_client import AdminClient, AdminError

    try:
        content = json.loads(args.answer)
    except ValueError as error:
        print(f"--answer is not valid JSON ({error}); give an object such as '{{\"label\": \"yes\"}}'",
              file=sys.stderr)
        return 2
    if not isinstance(content, dict):
        print("--answer must be a JSON object, such as '{\"label\": \"yes\"}'", file=sys.stderr)
        return 2
    try:
        loop = AdminClient(args.endpoint).answer(args.loop_name, content, worker_id=args.worker_id,
                                                 region=args.region, time_spent=args.time_spent)
    except AdminError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(loop, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.local_command == "serve":
        return _serve(args)
    return _answer(args)


if __name__ == "__main__":
    sys.exit(main())
