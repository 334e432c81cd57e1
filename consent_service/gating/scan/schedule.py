"""Scheduled scans: ``serve`` scans each site that asks for it and keeps the report.

A site with a ``[sites.<id>.scan]`` table (``start``, ``every_days``, ``max_pages``,
``max_minutes``) is
scanned when its newest stored report is older than ``every_days`` (or there is none).
The scan runs as ``consent-service scan`` in a child process, at a lower CPU priority,
so Chromium never shares the event loop or the memory of the process answering
visitors, and a crash of either ends only that scan. Its JSON report is then recorded
(:func:`~consent_service.gating.scan.record.record_scan`): stored, signed, and
appended to the site's audit log. A scan that fails (exit 2: no Chromium, page
unreachable) is logged and tried again at the next check, never recorded as a result.

Replicas (and the workers of ``serve --workers N``) share the store and each checks
"due" against it; a due site is scanned under a lease on ``scan:<site>``
(:func:`~consent_service.store.leases.lease`), and "due" is asked again once it is
held, so one process scans it and the others skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from consent_service.gating.scan.record import record_scan
from consent_service.sites import Site
from consent_service.sites.model import ScanSchedule
from consent_service.store.leases import lease
from consent_service.store.scans import ScanRecord
from consent_service.web.state import AppState

_log = logging.getLogger("kakor.scan")

#: Seconds between two looks at what is due.
CHECK_EVERY = 3600.0
#: Seconds a crawl may take past its ``--max-time`` (the page under way when the time
#: runs out, the report) before the child is stopped with nothing recorded.
SCAN_GRACE = 300.0

Runner = Callable[[Site, ScanSchedule, Path], Awaitable[dict[str, Any] | None]]


def child_timeout(plan: ScanSchedule) -> float:
    """How long the child may run: the crawl's own bound, then :data:`SCAN_GRACE`."""
    return plan.max_minutes * 60 + SCAN_GRACE


async def scan_in_child(site: Site, plan: ScanSchedule, config: Path) -> dict[str, Any] | None:
    """Crawl ``site`` with ``consent-service scan --crawl``; its JSON report, or None."""
    nice = shutil.which("nice")  # visitors first: the scan gets what CPU is left
    command = [*([nice, "-n", "10"] if nice else []), sys.executable, "-m", "consent_service"]
    command += ["scan", plan.start, "--site", site.id, "--config", str(config), "--format", "json"]
    command += ["--crawl", "--max-pages", str(plan.max_pages), "--quiet"]
    command += ["--max-time", str(plan.max_minutes * 60)]
    limit = child_timeout(plan)
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except (TimeoutError, asyncio.CancelledError) as exc:
        proc.kill()
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        _log.warning("scan of %s stopped after %.0f s", site.id, limit)
        return None
    if proc.returncode not in (0, 1, 3):  # clean, problems, some pages failed: all reports
        _log.warning("scan of %s failed: %s", site.id, err.decode(errors="replace")[-500:])
        return None
    report: dict[str, Any] = json.loads(out)
    return report


class ScanScheduler:
    """Checks every :data:`CHECK_EVERY` seconds which sites are due, and scans them in turn."""

    def __init__(self, state: AppState, run: Runner = scan_in_child) -> None:
        self.state = state
        self.run = run

    def planned(self) -> list[tuple[Site, ScanSchedule]]:
        """The sites with a scan schedule."""
        return [(site, site.scan) for site in self.state.sites if site.scan is not None]

    async def due(self, site: Site, plan: ScanSchedule) -> bool:
        """True when the site has no report yet, or its newest is ``every_days`` old."""
        newest = await self.state.store.scans.newest(site.id, 1)
        return not newest or newest[0].created_at + timedelta(days=plan.every_days) <= (
            self.state.now()
        )

    async def run_due(self) -> list[ScanRecord]:
        """Scan and record every site that is due; the records made."""
        made = []
        for site, plan in self.planned():
            if not await self.due(site, plan):
                continue
            async with lease(self.state.store, f"scan:{site.id}") as held:
                # Asked again under the lease: another process may have just recorded one.
                if not held or not await self.due(site, plan):
                    _log.info("scan of %s: another process has it", site.id)
                    continue
                report = await self.run(site, plan, self.state.settings.config_path)
                if report is None:
                    continue
                record = await record_scan(
                    self.state.store, self.state.log_signer, site.id, report, self.state.now()
                )
            _log.info("scan of %s recorded: report %s, seq %s", site.id, record.id, record.seq)
            made.append(record)
        return made

    async def loop(self) -> None:
        """Run :meth:`run_due` now and then every :data:`CHECK_EVERY` seconds, for ever."""
        while True:
            try:
                await self.run_due()
            except Exception:  # a bad scan or a store hiccup must not end the schedule
                _log.exception("scheduled scans failed; trying again later")
            await asyncio.sleep(CHECK_EVERY)


def start_scans(state: AppState) -> asyncio.Task[None] | None:
    """Start the schedule when a site has one; else do nothing (the default)."""
    scheduler = ScanScheduler(state)
    if not scheduler.planned():
        return None
    return asyncio.get_running_loop().create_task(scheduler.loop(), name="kakor-scans")


async def stop_scans(task: asyncio.Task[None] | None) -> None:
    """Cancel the schedule (a scan under way is killed with its child) and wait."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
