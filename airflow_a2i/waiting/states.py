"""A human loop's states as waits see them: A2I's ``HumanLoopStatus`` values, and MISSING for a loop
``DescribeHumanLoop`` does not find. Kept apart from the policies so that what a DAG file imports stays small."""

from __future__ import annotations

MISSING = "Missing"  # deleted, or never started: DescribeHumanLoop says ResourceNotFound
OPEN_STATES = frozenset({"InProgress", "Stopping"})
FAILED_STATES = frozenset({"Failed", "Stopped", MISSING})
STOPPED_STATES = frozenset({"Stopping", "Stopped"})
FINAL_STATES = frozenset({"Completed"}) | FAILED_STATES
