"""Real service processes for the multi-replica tests: ``consent-service serve`` on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(keys: Sequence[str], **extra: str) -> dict[str, str]:
    """The environment a replica runs with: this one minus any CONSENT_*, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    if "CONSENT_LOG_KEY_FILE" in os.environ:  # every replica signs with the run's one key
        env["CONSENT_LOG_KEY_FILE"] = os.environ["CONSENT_LOG_KEY_FILE"]
    env.update(
        CONSENT_SECRET_KEYS=",".join(keys),
        CONSENT_RATE_LIMIT="0",
        CONSENT_LOG_LEVEL="warning",
        **extra,
    )
    return env


@dataclass
class Replica:
    """One running ``consent-service serve`` process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve_command(port: int, database_url: str, config: Path | None = None) -> list[str]:
    """The command line a replica runs (docker-compose.yml uses the same subcommand and flags)."""
    return [
        sys.executable,
        "-m",
        "consent_service",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        database_url,
        *(["--config", str(config)] if config else []),
    ]


def start(database_url: str, keys: Sequence[str], config: Path | None = None) -> Replica:
    """Start a replica; :func:`wait_ready` before use."""
    port = free_port()
    process = subprocess.Popen(
        serve_command(port, database_url, config),
        env=service_env(keys),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Replica(process, port)


def wait_ready(replicas: Sequence[Replica], timeout: float = 30.0) -> None:
    """Poll each replica's ``/readyz`` until it answers 200 (or fail with its stderr)."""
    deadline = time.monotonic() + timeout
    for replica in replicas:
        while True:
            if replica.process.poll() is not None:
                err = replica.process.stderr.read().decode() if replica.process.stderr else ""
                raise RuntimeError(f"replica on port {replica.port} exited: {err[-2000:]}")
            try:
                if httpx.get(replica.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"replica on port {replica.port} not ready in {timeout}s")
            time.sleep(0.05)


def stop(replicas: Sequence[Replica]) -> None:
    """Terminate the replicas and wait for them to exit."""
    for replica in replicas:
        if replica.process.poll() is None:
            replica.process.terminate()
    for replica in replicas:
        try:
            replica.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()
        if replica.process.stderr:
            replica.process.stderr.close()


def running(
    database_url: str, *key_lists: Sequence[str], config: Path | None = None
) -> Iterator[list[Replica]]:
    """Generator for fixtures: one ready replica per key list, stopped afterwards."""
    replicas = [start(database_url, keys, config) for keys in key_lists]
    try:
        wait_ready(replicas)
        yield replicas
    finally:
        stop(replicas)
