"""``airflow-a2i``: the project's command line (``airflow-a2i local serve``, ``airflow-a2i local answer``,
``airflow-a2i local worker add``, ``airflow-a2i template render`` and ``check``,
``airflow-a2i activation simulate``, ``airflow-a2i report``)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from airflow_a2i.request_sources import BUILT_IN_REQUEST_SOURCES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-a2i", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the local A2I-compatible service")
    local_commands = local.add_subparsers(dest="local_command", required=True)

    serve = local_commands.add_parser("serve", help="run the service (A2I runtime, SageMaker A2I parts, moto)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback)")
    serve.add_argument("--port", type=int, default=4566,
                       help="the AWS APIs' port; 0 picks a free one (default 4566)")
    serve.add_argument("--portal-port", type=int, default=None,
                       help="the worker portal's port, an origin of its own (default: --port + 1; with --port 0, a "
                            "free one)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="a host name clients use for the service besides the address it listens on, such as "
                            "the name of a TLS proxy in front of it (repeatable); other Host headers are refused")
    serve.add_argument("--credentials-file", type=Path, default=None, metavar="FILE",
                       help="access keys AWS API requests must be signed with, a line 'ACCESS_KEY_ID SECRET' each "
                            "(also: $AIRFLOW_A2I_CREDENTIALS=AKID:SECRET,...); required beyond loopback")
    serve.add_argument("--behind-proxy", action="store_true",
                       help="a TLS proxy is in front: the portal believes its X-Forwarded-Proto (Secure cookies) and "
                            "X-Forwarded-For (login limits per client); never without such a proxy")
    serve.add_argument("--moto-api", action="store_true",
                       help="serve moto's management routes (/moto-api/: dump and reset all state); loopback only")
    serve.add_argument("--data-dir", type=Path, default=Path(".a2i-local"),
                       help="where the state lives (SQLite); default ./.a2i-local")
    serve.add_argument("--ready-file", type=Path,
                       help="write the endpoint URL (line 1) and the portal's (line 2) here once the service "
                            "accepts requests")
    serve.add_argument("--stop-delay", type=float, default=1.0,
                       help="seconds a stopped loop stays Stopping before it is Stopped (default 1)")
    serve.add_argument("--max-open-loops", type=int, default=None,
                       help="loops InProgress or Stopping per Region before ServiceQuotaExceededException")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument("--workforce", choices=("auto", "off"), default="off",
                       help="auto: a simulated workforce answers every flow definition's loops (default policy); "
                            "off: only flow definitions given a policy (default)")
    serve.add_argument("--analyzer", default=None, metavar="module:factory",
                       help="where Textract and Rekognition analyses come from: a callable returning an object with "
                            "analyze(service, bucket, key) (default: responses stored beside the objects)")
    serve.add_argument("--workforce-callable", default=None, metavar="NAME",
                       help="the default policy answers with this registered answer callable instead of echo")
    serve.add_argument("--workforce-delay", type=float, nargs=2, metavar=("MIN", "MAX"), default=(1.0, 3.0),
                       help="seconds the default policy's workers take (default 1 3)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the simulated workforce and the faults")
    serve.add_argument("--answer-callable", action="append", default=[], metavar="NAME=module:function",
                       help="register a Python function that makes simulated answers (repeatable)")
    serve.add_argument("--faults", type=Path, default=None, metavar="FILE",
                       help='faults in force from the start, a JSON file: {"rules": [...], "quotas": {...}} '
                            "(as the admin API /_a2i/faults takes them)")
    serve.add_argument("--s3-endpoint", type=_s3_endpoint_url, default=None, metavar="URL",
                       help="keep documents and outputs in an external S3-compatible store such as real S3 or a "
                            "MinIO/moto server, so they survive restarts; clients then send S3 to it, e.g. "
                            "AWS_ENDPOINT_URL_S3=URL (credentials and Region: boto3's usual chain)")

    serve.add_argument("--no-login", action="store_true",
                       help="the worker portal without login: every browser becomes a worker of every team "
                            "(loopback only)")
    serve.add_argument("--session-hours", type=_positive_hours, default=8.0,
                       help="hours a portal login lasts (default 8)")
    serve.add_argument("--portal-allow-origin", action="append", default=[], type=_allowed_origin, metavar="ORIGIN",
                       help="an outside origin task pages may load scripts, styles, images, media and frames from, "
                            "such as a sample template's CDN https://cdnjs.cloudflare.com (repeatable; default: "
                            "none, everything stays on the service)")

    workforce = local_commands.add_parser("workforce", help="the simulated workforce's policy per flow definition")
    workforce_commands = workforce.add_subparsers(dest="workforce_command", required=True)
    set_policy = workforce_commands.add_parser("set", help="set a flow definition's policy")
    set_policy.add_argument("flow_definition_arn", metavar="FLOW_DEFINITION_ARN")
    set_policy.add_argument("--delay", type=float, nargs=2, metavar=("MIN", "MAX"), default=(1.0, 3.0),
                            help="seconds before the workers answer (default 1 3)")
    set_policy.add_argument("--answer-mode", choices=("echo", "fixed", "callable"), default="echo",
                            help="echo the input's initialValues (or the input), a fixed answer, or a callable")
    set_policy.add_argument("--answer", default=None, help="the fixed answer, a JSON object")
    set_policy.add_argument("--callable", default=None, help="the name of a registered answer callable")
    set_policy.add_argument("--failure-rate", type=float, default=0.0, help="share of loops that fail (0..1)")
    set_policy.add_argument("--expiry-rate", type=float, default=0.0, help="share of loops nobody answers (0..1)")
    set_policy.add_argument("--seed", type=int, default=None, help="this policy's seed (default: the service's)")
    clear_policy = workforce_commands.add_parser("clear", help="remove a flow definition's policy")
    clear_policy.add_argument("flow_definition_arn", metavar="FLOW_DEFINITION_ARN")
    show = workforce_commands.add_parser("show", help="print the workforce's mode, policies and callables")
    for command in (set_policy, clear_policy, show):
        command.add_argument("--endpoint", default=None, help="the service's URL (default: $AWS_ENDPOINT_URL)")

    answer = local_commands.add_parser("answer", help="answer a human loop as a worker")
    answer.add_argument("loop_name", metavar="LOOP_NAME")
    answer.add_argument("--answer", required=True, help="the answerContent as a JSON object")
    answer.add_argument("--worker-id", default=None, help="the worker's id (default local-cli-worker)")
    answer.add_argument("--region", default=None, help="the loop's Region, when its name exists in several")
    answer.add_argument("--time-spent", type=float, default=0.0, help="seconds the worker spent on the task")
    answer.add_argument("--endpoint", default=None, help="the service's URL (default: $AWS_ENDPOINT_URL)")

    worker = local_commands.add_parser("worker", help="the portal's workers (people who answer tasks in a browser)")
    worker_commands = worker.add_subparsers(dest="worker_command", required=True)
    add_worker = worker_commands.add_parser("add", help="add a worker; prints its one-time credential")
    add_worker.add_argument("name", metavar="NAME")
    add_worker.add_argument("--team", required=True,
                            help="the work team: the last part of the flow definitions' WorkteamArn (such as "
                                 "'reviewers' for .../workteam/private-crowd/reviewers) or the whole ARN")
    worker_commands.add_parser("list", help="list the workers and their teams")
    remove_worker = worker_commands.add_parser("remove", help="remove a worker and end its sessions")
    remove_worker.add_argument("name", metavar="NAME")
    for command in worker_commands.choices.values():
        command.add_argument("--endpoint", default=None, help="the service's URL (default: $AWS_ENDPOINT_URL)")

    template = commands.add_parser("template", help="task UI templates (Liquid), rendered as A2I renders them")
    template_commands = template.add_subparsers(dest="template_command", required=True)
    render = template_commands.add_parser(
        "render", help="render a template with a task input, offline",
        description="Render a task UI template with a task's input as A2I does, into a page that works offline "
                    "(the portal's crowd elements inlined). Exit 0 rendered, 1 the template has an error (its line "
                    "is named), 2 bad arguments, 3 the [local] extra is not installed.")
    render.add_argument("--template", required=True, type=Path, metavar="FILE", help="the Liquid template")
    render.add_argument("--input", required=True, metavar="JSON|@FILE",
                        help="the task input (task.input) as a JSON object, or @FILE to read it from a file")
    render.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                        help="write the page here (default: print it)")

    check = template_commands.add_parser(
        "check", help="what templates need that the local worker portal does not give",
        description="Read task UI templates and say, for each, what its tasks need that the local worker portal "
                    "does not give: crowd elements it does not define, resources from outside the service "
                    "(blocked by the portal's pages unless allowed), inline event handlers and javascript: URLs "
                    "(not run). Exit 0 every template can be worked on as it is, 1 some cannot, 2 a file cannot "
                    "be read.")
    check.add_argument("templates", nargs="+", type=Path, metavar="FILE", help="Liquid templates")
    check.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object per template")

    activation = commands.add_parser("activation", help="built-in task types' human loop activation conditions")
    activation_commands = activation.add_subparsers(dest="activation_command", required=True)
    simulate = activation_commands.add_parser(
        "simulate", help="evaluate activation conditions over recorded responses, as A2I would",
        description="Print the share of recorded responses that would go to human review, per top-level condition, "
                    "and which ones. Exit 0 done, 1 no response to evaluate, 2 invalid conditions or arguments.")
    simulate.add_argument("--conditions", required=True, type=Path, metavar="FILE",
                          help='the HumanLoopActivationConditions JSON ({"Conditions": [...]}), or a flow definition')
    simulate.add_argument("--responses", required=True, metavar="DIR|s3://BUCKET/PREFIX",
                          help="*.json Textract AnalyzeDocument or Rekognition DetectModerationLabels responses, or "
                               "A2I output.json files (searched recursively; s3:// honours AWS_ENDPOINT_URL)")
    simulate.add_argument("--request-source", default=None,
                          choices=(*BUILT_IN_REQUEST_SOURCES, "textract", "rekognition"),
                          help="the built-in task type (default: told by the conditions or the responses)")
    simulate.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    report = commands.add_parser(
        "report", help="the review report of results: quality, estimates, the conditions to set",
        description="Write report.html (one self-contained page) and report.json (the figures) from the results "
                    "of A2IHumanLoopResultsOperator, one run or several. Exit 0 written, 1 results unreadable, "
                    "2 bad arguments.")
    report.add_argument("results", nargs="+", metavar="RESULTS_URI",
                        help="a results.jsonl (or its folder): a path or s3:// URI (honours AWS_ENDPOINT_URL)")
    report.add_argument("--out", required=True, type=Path, metavar="DIR", help="the folder to write to")
    aim = report.add_mutually_exclusive_group()
    aim.add_argument("--target-accuracy", type=float, metavar="SHARE",
                     help="the field accuracy the recommendation aims at, such as 0.99 (default)")
    aim.add_argument("--review-budget", type=float, metavar="SHARE",
                     help="instead, the share of pages the recommendation may send to review, such as 0.3")
    report.add_argument("--sampling-percentage", type=float, metavar="PERCENT",
                        help="the Sampling percentage the recommendation keeps (default: the current one, or 5)")
    report.add_argument("--conditions", type=Path, metavar="FILE",
                        help="the activation conditions the loops ran under (default: read back from the loops)")
    report.add_argument("--key", action="append", default=[], dest="keys", metavar="KEY",
                        help="a form key with a threshold curve of its own (repeatable; default: the most frequent)")
    report.add_argument("--no-plots", action="store_true", help="tables only, even with matplotlib installed")
    report.add_argument("--json", action="store_true", dest="as_json", help="print the headline figures as JSON")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from airflow_a2i.local.admin_client import ADMIN_TOKEN_VARIABLE
    from airflow_a2i.local.serving import serve
    from airflow_a2i.local.workforce import registered_callables

    try:
        callables = registered_callables(args.answer_callable)
    except (ValueError, ImportError, AttributeError) as error:
        print(f"Cannot register the answer callable: {error}", file=sys.stderr)
        return 2
    faults = None
    if args.faults is not None:
        from airflow_a2i.local.faults import read_faults_file

        try:
            faults = read_faults_file(args.faults)
        except ValueError as error:
            print(str(error), file=sys.stderr)
            return 2
    try:
        analyzer = _load_analyzer(args.analyzer)
    except (ValueError, ImportError, AttributeError, TypeError) as error:
        print(f"Cannot load the analyzer {args.analyzer!r}: {error}", file=sys.stderr)
        return 2
    try:
        credentials = _credentials(args.credentials_file)
    except (ValueError, OSError) as error:
        print(f"Cannot read the credentials: {error}", file=sys.stderr)
        return 2
    low, high = args.workforce_delay
    serve(args.host, args.port, args.data_dir, args.ready_file, stop_delay=args.stop_delay,
          max_open_loops=args.max_open_loops, verbose=args.verbose, seed=args.seed,
          workforce_auto=args.workforce == "auto", workforce_default=_default_policy(args, low, high, callables),
          answer_callables=callables, faults=faults, analyzer=analyzer, s3_endpoint=args.s3_endpoint,
          login_required=not args.no_login, admin_token=os.environ.get(ADMIN_TOKEN_VARIABLE) or None,
          session_seconds=args.session_hours * 3600, portal_port=args.portal_port,
          allowed_hosts=tuple(args.allowed_host), moto_api=args.moto_api, credentials=credentials,
          behind_proxy=args.behind_proxy, portal_allowed_origins=tuple(dict.fromkeys(args.portal_allow_origin)))
    return 0


def _credentials(path: Path | None) -> dict[str, str] | None:
    """The key pairs of --credentials-file and $AIRFLOW_A2I_CREDENTIALS; None when neither is given."""
    from airflow_a2i.local.credentials import load_credentials
    from airflow_a2i.local.serving import CREDENTIALS_VARIABLE

    value = os.environ.get(CREDENTIALS_VARIABLE) or None
    if path is None and value is None:
        return None
    return load_credentials(path, value, value_source=f"${CREDENTIALS_VARIABLE}")


def _positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 30:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours from above 0 to 720")
    return hours


def _allowed_origin(value: str) -> str:
    """``--portal-allow-origin``: a scheme and a host (and port), nothing after: https://cdn.example."""
    from airflow_a2i.local.portal.page import allowed_origin

    try:
        return allowed_origin(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _s3_endpoint_url(value: str) -> str:
    """``--s3-endpoint``: an http(s) URL with a host, such as http://127.0.0.1:9000 or https://s3.amazonaws.com."""
    from urllib.parse import urlparse

    parsed = urlparse(value)
    try:
        valid = parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
    except ValueError:  # parsed.port: a port that is not a number
        valid = False
    if not valid:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL with a host; give the S3-compatible "
                                         "store's endpoint, such as http://127.0.0.1:9000 or "
                                         "https://s3.us-east-1.amazonaws.com")
    return value.rstrip("/")


def _load_analyzer(spec: str | None) -> Any:
    """``module:factory`` -> ``factory()``, an object with ``analyze(service, bucket, key)``."""
    if spec is None:
        return None
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError("give it as module:factory")
    analyzer = getattr(importlib.import_module(module_name), attribute)()
    if not callable(getattr(analyzer, "analyze", None)):
        raise TypeError("the factory's result has no analyze(service, bucket, key) method")
    return analyzer


def _default_policy(args: argparse.Namespace, low: float, high: float, callables: dict) -> Any:
    from airflow_a2i.local.workforce import WorkforcePolicy

    if args.workforce_callable is None:
        return WorkforcePolicy(min_delay=low, max_delay=high)
    if args.workforce_callable not in callables:
        raise SystemExit(f"--workforce-callable {args.workforce_callable!r} is not registered; register it with "
                         "--answer-callable NAME=module:function")
    return WorkforcePolicy(min_delay=low, max_delay=high, answer_mode="callable",
                           callable_name=args.workforce_callable)


def _workforce(args: argparse.Namespace) -> int:
    from airflow_a2i.local.admin_client import AdminClient, AdminError

    try:
        client = AdminClient(args.endpoint)
        if args.workforce_command == "show":
            result = client.request("GET", "workforce")
        elif args.workforce_command == "clear":
            result = client.request("DELETE", "workforce/policies", {"flowDefinitionArn": args.flow_definition_arn})
        else:
            result = client.request("PUT", "workforce/policies", {"flowDefinitionArn": args.flow_definition_arn,
                                                                  "policy": _policy_from_args(args)})
    except (AdminError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _policy_from_args(args: argparse.Namespace) -> dict:
    answer: dict = {"mode": args.answer_mode}
    if args.answer_mode == "fixed":
        if args.answer is None:
            raise ValueError("--answer-mode fixed needs --answer '{...}' (the answerContent as a JSON object)")
        answer["answer"] = json.loads(args.answer)
    if args.answer_mode == "callable":
        answer["name"] = args.callable
    policy: dict = {"delaySeconds": list(args.delay), "answer": answer, "failureRate": args.failure_rate,
                    "expiryRate": args.expiry_rate}
    if args.seed is not None:
        policy["seed"] = args.seed
    return policy


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
    return _report_failed_loop(loop)


def _report_failed_loop(loop: dict) -> int:
    """1 and the reason when the answer ended the loop Failed (e.g. its output could not be written), else 0:
    the answer was taken, but nobody downstream will get it, so a script must not carry on as if it had."""
    if loop.get("humanLoopStatus") != "Failed":
        return 0
    code = f" ({loop['failureCode']})" if loop.get("failureCode") else ""
    print(f"The answer was taken but human loop '{loop.get('humanLoopName')}' failed{code}: "
          f"{loop.get('failureReason') or 'no reason given'}. Fix that (such as creating the flow definition's "
          "output bucket) and start a new loop.", file=sys.stderr)
    return 1


def _worker(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from airflow_a2i.local.admin_client import AdminClient, AdminError

    try:
        client = AdminClient(args.endpoint)
        if args.worker_command == "add":
            added = client.add_worker(args.name, args.team)
            print(f"Added worker {added['name']} (team {added['team']}, workerId {added['workerId']}).")
            print(f"Credential (shown this once; give it to the worker): {added['credential']}")
            print(f"Portal: {client.endpoint}/portal/")
            return 0
        if args.worker_command == "remove":
            client.request("DELETE", f"workers/{quote(args.name, safe='')}")
            print(f"Removed worker {args.name}")
            return 0
        for listed in client.request("GET", "workers")["workers"]:
            print(f"{listed['name']}\tteam {listed['team']}\tworkerId {listed['workerId']}")
        return 0
    except AdminError as error:
        print(str(error), file=sys.stderr)
        return 1


def _template_check(args: argparse.Namespace) -> int:
    from airflow_a2i.local.portal.template_check import check_template

    workable = True
    for path in args.templates:
        try:
            report = check_template(path.read_text())
        except (OSError, UnicodeDecodeError) as error:
            print(f"Cannot read {path}: {error}", file=sys.stderr)
            return 2
        workable = workable and report.workable
        if args.as_json:
            print(json.dumps({"template": str(path), "workable": report.workable,
                              "elements": sorted(report.elements), "problems": report.problems(),
                              "notes": report.notes()}))
            continue
        print(f"{path}: {'ok' if report.workable else 'cannot be worked on as it is'}")
        for problem in report.problems():
            print(f"  - {problem}")
        for note in report.notes():
            print(f"  - note: {note}")
    return 0 if workable else 1


def _template(args: argparse.Namespace) -> int:
    if args.template_command == "check":
        return _template_check(args)
    import secrets

    from airflow_a2i.local.portal.page import task_page, with_script_nonce
    from airflow_a2i.local.portal.rendering import TemplateRenderError, render_template

    try:
        source = args.template.read_text()
        raw_input = Path(args.input[1:]).read_text() if args.input.startswith("@") else args.input
        task_input = json.loads(raw_input)
    except (OSError, ValueError) as error:
        print(f"Cannot read the template or the input: {error}", file=sys.stderr)
        return 2
    if not isinstance(task_input, dict):
        print("--input must be a JSON object: the template reads it as task.input", file=sys.stderr)
        return 2
    nonce = secrets.token_urlsafe(18)
    try:
        rendered = render_template(with_script_nonce(source, nonce), task_input)
    except TemplateRenderError as error:
        print(f"{args.template}: {error}", file=sys.stderr)
        return 1
    page = task_page(rendered, title=f"Preview of {args.template.name}", csrf_token="preview",
                     submit_url="about:blank", nonce=nonce)
    if args.out is None:
        print(page)
    else:
        args.out.write_text(page)
        print(f"Rendered {args.template} into {args.out}")
    return 0


def _activation(args: argparse.Namespace) -> int:
    from airflow_a2i.activation import run_simulate

    return run_simulate(args.conditions, args.responses, args.request_source, as_json=args.as_json)


# The commands that import the `[local]` extra's packages, and the modules they import first: checked before
# dispatching so a missing extra gets one message saying what to install, not a ModuleNotFoundError traceback.
LOCAL_EXTRA_MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("local", "serve"): ("moto.moto_server.werkzeug_app", "werkzeug", "liquid"),
    ("template", "render"): ("liquid",),
}
LOCAL_EXTRA_INSTALL = "pip install 'airflow-a2i[local]'"
MISSING_EXTRA_EXIT = 3


def _command_path(args: argparse.Namespace) -> tuple[str, str]:
    """``("local", "serve")`` for ``airflow-a2i local serve``: the command and its subcommand."""
    return args.command, getattr(args, f"{args.command}_command")


def _missing_local_extra(args: argparse.Namespace) -> str | None:
    """The module the command needs from the `[local]` extra and cannot import; None when it has them all."""
    for module in LOCAL_EXTRA_MODULES.get(_command_path(args), ()):
        try:
            importlib.import_module(module)
        except ImportError as error:  # the extra itself, or one of its own dependencies
            return error.name or module
    return None


def _report(args: argparse.Namespace) -> int:
    from airflow_a2i.report.command import run_report

    return run_report(args.results, args.out, target_accuracy=args.target_accuracy, review_budget=args.review_budget,
                      sampling_percentage=args.sampling_percentage, conditions_file=args.conditions, keys=args.keys,
                      plots=False if args.no_plots else None, as_json=args.as_json)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "report":  # no subcommand, and nothing of the [local] extra
        return _report(args)
    missing = _missing_local_extra(args)
    if missing is not None:
        print(f"'airflow-a2i {' '.join(_command_path(args))}' needs the [local] extra, which is not installed "
              f"(no module {missing!r}): {LOCAL_EXTRA_INSTALL}", file=sys.stderr)
        return MISSING_EXTRA_EXIT
    if args.command == "activation":
        return _activation(args)
    if args.command == "template":
        return _template(args)
    if args.local_command == "worker":
        return _worker(args)
    if args.local_command == "serve":
        return _serve(args)
    if args.local_command == "workforce":
        return _workforce(args)
    return _answer(args)


if __name__ == "__main__":
    sys.exit(main())
