"""A mapped task's output (a lazy XCom sequence) is read with one request, never item by item to a miss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import pytest

from airflow_a2i.xcom_values import plain_lists


class LazySequence(Sequence[Any]):
    """Like Airflow's lazy XCom sequence: a request per item read or per slice; a read past the end is a miss."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.requests: list[str] = []

    def __len__(self) -> int:
        self.requests.append("count")
        return len(self.values)

    @overload
    def __getitem__(self, key: int) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> Sequence[Any]: ...

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            self.requests.append("slice")
            return self.values[key]
        self.requests.append("item" if key < len(self.values) else "miss")  # Airflow 3 logs a miss as an error
        return self.values[key]


def test_a_lazy_sequence_is_read_with_one_slice() -> None:
    lazy = LazySequence(["s3://b/m1", {"manifest_uri": "s3://b/m2"}])
    assert plain_lists(lazy) == ["s3://b/m1", {"manifest_uri": "s3://b/m2"}]
    assert lazy.requests == ["slice"]


def test_lazy_sequences_inside_a_list_are_read_too() -> None:
    first, second = LazySequence(["a"]), LazySequence(["b", "c"])
    assert plain_lists([first, "d", (second,)]) == [["a"], "d", [["b", "c"]]]
    assert first.requests == second.requests == ["slice"]


@pytest.mark.parametrize("value", ["s3://b/m", {"manifest_uri": "s3://b/m"}, None, 3])
def test_other_values_are_returned_as_they_are(value: object) -> None:
    assert plain_lists(value) is value


def test_the_operators_read_a_mapped_output_once() -> None:
    from airflow_a2i.manifest import manifest_sources
    from airflow_a2i.results.items import parse_human_loops

    manifests = LazySequence([{"manifest_uri": "s3://b/m1"}, "s3://b/m2"])
    assert manifest_sources(manifests).uris == ["s3://b/m1", "s3://b/m2"]
    loops = LazySequence(["loop-1", "loop-2"])
    assert [item.human_loop_name for item in parse_human_loops(loops)] == ["loop-1", "loop-2"]
    assert "miss" not in manifests.requests + loops.requests
