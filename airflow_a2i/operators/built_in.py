"""What the Textract and Rekognition operators share: one analysis of an S3 object, maybe a human loop.

A2I decides from the flow definition's activation conditions whether people review; the operator
checks beforehand what A2I would otherwise fail on later (Regions, CORS, the public workforce's
classifier), writes the full analysis to S3, and returns only references.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IFlowDefinitionHook, portal_url_of
from airflow_a2i.links.a2i import A2IPortalLink
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.names import deterministic_loop_name, validate_human_loop_name
from airflow_a2i.operators.human_loop import HumanLoopWaitMixin
from airflow_a2i.preflight import check_cors, check_flow_definition, check_region
from airflow_a2i.s3_uris import split_s3_uri
from airflow_a2i.validation import (
    check_known_part,
    validate_content_classifiers,
    validate_flow_definition_arn,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


def started_loop_activation(response: dict[str, Any]) -> dict[str, Any] | None:
    """A Textract/Rekognition response's HumanLoopActivationOutput when A2I started a loop, else None.

    The member comes back whenever the request had HumanLoopConfig; only its HumanLoopArn says a loop started
    ("If there is no HumanLoopArn, the input did not trigger human review")."""
    activation = response.get("HumanLoopActivationOutput") or {}
    return activation if activation.get("HumanLoopArn") else None



class BuiltInAnalysisOperator(HumanLoopWaitMixin, S3HookMixin, AwsBaseOperator[Any]):
    """
    Base of :class:`TextractAnalyzeDocumentOperator` and :class:`RekognitionDetectModerationLabelsOperator`.

    :param s3_bucket: the bucket of the document or image. (templated)
    :param s3_key: its key. (templated)
    :param analysis_output_s3_uri: ``s3://bucket/prefix`` where the full response is written as
        ``<prefix>/<name>.json``. (templated)
    :param flow_definition_arn: a flow definition of this service's built-in task type: with it, A2I
        starts a human loop when the flow definition's activation conditions hold. (templated)
    :param human_loop_name: the loop's name; default: deterministic from the run, the task and
        ``item_key``. (templated)
    :param item_key: what identifies the item; default: the object's ``s3://`` URI. (templated)
    :param content_classifiers: ``FreeOfPersonallyIdentifiableInformation`` and/or ``FreeOfAdultContent``;
        the public workforce needs the first.
    :param check_cors: check that the bucket has the CORS rule A2I's worker UI needs. (default True)
    :param wait_for_completion: when a loop started, wait until it ends. (default False)
    :param deferrable: wait on the triggerer. (default: ``[operators] default_deferrable``)
    :param poll_interval: seconds between two looks at the loop. (default 30; templated)
    :param review_timeout, on_loop_failure, on_review_timeout, stop_on_kill: the wait's policy, as for
        :class:`~airflow_a2i.operators.human_loop.A2IStartHumanLoopOperator`.
    """

    service: ClassVar[str]
    request_source: ClassVar[str]
    document_member: ClassVar[str]
    template_fields: Sequence[str] = aws_template_fields(
        "s3_bucket", "s3_key", "analysis_output_s3_uri", "flow_definition_arn", "human_loop_name", "item_key",
        "content_classifiers", "review_timeout", "poll_interval",
    )
    ui_color = "#f0e4ff"
    operator_extra_links = (A2IPortalLink(),)

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str,
        analysis_output_s3_uri: str,
        flow_definition_arn: str | None = None,
        human_loop_name: str | None = None,
        item_key: str | None = None,
        content_classifiers: list[str] | None = None,
        check_cors: bool = True,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | str = 30,
        review_timeout: float | str | None = None,
        on_loop_failure: str = "fail",
        on_review_timeout: str = "fail",
        stop_on_kill: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.analysis_output_s3_uri = analysis_output_s3_uri
        self.flow_definition_arn = flow_definition_arn
        self.human_loop_name = human_loop_name
        self.item_key = item_key
        self.content_classifiers = content_classifiers
        self.check_cors = check_cors
        self.init_wait(wait_for_completion=wait_for_completion, deferrable=deferrable, poll_interval=poll_interval,
                       review_timeout=review_timeout, on_loop_failure=on_loop_failure,
                       on_review_timeout=on_review_timeout, stop_on_kill=stop_on_kill)
        self._validate(rendered=False)

    def _validate(self, *, rendered: bool) -> None:
        """Check what can be checked: everything once rendered; at DAG parse time the literal values, and the
        literal members of lists."""
        checks: list[tuple[Any, Callable[[Any], object]]] = [
            (self.analysis_output_s3_uri, lambda uri: split_s3_uri(uri, "analysis_output_s3_uri")),
            (self.flow_definition_arn, validate_flow_definition_arn),
            (self.human_loop_name, validate_human_loop_name),
            (self.content_classifiers, validate_content_classifiers),
        ]
        for value, check in checks:
            if value is not None:
                check_known_part(value, check, rendered=rendered)

    def loop_name(self, context: Context) -> str:
        if self.human_loop_name:
            return self.human_loop_name
        ti = context["ti"]
        return deterministic_loop_name(ti.dag_id, context["run_id"], ti.task_id,
                                       item_key=self.item_key or f"s3://{self.s3_bucket}/{self.s3_key}")

    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(rendered=True)
        classifiers = validate_content_classifiers(self.content_classifiers)
        name = self.loop_name(context)
        analysis_uri = self._analysis_uri(name)
        result: dict[str, Any] = {"Document": f"s3://{self.s3_bucket}/{self.s3_key}", "AnalysisS3Uri": analysis_uri,
                                  "HumanLoopStarted": False, "HumanLoopName": None, "HumanLoopArn": None,
                                  "HumanLoopActivationReasons": []}
        if self.flow_definition_arn:
            self.preflight(classifiers)
            adopted = self._adopt(name, analysis_uri, context)
            if adopted is not None:
                result.update(adopted)
                return self._maybe_wait(result)
        loop_config = self._loop_config(name, classifiers) if self.flow_definition_arn else None
        response = self.analyze(loop_config)
        activation = started_loop_activation(response)
        self._write(analysis_uri, response)
        if activation:
            self._link_portal(context, name, response)
            result.update({"HumanLoopStarted": True, "HumanLoopName": name,
                           "HumanLoopArn": activation["HumanLoopArn"],
                           "HumanLoopActivationReasons": activation.get("HumanLoopActivationReasons", [])})
            self.log.info("A2I started human loop %s for %s: %s", name, result["Document"],
                          result["HumanLoopActivationReasons"])
        else:
            self.log.info("No human review needed for %s", result["Document"])
        return self._maybe_wait(result)

    def _analysis_uri(self, name: str) -> str:
        out_bucket, out_prefix = split_s3_uri(self.analysis_output_s3_uri, "analysis_output_s3_uri")
        return f"s3://{out_bucket}/{out_prefix + '/' if out_prefix else ''}{name}.json"

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         result: dict[str, Any] | None = None) -> dict[str, Any]:
        if not result and event:
            # dag.test() (Airflow 3.3) resumes a deferred task with the trigger's event alone, without the kwargs
            # given to defer(): rebuild what execute() had found from the task's fields and the analysis in S3.
            name = next(iter(event.get("loops") or {}), None) or self.loop_name(context)
            analysis_uri = self._analysis_uri(name)
            reasons = []
            if self.s3_hook.check_for_key(analysis_uri):
                reasons = json.loads(self.s3_hook.read_key(analysis_uri)).get(
                    "HumanLoopActivationOutput", {}).get("HumanLoopActivationReasons", [])
            result = {"Document": f"s3://{self.s3_bucket}/{self.s3_key}", "AnalysisS3Uri": analysis_uri,
                      "HumanLoopStarted": True, "HumanLoopName": name, "HumanLoopArn": None,
                      "HumanLoopActivationReasons": reasons}
        return super().execute_complete(context, event=event, result=result)

    def _maybe_wait(self, result: dict[str, Any]) -> dict[str, Any]:
        if result["HumanLoopStarted"] and self.wait_for_completion:
            return self.wait_for_loop(result["HumanLoopName"], result)
        return result

    def _loop_config(self, name: str, classifiers: list[str]) -> dict[str, Any]:
        config: dict[str, Any] = {"HumanLoopName": name, "FlowDefinitionArn": self.flow_definition_arn}
        if classifiers:
            config["DataAttributes"] = {"ContentClassifiers": classifiers}
        return config

    def analyze(self, loop_config: dict[str, Any] | None) -> dict[str, Any]:
        """Call the service; subclasses build the request."""
        raise NotImplementedError

    def _write(self, uri: str, response: dict[str, Any]) -> None:
        body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
        self.s3_hook.load_string(json.dumps(body), key=uri, replace=True)

    def _link_portal(self, context: Context, name: str, response: dict[str, Any]) -> None:
        portal_url = portal_url_of(response)
        if portal_url:  # the local service: its worker portal shows the loop's task
            A2IPortalLink.persist(context=context, operator=self, region_name=self.hook.conn_region_name,
                                  aws_partition=self.hook.conn_partition, human_loop_name=name, portal_url=portal_url)

    def _adopt(self, name: str, analysis_uri: str, context: Context) -> dict[str, Any] | None:
        """A loop of this name exists: an earlier attempt started it. Never analyse with the name again."""
        described = self.a2i_hook.describe_human_loop(name)
        if described is None:
            return None
        self._link_portal(context, name, described)
        if described["FlowDefinitionArn"] != self.flow_definition_arn:
            raise A2IValidationError(f"Human loop {name!r} already exists in flow definition "
                                     f"{described['FlowDefinitionArn']}; choose another human_loop_name")
        if self.s3_hook.check_for_key(analysis_uri):
            reasons = json.loads(self.s3_hook.read_key(analysis_uri)).get("HumanLoopActivationOutput", {}).get(
                "HumanLoopActivationReasons", [])
        else:  # the earlier attempt ended between the analysis and its write: analyse again, without a loop
            response = self.analyze(None)
            response["HumanLoopActivationOutput"] = {"HumanLoopArn": described["HumanLoopArn"]}
            self._write(analysis_uri, response)
            reasons = []
        self.log.info("Human loop %s already exists (%s): adopting it", name, described["HumanLoopStatus"])
        return {"HumanLoopStarted": True, "HumanLoopName": name, "HumanLoopArn": described["HumanLoopArn"],
                "HumanLoopActivationReasons": reasons, "Adopted": True}

    # Preflight: what A2I would fail on later, checked before any analysis ----------------------

    def preflight(self, classifiers: list[str]) -> None:
        arn = str(self.flow_definition_arn)
        what = self.document_member.lower()
        check_region(self.s3_hook.conn, self.s3_bucket, arn, what)
        if self.check_cors:
            check_cors(self.s3_hook.conn, self.s3_bucket, what)
        check_flow_definition(A2IFlowDefinitionHook(**self._hook_parameters).conn, arn, classifiers,
                              self.request_source)
