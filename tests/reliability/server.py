"""A real ``consent-service serve`` process on 127.0.0.1, for tests that need sockets and signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from consent_service.settings import DEMO_CONFIG

from ..conftest import KEY
from .conftest import free_port


class Server:
    """One server process; ``kill()`` is SIGKILL, ``stop()`` a clean SIGTERM."""

    def __init__(
        self,
        database_url: str,
        log: Path,
        *,
        config: Path = DEMO_CONFIG,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "CONSENT_SECRET_KEYS": KEY,
            "CONSENT_RATE_LIMIT": "0",
            "CONSENT_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "consent_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database",
                database_url,
                "--config",
                str(config),
            ],
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Poll ``/readyz`` until it answers 200 (real waiting: this is another process)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"server not ready after {timeout}s: {self.log_path.read_text()[-2000:]}"
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not go."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@contextlib.contextmanager
def running(database_url: str, log: Path, **kwargs: object) -> Iterator[Server]:
    """A ready server for the ``with`` block, stopped after it."""
    server = Server(database_url, log, **kwargs)  # type: ignore[arg-type]
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
