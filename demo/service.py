"""Run ``airflow-a2i local serve`` as a child process on a free loopback port, for tests, the demo and benchmarks.

The service writes its endpoint to a ready file once it accepts requests, so no port is guessed or raced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT = 60.0


class ServiceProcess:
    """``with ServiceProcess(data_dir) as service: ... service.endpoint``; stops the service on exit."""

    def __init__(self, data_dir: Path, *extra_args: str) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None
        self.endpoint = ""
        self.portal = ""  # the worker portal's origin (its own port)
        self.log_path = data_dir / "service.log"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ready_file = self.data_dir / "ready"
        ready_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "airflow_a2i.cli", "local", "serve", "--port", "0",
                   "--data-dir", str(self.data_dir), "--ready-file", str(ready_file), *self.extra_args]
        log = self.log_path.open("a")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the local service exited early:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local service was not ready in {READY_TIMEOUT}s:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.endpoint, self.portal = ready_file.read_text().split()
        return self.endpoint

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
