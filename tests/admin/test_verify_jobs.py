"""Verify jobs over real HTTP: start one, follow it, read its result and its access log (C22, C23).

The service runs as ``consent-service serve`` (a subprocess) on each store, the log
seeded through the store, tokens made by the real CLI. The states a job passes through
too quickly to catch over HTTP (running, the result refused until done) are held open
in-process, on a verify made to wait.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from consent_service.admin import verify_jobs
from consent_service.audit.events import ConsentEvent
from consent_service.audit.integrity import verify_log
from consent_service.sites import load_sites
from consent_service.store import TextsSnapshot, open_store

from ..conftest import KEY, signed
from ..rawdb import RawDb
from .conftest import bearer, consent

ROWS = 120


@dataclass
class Served:
    base: str
    database_url: str
    config: Path

    def token(self, site: str, role: str = "officer") -> str:
        made = subprocess.run(
            [
                *(sys.executable, "-m", "consent_service", "token", "create", "--site", site),
                *("--role", role, "--database", self.database_url, "--config", str(self.config)),
            ],
            env={**os.environ, "CONSENT_SECRET_KEYS": KEY},
            capture_output=True,
            text=True,
            check=True,
        )
        return made.stdout.strip()


def _seed(database_url: str, config: Path) -> None:
    """``ROWS`` decisions of site ``demo`` (and a few of ``other``), through the store."""
    sites = load_sites(config)
    start = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the month's end passes mid-log

    def event(site_id: str, n: int) -> ConsentEvent:
        site = sites.get(site_id)
        return ConsentEvent(
            site_id=site_id,
            consent_id=f"c{n:021d}",
            action="accept-all" if n % 2 else "reject-all",
            choices={"necessary": True, "statistics": n % 2 == 1, "third-party": n % 2 == 1},
            policy_version=site.policy_version,
            texts_hash=site.texts_hash("sv"),
            language="sv",
            widget_version="1.0.0",
            page="https://www.example.se/",
            ip="192.0.2.0/24",
            browser="Firefox/Linux",
            gpc=False,
            created_at=start + timedelta(minutes=n),
        )

    async def go() -> None:
        store = signed(open_store(database_url))
        await store.open()
        try:
            await store.migrate()
            for first in range(0, ROWS, 40):
                batch = [event("demo", n) for n in range(first, first + 40)]
                batch += [event("other", first)]
                shown = [
                    TextsSnapshot(
                        sites.get(s).texts_hash("sv"),
                        s,
                        "sv",
                        sites.get(s).policy_version,
                        sites.get(s).shown_texts("sv"),
                    )
                    for s in ("demo", "other")
                ]
                await store.append(batch, shown)
        finally:
            await store.close()

    asyncio.run(go())


@pytest.fixture
def served(database_url: str, two_sites: Path) -> Iterator[Served]:
    _seed(database_url, two_sites)
    port = _free_port()
    env = {**os.environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_VERIFY_WORKERS": "2"}
    env.pop("CONSENT_AUTO_PURGE", None)
    command = [sys.executable, "-m", "consent_service", "serve", "--port", str(port)]
    command += ["--database", database_url, "--config", str(two_sites)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        yield Served(base, database_url, two_sites)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _finished(http: httpx.Client, location: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status = http.get(location, headers=bearer(token))
        assert status.status_code == 200, status.text
        job: dict[str, Any] = status.json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_c22_c23_a_verify_job_runs_reports_and_is_in_the_access_log(served: Served) -> None:
    token = served.token("demo")
    with httpx.Client(base_url=served.base, timeout=30) as http:
        started = http.post("/admin/v1/log/verify-jobs", headers=bearer(token))
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        assert location == f"/admin/v1/log/verify-jobs/{started.json()['id']}"
        assert started.json()["sites"] == ["demo"]
        job = _finished(http, location, token)
        assert job["state"] == "done" and job["ok"] is True
        assert job["rows_checked"] == job["rows_total"] == ROWS
        result = http.get(job["result"], headers=bearer(token))
        assert result.status_code == 200
        answer = result.json()
        assert answer["ok"] is True and answer["rows_checked"] == ROWS
        # The same answer as the synchronous route, which stays.
        direct = http.get("/admin/v1/log/verify", headers=bearer(token)).json()
        assert direct == answer
        log = http.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()
    entries = [e for e in log["entries"] if e["detail"].get("job") == job["id"]]
    assert len(entries) == 1 and entries[0]["action"] == "verify"
    assert entries[0]["site_id"] == "demo"
    assert entries[0]["detail"] == {"complete": True, "ok": True, "job": job["id"], "rows": ROWS}


def test_c22_a_job_names_the_edited_row_and_logs_the_failure(served: Served) -> None:
    db = RawDb(served.database_url)
    try:
        seq = db.execute("SELECT seq FROM consent_events WHERE site_id = 'demo' ORDER BY seq")[70]
        db.execute(
            "UPDATE consent_events SET action = 'accept-all' WHERE seq = ?",
            seq[0],
            bypass_triggers=True,
        )
    finally:
        db.close()
    token = served.token("demo")
    with httpx.Client(base_url=served.base, timeout=30) as http:
        location = http.post("/admin/v1/log/verify-jobs", headers=bearer(token)).headers["location"]
        job = _finished(http, location, token)
        answer = http.get(job["result"], headers=bearer(token)).json()
        log = http.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()
    assert job["state"] == "done" and job["ok"] is False
    assert answer["first_broken"]["seq"] == seq[0]
    assert "does not match its hash" in answer["first_broken"]["reason"]
    entry = next(e for e in log["entries"] if e["detail"].get("job") == job["id"])
    assert entry["detail"]["complete"] is True and entry["detail"]["ok"] is False


def test_c23_a_job_is_only_its_tokens_and_bad_requests_change_nothing(served: Served) -> None:
    token, other, viewer = (
        served.token("demo"),
        served.token("other"),
        served.token("demo", "viewer"),
    )
    with httpx.Client(base_url=served.base, timeout=30) as http:
        location = http.post("/admin/v1/log/verify-jobs", headers=bearer(token)).headers["location"]
        _finished(http, location, token)
        for path in (location, location + "/result"):
            refused = http.get(path, headers=bearer(other))
            assert refused.status_code == 404
            assert refused.json()["error"]["code"] == "no_such_job"
        missing = http.get("/admin/v1/log/verify-jobs/nope", headers=bearer(token))
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_job"
        assert http.post("/admin/v1/log/verify-jobs").status_code == 401
        assert http.post("/admin/v1/log/verify-jobs", headers=bearer(viewer)).status_code == 403
        query = http.post("/admin/v1/log/verify-jobs?sites=all", headers=bearer(token))
        assert query.status_code == 422 and query.json()["error"]["code"] == "invalid_field"
        assert http.get(location + "?x=1", headers=bearer(token)).status_code == 422
        log = http.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()
    verifies = [e for e in log["entries"] if e["action"] == "verify"]
    assert len(verifies) == 1  # the refused requests started nothing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_running_job_says_so_and_a_second_start_returns_it(
    admin_client: TestClient,
    make_token: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consent(admin_client, action="accept-all")
    token = make_token("demo")
    release = threading.Event()
    real = verify_log

    async def waiting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs["progress"](0)
        await asyncio.to_thread(release.wait, 10)
        return await real(*args, **kwargs)

    monkeypatch.setattr(verify_jobs, "verify_log", waiting)  # the module's own name for it
    first = admin_client.post("/admin/v1/log/verify-jobs", headers=bearer(token))
    assert first.status_code == 202
    location = first.headers["location"]
    deadline = time.monotonic() + 10
    while (running := admin_client.get(location, headers=bearer(token)).json())[
        "state"
    ] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert running["state"] == "running" and running["rows_total"] == 1
    assert running["finished_at"] is None and running["ok"] is None
    again = admin_client.post("/admin/v1/log/verify-jobs", headers=bearer(token))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    early = admin_client.get(location + "/result", headers=bearer(token))
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_finished"
    release.set()
    deadline = time.monotonic() + 10
    while admin_client.get(location, headers=bearer(token)).json()["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert admin_client.get(location + "/result", headers=bearer(token)).json()["ok"] is True


def test_the_job_routes_are_documented(admin_client: TestClient) -> None:
    doc = admin_client.get("/openapi.json").json()
    for route in verify_jobs.routes():
        for method in route.methods or ():
            if method == "HEAD":
                continue
            item = doc["paths"][route.path][method.lower()]
            assert item["security"] == [{"bearer": []}] and "401" in item["responses"]
    assert "VerifyJob" in doc["components"]["schemas"]
