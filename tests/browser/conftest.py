"""Browser fixtures: the real service as a subprocess, Debian's Chromium through Playwright.

Without Chromium (or Playwright) the browser tests skip, except under ``CI=true``,
where they fail: CI must prove the widget in a real browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from consent_service.gating.chromium import CHROMIUM_ARGS, DEFAULT_CHROMIUM
from consent_service.settings import DEMO_CONFIG

CHROMIUM = DEFAULT_CHROMIUM
ON_CI = os.environ.get("CI", "").lower() == "true"
AXE = Path(__file__).resolve().parents[2] / "widget" / "node_modules" / "axe-core" / "axe.min.js"


def _missing(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@dataclass
class Service:
    """A running ``consent-service demo`` and where its audit log lives."""

    url: str
    database: Path
    process: subprocess.Popen[bytes]
    log: Path
    _seen: int = field(default=0)

    def events(self) -> list[dict[str, Any]]:
        """Every audit row so far, oldest first."""
        with sqlite3.connect(self.database) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM consent_events ORDER BY seq").fetchall()
        return [dict(r) for r in rows]

    def events_for(
        self, consent_id: str, count: int, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """The rows of one consent ID, waiting until at least ``count`` are durable."""
        deadline = time.monotonic() + timeout
        while True:
            rows = [r for r in self.events() if r["consent_id"] == consent_id]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(workdir: Path, config: Path = DEMO_CONFIG) -> Service:
    """Start the real service on a free port (rate limit off: tests write often)."""
    port = free_port()
    database = workdir / f"kakor-{port}.db"
    log = workdir / f"service-{port}.log"
    env = {**os.environ, "CONSENT_RATE_LIMIT": "0", "CONSENT_CONFIG": str(config)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "consent_service", "demo", "--host", "127.0.0.1", "--port", str(port)),
                *("--database", f"sqlite:///{database}", "--config", str(config)),
            ],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return Service(url, database, process, log)
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError("the service did not start:\n" + log.read_text())
        time.sleep(0.1)


def stop_service(service: Service) -> None:
    service.process.terminate()
    try:
        service.process.wait(10)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()


@pytest.fixture(scope="session")
def service_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kakor-service")


@pytest.fixture(scope="session")
def service(service_dir: Path) -> Iterator[Service]:
    running = start_service(service_dir)
    yield running
    stop_service(running)


@pytest.fixture(scope="session")
def service_new_policy(service_dir: Path) -> Iterator[Service]:
    """The same demo site after its policy_version changed (C15: ask again)."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    assert 'policy_version = "2026-11-01"' in text
    config = service_dir / "site-v2.toml"
    config.write_text(
        text.replace('policy_version = "2026-11-01"', 'policy_version = "2027-01-01"')
    )
    running = start_service(service_dir, config)
    yield running
    stop_service(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps
    an event loop running while it is open, which other suites' asyncio would trip on."""
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile: no cookies, no storage, a 1280×720 window."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from the npm registry: a pinned devDependency of widget/."""
    if not AXE.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=AXE.parents[2], check=True, timeout=300
        )
    if not AXE.exists():
        _missing(f"{AXE} is missing: run `make widget-deps` (npm ci in widget/)")
    return AXE.read_text(encoding="utf-8")
