"""Verification jobs: start a verify of the token's sites, follow it, read its result.

``GET /admin/v1/log/verify`` answers when the whole log is walked: seconds at a million
rows, minutes at tens of millions, with the request held open all along. A job is not:
``POST /admin/v1/log/verify-jobs`` answers 202 at once with the job, ``GET …/{job}``
says how far it is (``rows_checked`` of ``rows_total``, ``state``), and ``GET
…/{job}/result`` gives the verify's answer once it is ``done``. Each job is in the
access log of each of its sites, written when it starts (``"complete": false``) and
given its outcome when it ends (``ok``, ``rows``), as the synchronous route does.

Jobs are kept by the serving process, in memory: one runs at a time (a verify uses
every CPU ``CONSENT_VERIFY_WORKERS`` allows), the others wait ``queued``, and the last
:data:`KEPT` finished jobs can be read. A restart forgets them all: a job that was
running is gone (``GET`` answers 404), and its access-log lines keep ``"complete":
false``, which says it never finished. Start it again. Another process behind the same
proxy does not know the job either: send the job's requests to the process that made it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consent_service.admin import accesslog
from consent_service.admin.auth import OFFICER, Principal
from consent_service.admin.routes import _principal
from consent_service.audit.integrity import verify_log
from consent_service.audit.timefmt import format_time
from consent_service.store import Store
from consent_service.store.ranges import count_rows
from consent_service.web.errors import ApiError, NotFound
from consent_service.web.guards import only_query
from consent_service.web.state import AppState

#: Finished jobs kept for reading, newest first; older ones are forgotten (404).
KEPT = 20
#: Jobs waiting behind the running one, at most; more get 429.
QUEUE = 8
_NO_STORE = {"Cache-Control": "no-store"}
_log = logging.getLogger(__name__)


@dataclass
class VerifyJob:
    """One verify of a token's sites, from ``queued`` to ``done`` (or ``failed``)."""

    id: str
    token_id: str
    sites: tuple[str, ...]
    created_at: datetime
    state: str = "queued"
    rows_checked: int = 0
    rows_total: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The job's status as ``GET /admin/v1/log/verify-jobs/{job}`` answers it."""
        return {
            "id": self.id,
            "state": self.state,
            "sites": list(self.sites),
            "rows_checked": self.rows_checked,
            "rows_total": self.rows_total,
            "created_at": format_time(self.created_at),
            "started_at": None if self.started_at is None else format_time(self.started_at),
            "finished_at": None if self.finished_at is None else format_time(self.finished_at),
            "ok": None if self.result is None else self.result["ok"],
            "error": self.error,
            "result": f"/admin/v1/log/verify-jobs/{self.id}/result",
        }


class VerifyJobs:
    """The jobs of one process, run one after the other."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._jobs: OrderedDict[str, VerifyJob] = OrderedDict()
        self._turn = asyncio.Lock()

    def find(self, job_id: str, who: Principal) -> VerifyJob:
        """The job, if this token started it (any other token is told there is none)."""
        job = self._jobs.get(job_id)
        if job is None or job.token_id != who.token_id:
            raise NotFound(f"no verify job {job_id[:64]!r}", code="no_such_job")
        return job

    async def start(self, who: Principal) -> tuple[VerifyJob, bool]:
        """A new job for ``who``'s sites, or the one of theirs not yet finished; and
        whether it is new."""
        sites = tuple(who.sites)
        waiting = [j for j in self._jobs.values() if j.state in ("queued", "running")]
        for job in waiting:
            if job.token_id == who.token_id and job.sites == sites:
                return job, False
        if len(waiting) > QUEUE:
            raise ApiError(
                "too many verify jobs are waiting; try again when one has finished",
                status=429,
                code="verify_jobs_busy",
                headers={"Retry-After": "60"},
            )
        st = self._state
        job = VerifyJob(secrets.token_hex(8), who.token_id, sites, st.now())
        # One line per site, written before the walk, given its outcome after it.
        entries = {
            site: await accesslog.record(
                st.store, who, site, "verify", {"complete": False, "job": job.id}, st.now()
            )
            for site in sites
        }
        self._jobs[job.id] = job
        self._forget_old()
        job.task = asyncio.create_task(self._run(job, entries), name=f"verify-job-{job.id}")
        return job, True

    async def _run(self, job: VerifyJob, entries: dict[str, int]) -> None:
        st = self._state
        try:
            async with self._turn:
                job.state, job.started_at = "running", st.now()
                job.rows_total = await count_rows(st.store, job.sites)

                def progress(rows: int) -> None:
                    job.rows_checked = rows

                job.result = await verify_log(
                    st.store,
                    job.sites,
                    workers=st.settings.verify_workers,
                    progress=progress,
                )
            job.state = "done"
            job.rows_checked = job.result["rows_checked"]
            outcome = {"complete": True, "ok": job.result["ok"]}
            await _outcome(st.store, entries, job, job.result["sites"], outcome)
        except Exception as exc:  # the job's own failure; the server goes on
            _log.exception("verify job %s failed", job.id)
            job.state, job.error = "failed", f"{type(exc).__name__}: the verify did not finish"
            await _outcome(st.store, entries, job, {}, {"complete": False, "error": job.error})
        finally:
            job.finished_at = st.now()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
        for job in finished[: max(0, len(finished) - KEPT)]:
            del self._jobs[job.id]

    async def stop(self) -> None:
        """Cancel the jobs not yet finished (the server is stopping)."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _outcome(
    store: Store,
    entries: dict[str, int],
    job: VerifyJob,
    sites: dict[str, Any],
    outcome: dict[str, Any],
) -> None:
    for site, entry in entries.items():
        rows = sites.get(site, {}).get("rows_checked", 0)
        await store.complete_access(entry, {**outcome, "job": job.id, "rows": rows})


def jobs_of(request: Request, st: AppState) -> VerifyJobs:
    """This app's jobs (made on first use)."""
    jobs: VerifyJobs | None = getattr(request.app.state, "kakor_verify_jobs", None)
    if jobs is None:
        jobs = request.app.state.kakor_verify_jobs = VerifyJobs(st)
    return jobs


async def stop_jobs(app: Any) -> None:
    """Cancel ``app``'s unfinished jobs: called as the server stops, before the store closes."""
    jobs: VerifyJobs | None = getattr(app.state, "kakor_verify_jobs", None)
    if jobs is not None:
        await jobs.stop()


async def start_job(request: Request) -> Response:
    """``POST /admin/v1/log/verify-jobs``: verify the token's sites in the background."""
    st, who = await _principal(request, OFFICER)
    only_query(request)
    job, new = await jobs_of(request, st).start(who)
    location = f"/admin/v1/log/verify-jobs/{job.id}"
    return JSONResponse(
        job.to_dict(), status_code=202 if new else 200, headers={**_NO_STORE, "Location": location}
    )


async def job_status(request: Request) -> Response:
    """``GET /admin/v1/log/verify-jobs/{job}``: its state and progress."""
    st, who = await _principal(request, OFFICER)
    only_query(request)
    job = jobs_of(request, st).find(request.path_params["job"], who)
    return JSONResponse(job.to_dict(), headers=_NO_STORE)


async def job_result(request: Request) -> Response:
    """``GET /admin/v1/log/verify-jobs/{job}/result``: the verify's answer, once done."""
    st, who = await _principal(request, OFFICER)
    only_query(request)
    job = jobs_of(request, st).find(request.path_params["job"], who)
    if job.result is None:
        if job.state == "failed":
            raise ApiError(f"the verify job failed: {job.error}", status=409, code="job_failed")
        raise ApiError(
            f"the verify job is {job.state}: {job.rows_checked} rows checked so far",
            status=409,
            code="job_not_finished",
            headers={"Retry-After": "5"},
        )
    return JSONResponse(job.result, headers=_NO_STORE)


def routes() -> list[Route]:
    """The verify-job routes."""
    return [
        Route("/admin/v1/log/verify-jobs", start_job, methods=["POST"]),
        Route("/admin/v1/log/verify-jobs/{job}", job_status, methods=["GET"]),
        Route("/admin/v1/log/verify-jobs/{job}/result", job_result, methods=["GET"]),
    ]
