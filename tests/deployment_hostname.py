"""Airflow's ``[core] hostname_callable`` in the test deployments: each process calls itself by its component's name.

The harness (tests/airflow_deployment.py) sets ``A2I_DEPLOYMENT_COMPONENT`` (``celery-worker-1``, ``triggerer-2``)
in each process's environment, and children inherit it: a task instance's ``hostname`` names the Celery worker
that ran it, a triggerer job's ``hostname`` the triggerer. Outside the harness: the machine's name, as Airflow's
default would give.
"""

from __future__ import annotations

import os
import socket

COMPONENT_VARIABLE = "A2I_DEPLOYMENT_COMPONENT"  # tests/airflow_deployment.py sets it


def component_hostname() -> str:
    return os.environ.get(COMPONENT_VARIABLE) or socket.getfqdn()
