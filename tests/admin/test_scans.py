"""Recorded scans (issue 20): stored whole, signed by the log key, in the site's audit log.

Both stores, under the fixed clock (year end included): ``consent-service scan-record``
keeps a report; the admin API lists reports with what changed since the previous one
and serves each whole with its signature; the schedule in ``serve`` scans a site when
its newest report is ``every_days`` old.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit.events import SCAN
from consent_service.audit.heads import HeadError, Verifier
from consent_service.audit.integrity import verify_log
from consent_service.gating.scan.record import check_scan
from consent_service.gating.scan.schedule import ScanScheduler
from consent_service.sites.model import ScanSchedule
from consent_service.store import open_store
from consent_service.store.scans import ScanRecord

from ..conftest import EDGES, FakeClock, run_signer, signed
from .conftest import bearer, stored_rows

REPORT: dict[str, Any] = {
    "url": "https://www.example.se/",
    "site": "demo",
    "clean": True,
    "phases": {
        "before": {"ran": True, "cookies": []},
        "reject": {"ran": True, "cookies": [{"name": "consent"}]},
        "accept": {"ran": True, "cookies": [{"name": "consent"}, {"name": "_pk_id"}]},
    },
    "findings": [],
}


def later_report() -> dict[str, Any]:
    """The next month's scan: a new cookie before consent, an undeclared one."""
    report = copy.deepcopy(REPORT)
    report["clean"] = False
    report["phases"]["before"]["cookies"] = [{"name": "_ga"}]
    report["findings"] = [
        {"phase": "before", "kind": "cookie", "subject": "cookie _ga", "detail": "set before"}
    ]
    return report


def record(cli: Callable[..., int], database_url: str, tmp_path: Path, report: Any) -> int:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return int(cli("scan-record", str(path), "--site", "demo", "--database", database_url))


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_a_recorded_scan_is_stored_signed_and_in_the_chain(
    cli: Callable[..., int],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
) -> None:
    capsys.readouterr()
    assert record(cli, database_url, tmp_path, REPORT) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["clean"] is True and printed["findings"] == 0

    rows = [r for r in stored_rows(database_url, "demo") if r.action == SCAN]
    assert len(rows) == 1
    row = rows[0]
    assert row.consent_id == SCAN and row.page == REPORT["url"]
    assert row.created_at == clock.datetime()
    assert row.detail is not None and row.detail["report_sha256"] == printed["sha256"]

    async def go() -> tuple[ScanRecord | None, dict[str, Any]]:
        store = signed(open_store(database_url))
        await store.open()
        try:
            one = await store.scans.one("demo", printed["id"])
            return one, await verify_log(store)
        finally:
            await store.close()

    stored, verified = asyncio.run(go())
    assert verified["ok"], verified
    assert stored is not None and stored.seq == row.seq
    assert json.loads(stored.report or "") == REPORT
    verifiers = [Verifier.from_vkey(v) for v in run_signer().vkeys("demo")]
    check_scan(stored, verifiers)  # intact
    with pytest.raises(HeadError, match="SHA-256"):
        check_scan(
            ScanRecord(**{**stored.__dict__, "report": (stored.report or "") + " "}), verifiers
        )
    with pytest.raises(HeadError):
        check_scan(ScanRecord(**{**stored.__dict__, "sha256": "0" * 64}), verifiers)


def test_the_admin_api_lists_reports_with_their_changes_and_serves_each_signed(
    admin_client: TestClient,
    cli: Callable[..., int],
    database_url: str,
    tmp_path: Path,
    make_token: Callable[..., str],
    clock: FakeClock,
) -> None:
    officer = bearer(make_token("demo"))
    empty = admin_client.get("/admin/v1/sites/demo/scans", headers=officer).json()
    assert empty["scans"] == [] and empty["changes_since_previous"] is None

    assert record(cli, database_url, tmp_path, REPORT) == 0
    clock.advance(30 * 86400)
    assert record(cli, database_url, tmp_path, later_report()) == 0
    listed = admin_client.get("/admin/v1/sites/demo/scans", headers=officer).json()
    assert [s["summary"]["clean"] for s in listed["scans"]] == [False, True]  # newest first
    changes = listed["changes_since_previous"]
    assert changes["new_cookies"] == {"before": ["_ga"]}
    assert changes["new_findings"] == [
        {"page": REPORT["url"], "phase": "before", "kind": "cookie", "subject": "cookie _ga"}
    ]
    assert changes["resolved_findings"] == []

    newest = listed["scans"][0]
    one = admin_client.get(f"/admin/v1/sites/demo/scans/{newest['id']}", headers=officer)
    assert one.status_code == 200
    body = one.json()
    assert body["report"] == later_report()
    assert body["statement"].startswith("kakor-scan-report/v1\ndemo\n")
    assert body["sha256"] in body["statement"]
    check_scan(
        ScanRecord(
            site_id="demo",
            created_at=clock.datetime(),
            sha256=body["sha256"],
            summary=body["summary"],
            signature=body["signature"],
            report=json.dumps(body["report"], sort_keys=True, separators=(",", ":")),
        ),
        [Verifier.from_vkey(v) for v in body["vkeys"]],
    )
    log = admin_client.get("/admin/v1/sites/demo/access-log", headers=officer).json()
    assert any(e["action"] == "scan-report" for e in log["entries"])


def test_scan_routes_refuse_what_they_cannot_answer(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    officer = bearer(make_token("demo"))
    viewer = bearer(make_token("demo", role="viewer"))
    assert admin_client.get("/admin/v1/sites/demo/scans", headers=viewer).status_code == 403
    missing = admin_client.get("/admin/v1/sites/demo/scans/42", headers=officer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_scan"
    bad = admin_client.get("/admin/v1/sites/demo/scans/x1", headers=officer)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_field"
    limit = admin_client.get("/admin/v1/sites/demo/scans?limit=many", headers=officer)
    assert limit.status_code == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_scan_record_refuses_what_is_not_a_report(
    cli: Callable[..., int],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert record(cli, database_url, tmp_path, {"hello": 1}) == 2
    assert "not a scan report" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert cli("scan-record", str(tmp_path / "broken.json"), "--site", "demo") == 2
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(REPORT), encoding="utf-8")
    assert cli("scan-record", str(path), "--site", "nope", "--database", database_url) == 2
    assert "no site 'nope'" in capsys.readouterr().err
    # Refused before the store is opened: nothing was written, not even a database file.
    assert not Path(database_url.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_the_schedule_scans_a_site_when_its_newest_report_is_due(
    admin_client: TestClient, clock: FakeClock, database_url: str
) -> None:
    state = admin_client.app.state.kakor  # type: ignore[attr-defined]
    plan = ScanSchedule(start="https://www.example.se/sitemap.xml", every_days=30)
    site = state.sites.get("demo")
    state.sites._sites["demo"] = type(site)(**{**site.__dict__, "scan": plan})
    ran: list[str] = []

    async def fake_scan(site: Any, plan: ScanSchedule, config: Path) -> dict[str, Any] | None:
        ran.append(site.id)
        return {**REPORT, "url": plan.start} if len(ran) != 2 else None  # the 2nd fails

    scheduler = ScanScheduler(state, run=fake_scan)

    def run_due() -> list[ScanRecord]:
        return admin_client.portal.call(scheduler.run_due)  # type: ignore[union-attr]

    assert [r.site_id for r in run_due()] == ["demo"]  # no report yet: due
    clock.advance(29 * 86400)
    assert run_due() == [] and ran == ["demo"]  # not yet due: not even run
    clock.advance(86400)
    assert run_due() == [] and ran == ["demo", "demo"]  # due, but the scan failed
    made = run_due()  # still due: tried again
    assert [r.summary["url"] for r in made] == [plan.start]
    assert made[0].created_at == clock.datetime()
    assert len([r for r in stored_rows(database_url, "demo") if r.action == SCAN]) == 2


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_two_processes_sharing_a_store_scan_a_due_site_once(
    admin_client: TestClient, clock: FakeClock, database_url: str
) -> None:
    """Two schedules on one store (replicas, or ``serve --workers 2``): while one scans
    under its lease, the other skips the site; once recorded, it is no longer due."""
    state = admin_client.app.state.kakor  # type: ignore[attr-defined]
    plan = ScanSchedule(start="https://www.example.se/", every_days=30)
    site = state.sites.get("demo")
    state.sites._sites["demo"] = type(site)(**{**site.__dict__, "scan": plan})
    ran: list[str] = []
    meanwhile: list[list[ScanRecord]] = []

    async def first(site: Any, plan: ScanSchedule, config: Path) -> dict[str, Any] | None:
        ran.append("first")
        # The other process looks while this one is still crawling.
        meanwhile.append(await other.run_due())
        return {**REPORT, "url": plan.start}

    async def second(site: Any, plan: ScanSchedule, config: Path) -> dict[str, Any] | None:
        ran.append("second")
        return {**REPORT, "url": plan.start}

    # A second store object: its own connections, as another process would have.
    other_store = signed(open_store(database_url))
    admin_client.portal.call(other_store.open)  # type: ignore[union-attr]
    try:
        other_state = copy.copy(state)
        other_state.store = other_store
        other = ScanScheduler(other_state, run=second)
        made = admin_client.portal.call(ScanScheduler(state, run=first).run_due)  # type: ignore[union-attr]
        assert [r.site_id for r in made] == ["demo"]
        assert meanwhile == [[]] and ran == ["first"]  # the lease was held: skipped
        assert admin_client.portal.call(other.run_due) == []  # type: ignore[union-attr]
        assert ran == ["first"]  # recorded by the first: not due any more
        clock.advance(30 * 86400)
        assert len(admin_client.portal.call(other.run_due)) == 1  # type: ignore[union-attr]
        assert ran == ["first", "second"]  # the lease was given back
    finally:
        admin_client.portal.call(other_store.close)  # type: ignore[union-attr]
    assert len([r for r in stored_rows(database_url, "demo") if r.action == SCAN]) == 2


def test_the_child_crawl_is_bounded_by_the_schedule_s_pages_and_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``max_pages`` and ``max_minutes`` reach the crawl; the child is stopped only well
    after the crawl's own time bound, so a crawl that hits it still gives its report."""
    from consent_service.gating.scan import schedule

    seen: list[tuple[str, ...]] = []
    waited: list[float] = []

    class Child:
        returncode = 0

        async def communicate(self) -> tuple[bytes, bytes]:
            return json.dumps(REPORT).encode(), b""

    async def fake_exec(*command: str, **_: Any) -> Child:
        seen.append(command)
        return Child()

    real_wait_for = asyncio.wait_for

    async def wait_for(aw: Any, timeout: float) -> Any:
        waited.append(timeout)
        return await real_wait_for(aw, timeout)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
    monkeypatch.setattr(asyncio, "wait_for", wait_for)
    plan = ScanSchedule(
        start="https://www.example.se/", every_days=7, max_pages=500, max_minutes=40
    )
    site = type("S", (), {"id": "demo"})()
    assert asyncio.run(schedule.scan_in_child(site, plan, Path("site.toml"))) == REPORT
    (command,) = seen
    args = list(command)
    assert args[args.index("--max-pages") + 1] == "500"
    assert args[args.index("--max-time") + 1] == "2400"
    assert waited == [2400 + schedule.SCAN_GRACE]
