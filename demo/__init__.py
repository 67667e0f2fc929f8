"""What the demo, the tests and the benchmarks share, kept out of the installed package (a deployment never needs
it): the demo's data (:mod:`demo.samples`), the local service as a child process (:mod:`demo.service`) and running a
DAG file in-process with ``dag.test()`` (:mod:`demo.dag_runner`, version differences in :mod:`demo.airflow_lines`).
Used from the repository: `make demo` puts it on the path, pytest's rootdir does for the tests."""
