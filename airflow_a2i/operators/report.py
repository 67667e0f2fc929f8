"""Build the review report of a run's results (or several runs') and write it to S3 next to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.hooks.a2i import A2IHook
from airflow_a2i.mixins import S3HookMixin
from airflow_a2i.validation import check_literal_part, has_template, is_templated, literal_entries

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

REPORT_FOLDER = "report"


def _share(name: str, value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        share = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        share = -1.0
    if isinstance(value, bool) or not 0 < share <= 1:
        raise A2IValidationError(f"{name} is a share between 0 and 1 (0.99 for 99%), not {value!r}")
    return share


def _results_sources(results: object) -> list[object]:
    """The results operator's return value, a results URI, or a list of either (several runs)."""
    if isinstance(results, str | Mapping):
        return [results]
    if isinstance(results, Sequence) and results:
        return list(results)
    raise A2IValidationError("results must be what A2IHumanLoopResultsOperator returned (results_task.output), an "
                             f"s3:// URI of its results.jsonl, or a list of those, not {results!r:.200}")


def _check_conditions(conditions: object) -> None:
    from airflow_a2i.report.data import load_conditions

    try:
        load_conditions(conditions)  # type: ignore[arg-type]
    except (ValueError, TypeError) as error:  # ActivationConditionError, JSONDecodeError
        raise A2IValidationError(f"activation_conditions: {error}") from None


def _check_important_keys(keys: object) -> None:
    if not isinstance(keys, list | tuple) or not keys:
        raise A2IValidationError(f"important_keys must be a non-empty list of form keys, such as ['Total'], not "
                                 f"{keys!r:.200}")
    for position, key in literal_entries(keys):  # a templated member is checked once rendered
        if not isinstance(key, str) or not key.strip():
            raise A2IValidationError(f"important_keys[{position}] must be a form key (a non-empty string), not "
                                     f"{key!r:.200}")


class A2IReviewReportOperator(S3HookMixin, AwsBaseOperator[A2IHook]):
    """
    Write the review report of results: how good they are and which activation conditions to set.

    Reads the JSON Lines of ``A2IHumanLoopResultsOperator`` (one run or several) and writes ``report.html`` (one
    self-contained page with plots: volume, quality, the threshold curve, people; the plots need the
    ``[report]`` extra, else the page has tables only) and ``report.json`` (the figures). The errors in fields
    nobody reviewed are estimated from the loops a ``Sampling`` condition drew, with a 95% interval; the
    recommendation is an activation-conditions document ``A2ICreateFlowDefinitionOperator`` takes as it is.
    XCom gets the URIs and the headline figures only.

    :param results: what ``A2IHumanLoopResultsOperator`` returned (``results_task.output``), an ``s3://`` URI of
        a ``results.jsonl`` (or its prefix), or a list of those to combine runs. (templated)
    :param output_s3_uri: where to write, ``s3://bucket/prefix`` (default: ``report/`` beside the first
        results file). (templated)
    :param target_accuracy: the field accuracy the recommendation aims at, a share (default 0.99). (templated)
    :param review_budget: instead of a target, the share of pages the recommendation may send to review.
        (templated)
    :param sampling_percentage: the Sampling percentage the recommended conditions keep (default: the current
        one, or 5). (templated)
    :param activation_conditions: the conditions the loops ran under, a dict or JSON string (default: read back
        from the loops' condition results). (templated)
    :param important_keys: form keys with a threshold curve of their own (default: the most frequent).
        (templated)
    :return: ``{"report_uri", "figures_uri", "pages", "review_share", "fields", "fields_corrected",
        "estimated_accuracy", "estimated_accuracy_interval", "sample", "recommended_conditions",
        "recommended_review_rate", "recommended_accuracy"}``
    """

    aws_hook_class = A2IHook
    template_fields: Sequence[str] = aws_template_fields(
        "results", "output_s3_uri", "target_accuracy", "review_budget", "sampling_percentage",
        "activation_conditions", "important_keys")
    template_fields_renderers: ClassVar[dict] = {"activation_conditions": "json"}
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        results: Any,
        output_s3_uri: str | None = None,
        target_accuracy: float | str | None = None,
        review_budget: float | str | None = None,
        sampling_percentage: float | str | None = None,
        activation_conditions: dict | str | None = None,
        important_keys: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.results: Any | XComArg = results
        self.output_s3_uri = output_s3_uri
        self.target_accuracy = target_accuracy
        self.review_budget = review_budget
        self.sampling_percentage = sampling_percentage
        self.activation_conditions = activation_conditions
        self.important_keys: Any = important_keys
        self._validate(rendered=False)

    def _known(self, name: str, rendered: bool) -> Any:
        """A parameter's value when it can be checked: always once rendered, at DAG parse time when literal."""
        value = getattr(self, name)
        return None if value in (None, "") or (not rendered and is_templated(value)) else value

    def _validate(self, *, rendered: bool) -> tuple[float | None, float | None, float | None]:
        """The target, budget and sampling percentage; what is literal is checked at DAG parse time, the rest
        once rendered."""
        target = _share("target_accuracy", self._known("target_accuracy", rendered))
        budget = _share("review_budget", self._known("review_budget", rendered))
        if target is not None and budget is not None:
            raise A2IValidationError("Give target_accuracy or review_budget, not both")
        sampling = self._known("sampling_percentage", rendered)
        if sampling is not None:
            try:
                sampling = float(sampling)
            except (TypeError, ValueError):
                sampling = -1.0
            if isinstance(self.sampling_percentage, bool) or not 0 <= sampling <= 100:
                raise A2IValidationError(f"sampling_percentage is a percentage from 0 to 100, not "
                                         f"{self.sampling_percentage!r}")
        if self._known("output_s3_uri", rendered) is not None:
            from airflow_a2i.results.items import parse_output_s3_uri

            parse_output_s3_uri(self.output_s3_uri)
        # A list or dict is checked for its literal members at parse time, the templated ones once rendered.
        if self.activation_conditions not in (None, ""):
            check_literal_part(self.activation_conditions, _check_conditions)
        if self.important_keys and not is_templated(self.important_keys):
            _check_important_keys(self.important_keys)
        if not rendered and not has_template(self.results):
            _results_sources(self.results)
        return target, budget, sampling

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_a2i.report.build import build_report, headline
        from airflow_a2i.report.data import load_conditions
        from airflow_a2i.report.files import REPORT_HTML, REPORT_JSON, iter_rows, report_files, results_location
        from airflow_a2i.xcom_values import plain_lists

        target, budget, sampling = self._validate(rendered=True)
        try:
            locations = [results_location(source) for source in _results_sources(plain_lists(self.results))]
        except ValueError as error:
            raise A2IValidationError(f"results: {error}") from None
        if not all(location.startswith("s3://") for location in locations):
            raise A2IValidationError(f"results must be in S3 (s3://...), not {locations}")
        conditions = load_conditions(self.activation_conditions) if self.activation_conditions else None
        self.log.info("Building the review report of %s", ", ".join(locations))
        report = build_report(iter_rows(locations, self._lines), sources=locations, conditions=conditions,
                              target_accuracy=target, review_budget=budget, sampling_percentage_=sampling,
                              important_keys=list(self.important_keys) if self.important_keys else None)
        prefix = (self.output_s3_uri or f"{locations[0].rsplit('/', 1)[0]}/{REPORT_FOLDER}").rstrip("/")
        bucket, key_prefix = prefix.removeprefix("s3://").split("/", 1)
        uris = {}
        for name, content in report_files(report).items():
            self.s3_hook.load_string(content, key=f"{key_prefix}/{name}", bucket_name=bucket, replace=True)
            uris[name] = f"s3://{bucket}/{key_prefix}/{name}"
        self.log.info("Wrote %s and %s; %s", uris[REPORT_HTML], uris[REPORT_JSON],
                      report["recommendation"]["explanation"])
        return {"report_uri": uris[REPORT_HTML], "figures_uri": uris[REPORT_JSON], **headline(report)}

    def _lines(self, uri: str) -> Iterable[bytes]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.exceptions import ClientError

        from airflow_a2i.aws_errors import S3_NOT_FOUND_CODES, error_code

        bucket, key = S3Hook.parse_s3_url(uri)
        try:
            body = self.s3_hook.get_conn().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as error:
            if error_code(error) in S3_NOT_FOUND_CODES:
                raise FileNotFoundError(f"the results {uri} do not exist") from None
            raise
        return body.iter_lines()  # streamed: a batch's results need not fit in memory
