"""What every wait on human loops shares, sync (operators, sensors) and async (triggers).

- :mod:`~airflow_a2i.waiting.policies`: the loop states, :class:`~airflow_a2i.waiting.policies.WaitPolicy` and
  ``decide()``, the one pure decision after each look.
- :mod:`~airflow_a2i.waiting.batch`: :class:`~airflow_a2i.waiting.batch.BatchLook`, a batch's look with no I/O,
  and the batch's manifests and report.
- :mod:`~airflow_a2i.waiting.events`: the typed events triggers yield.
- :mod:`~airflow_a2i.waiting.completion`: :class:`~airflow_a2i.waiting.completion.EventWait`, an event-driven
  wait's bookkeeping with no I/O.
- :mod:`~airflow_a2i.waiting.sync`: :class:`~airflow_a2i.waiting.sync.BlockingWait`, the blocking looks (polling or
  event-driven, with backoff on throttling), outcomes as task states, and the sensors' reports.

Nothing here imports Airflow or boto3 at module level: DAG files do not pay for it.
"""
