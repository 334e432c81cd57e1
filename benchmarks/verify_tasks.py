"""The officer benchmark's verify tasks: the CLI, and a verify job through the admin API.

Both check the whole log of the benchmark's file (one site, every row) and fail the run
unless the log verifies, so a fast wrong answer never passes for a fast one:

- ``verify-cli``: ``consent-service verify --database URL``, its RSS sampled;
- ``verify-job``: ``POST /admin/v1/log/verify-jobs`` to a ``consent-service serve``
  subprocess, then ``GET`` the job every 0.1 s until it is done; timed from the POST
  to the first answer that says ``done``, the server's RSS sampled.

Either uses ``CONSENT_VERIFY_WORKERS`` if set (default: one process per CPU).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks.procs import free_port, rss_kib
from consent_service.settings import DEMO_CONFIG

if TYPE_CHECKING:
    from benchmarks.officer_bench import Run


def verify_cli(run: Run) -> dict[str, Any]:
    """``consent-service verify``: the whole log, in as many processes as it takes."""
    from benchmarks.officer_bench import _cli, _timed

    answer = run.out / "verify.json"
    seconds, peak = _timed(_cli("verify", "--database", run.url), answer)
    found = json.loads(answer.read_text())
    if not found["ok"] or found["rows_checked"] != run.rows:
        raise RuntimeError(f"verify did not pass over {run.rows} rows: {found}")
    return {"rows_per_s": round(run.rows / seconds), "seconds": round(seconds, 1), "rss_kib": peak}


def verify_job(run: Run) -> dict[str, Any]:
    """A verify job of a ``consent-service serve`` subprocess, followed until done."""
    from benchmarks.officer_bench import _ENV, _cli, _wait_ready

    create = ["token", "create", "--site", "demo", "--database", run.url]
    token = subprocess.run(
        _cli(*create, "--config", str(DEMO_CONFIG)),
        env=_ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    serve = ["serve", "--port", str(port), "--database", run.url, "--config", str(DEMO_CONFIG)]
    server = subprocess.Popen(_cli(*serve), env=_ENV)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        _wait_ready(base)
        before = rss_kib(server.pid) or 0
        peak = _sampled(server.pid)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            started = time.perf_counter()
            location = http.post("/admin/v1/log/verify-jobs").raise_for_status().headers["location"]
            polls = 0
            while (job := http.get(location).raise_for_status().json())["state"] not in (
                "done",
                "failed",
            ):
                polls += 1
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            result = http.get(job["result"]).json() if job["state"] == "done" else job
        highest = peak()
    finally:
        server.terminate()
        server.wait(timeout=20)
    if not result.get("ok") or result.get("rows_checked") != run.rows:
        raise RuntimeError(f"the verify job did not pass over {run.rows} rows: {result}")
    return {
        "rows_per_s": round(run.rows / seconds),
        "seconds": round(seconds, 1),
        "polls": polls,
        "server_rss_kib_before": before,
        "server_rss_kib_max": highest,
    }


def _sampled(pid: int) -> Callable[[], int]:
    """Sample ``pid``'s RSS every 0.1 s from now; the function returned stops and says
    the highest."""
    samples, done = [rss_kib(pid) or 0], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(rss_kib(pid) or 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def stop() -> int:
        done.set()
        sampler.join()
        return max(samples)

    return stop


#: The verify tasks, by name (they do not depend on the export format: run once a store).
VERIFY_TASKS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "verify-cli": verify_cli,
    "verify-job": verify_job,
}
