"""What human loops answered, read and merged: pure rules over JSON, cheap to import at DAG parse time.

- :mod:`~airflow_a2i.results.output`: the typed model of A2I's ``output.json`` and its parser;
- :mod:`~airflow_a2i.results.consolidation`: several workers' answers to one loop, per path the majority;
- :mod:`~airflow_a2i.results.built_in`: Textract and Rekognition, the people's corrections merged into the
  machine's result;
- :mod:`~airflow_a2i.results.items`: what the results operator reads and where it writes;
- :mod:`~airflow_a2i.results.summary`: the summary of a results file.
"""
