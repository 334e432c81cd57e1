"""Real servers for the gating suites: free ports, HTTP probes, and started subprocesses."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to 127.0.0.1:``port``: status, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


class Processes:
    """Starts subprocesses, waits until they answer HTTP, and stops them (only those) at the end."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        command: Sequence[str],
        port: int,
        *,
        probe: str = "/",
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        log = (self.cwd / f"proc-{len(self._procs)}.log").open("wb")
        proc = subprocess.Popen(
            list(command), cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._procs.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{command[0]} exited: {self.log(proc)}")
            try:
                http_get(port, probe)
                return proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{command[0]} did not answer on port {port}: {self.log(proc)}")

    def run_check(self, command: Sequence[str], env: dict[str, str] | None = None) -> str:
        """Run a short command to completion (such as ``nginx -t``); its combined output."""
        done = subprocess.run(
            list(command),
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout + done.stderr

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        """What ``proc`` printed so far."""
        index = self._procs.index(proc)
        return (self.cwd / f"proc-{index}.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
