"""One local A2I service and one Airflow home per test session; never real AWS."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

# Before boto3 or Airflow are imported anywhere: fake credentials, no profile, a throwaway Airflow home.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="airflow-a2i-tests-"))
for _variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE",
                  "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": str(_SESSION_DIR / "aws-config-absent"),
    "AWS_SHARED_CREDENTIALS_FILE": str(_SESSION_DIR / "aws-credentials-absent"),
    "AIRFLOW_HOME": str(_SESSION_DIR / "airflow-home"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(_SESSION_DIR / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
})

import boto3  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from demo.service import ServiceProcess  # noqa: E402

# Bounded and derandomized: the same examples on every run, a fixed cost per property. No timing checks (no
# deadline, no too_slow): on a loaded machine generating the same examples takes longer, and that is no failure.
settings.register_profile("project", derandomize=True, max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("project")

pytest_plugins = ("tests.airflow_fixtures", "tests.browser")

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/a2i-tests"


def workteam_arn(region: str = "us-east-1") -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:workteam/private-crowd/tests"


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def local_service_process(session_dir: Path) -> Iterator[ServiceProcess]:
    """The session's local service; its API endpoint is in AWS_ENDPOINT_URL for every client."""
    callables = ["--answer-callable", "label-by-worker=tests.answer_callables:label_by_worker",
                 "--answer-callable", "broken=tests.answer_callables:broken"]
    with ServiceProcess(session_dir / "service", "--stop-delay", "0.2", *callables) as service:
        os.environ["AWS_ENDPOINT_URL"] = service.endpoint
        yield service
        os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def local_service(local_service_process: ServiceProcess) -> str:
    """The session's local service's AWS API endpoint."""
    return local_service_process.endpoint


@pytest.fixture(scope="session")
def portal_endpoint(local_service_process: ServiceProcess) -> str:
    """The session's worker portal, on a port (an origin) of its own."""
    return local_service_process.portal


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def s3(local_service: str):
    return boto3.client("s3")


@pytest.fixture
def sagemaker(local_service: str):
    return boto3.client("sagemaker")


@pytest.fixture
def a2i(local_service: str):
    return boto3.client("sagemaker-a2i-runtime")


@pytest.fixture(scope="session")
def output_bucket(local_service: str) -> str:
    name = unique("a2i-output")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_flow_definition(local_service: str, output_bucket: str) -> Callable[..., str]:
    """Create a task UI and a custom-task flow definition; returns the flow definition's ARN."""

    from tests.flows import create_flow  # here: tests.flows imports this module

    def make(task_count: int = 1, region: str = "us-east-1", **loop_config: object) -> str:
        return create_flow(boto3.client("sagemaker", region_name=region), task_count=task_count,
                           output_path=f"s3://{output_bucket}/a2i-output", workteam_arn=workteam_arn(region),
                           **loop_config)

    return make


@pytest.fixture
def flow_definition_arn(make_flow_definition: Callable[..., str]) -> str:
    return make_flow_definition()


@pytest.fixture(scope="session")
def airflow_deployment(session_dir: Path, local_service: str):
    """A real Airflow deployment (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite), started
    the first time a test asks for it and stopped at session end. Tests add DAGs with ``add_dag_file(path)``."""
    from tests.airflow_deployment import TRIGGERER_HEALTH_CHECK_THRESHOLD, DeploymentOptions, session_deployment

    # tests/test_deployment.py restarts the triggerer: its new job takes the triggers over once the old is silent.
    options = DeploymentOptions(triggerer_health_check_threshold=TRIGGERER_HEALTH_CHECK_THRESHOLD)
    yield from session_deployment(session_dir / "airflow-deployment",
                                  {"AWS_ENDPOINT_URL": local_service}, options)


# Test tiers, from the fixtures a test needs (their closure): the first tier that applies wins; a module that starts
# processes of its own says its tier (pytestmark). `pytest -m pure` (make test-fast) runs what needs neither a
# local service, nor Airflow's database or CLI, nor a browser; `-m service`, `-m dag`, `-m deployment`,
# `-m browser` the others.
TIERS = {
    "browser": ("page", "browser"),
    "deployment": ("airflow_deployment", "celery_airflow", "line_deployment"),
    "dag": ("airflow_dags", "airflow_db"),
    "service": ("local_service", "local_service_process"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, unless its module says (one that starts its own service or Airflow CLI)."""
    for item in items:
        if any(item.get_closest_marker(tier) for tier in (*TIERS, "pure")):
            continue
        needed = set(getattr(item, "fixturenames", ()))
        tier = next((tier for tier, fixtures in TIERS.items() if needed & set(fixtures)), "pure")
        item.add_marker(getattr(pytest.mark, tier))
