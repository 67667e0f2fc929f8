"""Extra links from tasks to their human loops in the AWS console."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class A2IHumanLoopLink(BaseAwsLink):
    """The human loop's page in the Amazon Augmented AI console."""

    name = "A2I Human Loop"
    key = "a2i_human_loop"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/a2i/home?region={region_name}#/human-review-workflows/"
        "{flow_definition_name}/human-loops/{human_loop_name}"
    )


class A2IPortalLink(BaseAwsLink):
    """The loop's task page in the local service's worker portal; shown only when the endpoint is that service."""

    name = "A2I Worker Portal"
    key = "a2i_portal_task"
    format_str = "{portal_url}/tasks/{region_name}/{human_loop_name}"

