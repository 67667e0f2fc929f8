"""Where a batch's outputs are, found by listing S3 instead of describing every loop.

A2I writes a loop's output to ``<S3OutputPath>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/<loop-name>/output.json``
(the loop's creation time, UTC), and ``ListHumanLoops`` gives no output URI: reading N loops' results the plain way
costs N ``DescribeHumanLoop`` calls. The keys sort by creation time, so one listing of the flow definition's prefix
that starts just before the batch's first loop (``StartAfter``) shows every output written since: about N / 1,000
``ListObjectsV2`` calls. An output there means a Completed loop; the results reader describes only the loops it did
not find (open, failed, stopped, deleted, or written elsewhere).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_a2i.s3_uris import split_s3_uri
from airflow_a2i.validation import flow_definition_name

OUTPUT_FILE = "output.json"
# The listing starts this long before the batch's first loop: the creation times are A2I's clock, not ours.
SKEW_SECONDS = 300.0
LIST_PAGE_SIZE = 1000  # ListObjectsV2's maximum


def output_prefix(s3_output_path: str, flow_definition_arn: str) -> tuple[str, str]:
    """``(bucket, key prefix)`` under which A2I writes the flow definition's outputs, ending with ``/``."""
    bucket, path = split_s3_uri(s3_output_path)
    return bucket, "/".join(part for part in (path.strip("/"), flow_definition_name(flow_definition_arn)) if part) + "/"


def listing_start(prefix: str, created_after: float) -> str:
    """The ``StartAfter`` key: just before the outputs of loops created since ``created_after`` (epoch seconds)."""
    stamp = datetime.fromtimestamp(max(0.0, created_after - SKEW_SECONDS), UTC).strftime("%Y/%m/%d/%H/%M/%S")
    return f"{prefix}{stamp}"


def loop_name_of(key: str, prefix: str) -> str | None:
    """The loop whose output ``key`` is (``<prefix>YYYY/MM/DD/hh/mm/ss/<loop-name>/output.json``), else None."""
    parts = key[len(prefix):].split("/") if key.startswith(prefix) else []
    if len(parts) != 8 or parts[-1] != OUTPUT_FILE or not all(part.isdigit() for part in parts[:6]):
        return None
    return parts[6]


def human_loop_arn(flow_definition_arn: str, name: str) -> str:
    """A loop's ARN, as A2I forms it: its flow definition's partition, Region and account."""
    partition, region, account = flow_definition_arn.split(":")[1:2] + flow_definition_arn.split(":")[3:5]
    return f"arn:{partition}:sagemaker:{region}:{account}:human-loop/{name}"


@dataclass
class ListedOutputs:
    """The outputs found for the loops looked for (loop name -> ``s3://`` URI), and what the listing cost."""

    uris: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    keys: int = 0


def list_outputs(s3_client: Any, s3_output_path: str, flow_definition_arn: str, created_after: float,
                 names: Collection[str]) -> ListedOutputs:
    """List the outputs written since ``created_after`` under the flow definition's prefix; keep those of ``names``.
    Stops as soon as every name has been found."""
    bucket, prefix = output_prefix(s3_output_path, flow_definition_arn)
    wanted, found = set(names), ListedOutputs()
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, StartAfter=listing_start(prefix, created_after),
                                   PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
        found.pages += 1
        for entry in page.get("Contents", []):
            found.keys += 1
            name = loop_name_of(entry["Key"], prefix)
            if name in wanted and name not in found.uris:
                found.uris[name] = f"s3://{bucket}/{entry['Key']}"
        if len(found.uris) == len(wanted):
            break
    return found
