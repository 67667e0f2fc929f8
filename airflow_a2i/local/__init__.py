"""A local, A2I-compatible service: the A2I runtime, SageMaker's A2I parts, and moto for the rest.

Start it with ``airflow-a2i local serve``; clients reach it through ``AWS_ENDPOINT_URL``.
"""
