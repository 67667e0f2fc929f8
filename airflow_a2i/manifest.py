"""A batch's manifest in S3: one JSON line per item, written as it goes, read back after a crash.

S3 cannot append, so a writer flushes part files (``part-<attempt>-<seq>.jsonl``) every ``flush_every``
items or ``flush_seconds`` seconds, and a final ``_COMPLETE`` marker with the counts. Part names carry
the attempt, so a retry never overwrites what an earlier attempt recorded; a reader merges all parts,
the last record of an item winning.

XCom and trigger arguments carry the manifest's URI and counts, never the records.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_a2i.exceptions import A2IValidationError
from airflow_a2i.s3_uris import join_s3_uri, split_s3_uri
from airflow_a2i.xcom_values import plain_lists

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

COMPLETE_MARKER = "_COMPLETE"
PART_PREFIX = "part-"


@dataclass
class ManifestRecord:
    """One item of a batch: whether a loop started for it, under which name, and where its analysis is."""

    item_key: str
    human_loop_name: str | None = None
    human_loop_started: bool = False
    reasons: list[str] = field(default_factory=list)
    analysis_s3_uri: str | None = None
    document: str | None = None
    page: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> ManifestRecord:
        data = json.loads(line)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class ManifestWriter:
    """Writes records to ``<manifest_uri>/part-<attempt>-<seq>.jsonl``; :meth:`complete` writes the marker."""

    def __init__(self, s3_hook: S3Hook, manifest_uri: str, *, flush_every: int = 200, flush_seconds: float = 10.0,
                 attempt: str | None = None) -> None:
        self.s3_hook = s3_hook
        self.manifest_uri = manifest_uri.rstrip("/")
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.attempt = attempt or uuid.uuid4().hex[:8]
        self._pending: list[ManifestRecord] = []
        self._sequence = 0
        self._last_flush = time.monotonic()
        self.written = 0

    def add(self, record: ManifestRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        body = "".join(record.to_json() + "\n" for record in self._pending)
        key = join_s3_uri(self.manifest_uri, f"{PART_PREFIX}{self.attempt}-{self._sequence:05d}.jsonl")
        self.s3_hook.load_string(body, key=key, replace=True)
        self._sequence += 1
        self.written += len(self._pending)
        self._pending = []

    def complete(self, summary: dict[str, Any]) -> None:
        """Flush what is left and write the marker: the batch is whole."""
        self.flush()
        self.s3_hook.load_string(json.dumps(summary, sort_keys=True),
                                 key=join_s3_uri(self.manifest_uri, COMPLETE_MARKER), replace=True)


def task_manifest_uri(base_uri: str, map_index: int | None) -> str:
    """A task's own manifest under ``base_uri``: mapped tasks get ``/map-<index>`` each."""
    return base_uri.rstrip("/") + (f"/map-{map_index}" if map_index is not None and map_index >= 0 else "")


def batch_start_time(recorded: dict[str, ManifestRecord], skew_seconds: float) -> float:
    """When the batch's first loop may have been created: its earliest recorded attempt (or now), less a skew."""
    return min([record.extra.get("created_after", time.time()) for record in recorded.values()]
               + [time.time()]) - skew_seconds


def read_manifest(s3_hook: S3Hook, manifest_uri: str) -> dict[str, ManifestRecord]:
    """Every item recorded under the manifest (all parts, all attempts): item key -> its last record."""
    bucket, prefix = split_s3_uri(manifest_uri)
    keys = s3_hook.list_keys(bucket_name=bucket, prefix=f"{prefix}/{PART_PREFIX}") or []
    records: dict[str, ManifestRecord] = {}
    for key in sorted(keys):
        for record in parse_lines(s3_hook.read_key(key, bucket_name=bucket)):
            records[record.item_key] = record
    return records


def parse_lines(text: str) -> Iterator[ManifestRecord]:
    for line in text.splitlines():
        if line.strip():
            yield ManifestRecord.from_json(line)


def read_manifests(s3_hook: S3Hook, manifest_uris: Iterable[str]) -> dict[str, ManifestRecord]:
    merged: dict[str, ManifestRecord] = {}
    for uri in manifest_uris:
        merged.update(read_manifest(s3_hook, uri))
    return merged


def completion(s3_hook: S3Hook, manifest_uri: str) -> dict[str, Any] | None:
    """The ``_COMPLETE`` marker's summary, or None while the batch is unfinished."""
    bucket, prefix = split_s3_uri(manifest_uri)
    key = f"{prefix}/{COMPLETE_MARKER}"
    if not s3_hook.check_for_key(key, bucket_name=bucket):
        return None
    return json.loads(s3_hook.read_key(key, bucket_name=bucket))


@dataclass(frozen=True)
class ManifestSources:
    """What ``manifest_uris`` says: the manifests, and what batch start tasks told about them."""

    uris: list[str]
    flow_definition_arns: frozenset[str] = frozenset()
    created_after: float | None = None  # when every start task gave one: the earliest


def manifest_sources(value: object, name: str = "manifest_uris") -> ManifestSources:
    """The manifests from what a DAG passes as ``name``: a URI, a list of URIs, or what batch start tasks return.

    A batch start task (:class:`~airflow_a2i.operators.batch.A2IStartHumanLoopBatchOperator`) returns a dict
    with ``"manifest_uri"``, and also ``"flow_definition_arn"`` and ``"created_after"`` (epoch seconds
    before its loops' creation), which are used when present; a mapped task returns a list of them.
    Lists may mix URIs and such dicts, and hold lists of them (a mapped task's output in a list). None
    items (a map index that pushed nothing) are ignored; duplicate URIs are dropped.
    """
    value = plain_lists(value)  # a mapped task's output: read in one request, not item by item
    items: list[Any]
    if isinstance(value, str | Mapping):
        items = [value]
    elif isinstance(value, Sequence) or hasattr(value, "__iter__"):
        items = list(_flattened(value))
    else:
        raise A2IValidationError(f"{name} must be an s3:// URI, a list of them, or what a batch start task "
                                 f"returns (a dict with 'manifest_uri'), not {type(value).__name__}")
    uris: list[str] = []
    arns: set[str] = set()
    created: list[float | None] = []
    for item in items:
        if item is None:
            continue
        uri = item.get("manifest_uri") if isinstance(item, Mapping) else item
        if not isinstance(uri, str) or not uri.startswith("s3://") or not uri[5:].strip("/"):
            raise A2IValidationError(
                f"{name} holds {item!r:.200}, not an s3://bucket/prefix URI nor a dict with a "
                "'manifest_uri' key. Pass the start task's output (start.output) rather than a Jinja string "
                "of it, or set render_template_as_native_obj=True on the DAG"
            )
        uris.append(uri.rstrip("/"))
        if isinstance(item, Mapping):
            if isinstance(item.get("flow_definition_arn"), str):
                arns.add(item["flow_definition_arn"])
            after = item.get("created_after")
            created.append(float(after) if isinstance(after, int | float) and not isinstance(after, bool) else None)
        else:
            created.append(None)
    if not uris:
        raise A2IValidationError(f"{name} names no manifest: give at least one s3:// manifest URI")
    known = [after for after in created if after is not None]
    return ManifestSources(list(dict.fromkeys(uris)), frozenset(arns),
                           min(known) if known and len(known) == len(created) else None)


def _flattened(items: Any) -> Iterator[Any]:
    """The items of a list, those of the lists in it one by one (a mapped start task's output in a list)."""
    for item in items:
        if item is None or isinstance(item, str | Mapping) or not hasattr(item, "__iter__"):
            yield item
        else:
            yield from _flattened(item)
