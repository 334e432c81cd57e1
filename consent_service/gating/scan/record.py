"""A scan kept as proof: the report stored whole, signed, and recorded in the site's log.

"On 2026-11-01 the site set nothing before consent" is then something an officer can
show: the report's canonical JSON is stored with its SHA-256, the log key signs the
statement ``kakor-scan-report/v1`` + site + time + SHA-256, and a row of action
``scan`` whose detail is the report's summary (with that SHA-256) is appended to the
site's chain and Merkle tree like any decision. A changed report no longer matches the
row's hash; a changed row breaks the chain.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent_service.audit.canonical import canonical_json
from consent_service.audit.events import scan_event
from consent_service.audit.heads import HeadError, Verifier, open_note
from consent_service.audit.signing import LogSigner
from consent_service.audit.timefmt import format_time
from consent_service.store import Store
from consent_service.store.scans import ScanRecord

FORMAT = "kakor-scan-report/v1"


def statement(site_id: str, created_at: datetime, sha256: str) -> str:
    """What the log key signs for a report."""
    return f"{FORMAT}\n{site_id}\n{format_time(created_at)}\n{sha256}\n"


def summarise(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit row says of a report: where it started, clean or not, and counts.

    Works for a crawl's report (``start``, ``pages``, each with its findings) and a
    one-page scan's (``url``, ``findings``).
    """
    findings = _findings(report)
    pages = report.get("pages")
    return {
        "url": report.get("start") or report.get("url", ""),
        "clean": bool(report.get("clean")),
        "pages": len(pages) if isinstance(pages, list) else 1,
        "findings": len(findings),
        "by_phase": dict(sorted(Counter(f["phase"] for f in findings).items())),
    }


def is_report(value: Any) -> bool:
    """True for what ``consent-service scan --format json`` writes (a page or a crawl)."""
    return (
        isinstance(value, dict) and "clean" in value and ("findings" in value or "pages" in value)
    )


async def record_scan(
    store: Store, signer: LogSigner, site_id: str, report: Mapping[str, Any], now: datetime
) -> ScanRecord:
    """Store, sign and log ``report`` (a scan's JSON) for ``site_id``; the stored record."""
    text = canonical_json(report).decode("utf-8")
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    summary = summarise(report)
    record = ScanRecord(
        site_id=site_id,
        created_at=now,
        sha256=sha256,
        summary=summary,
        signature=signer.sign_text(site_id, statement(site_id, now, sha256)),
        report=text,
    )
    record_id = await store.scans.save(record)
    detail = {**summary, "report_id": record_id, "report_sha256": sha256}
    (row,) = await store.append([scan_event(site_id, summary["url"], detail, now)])
    await store.scans.set_seq(record_id, row.seq)
    return ScanRecord(**{**record.__dict__, "id": record_id, "seq": row.seq})


def changes(newer: Mapping[str, Any], older: Mapping[str, Any] | None) -> dict[str, Any]:
    """What changed between two reports: cookies seen per phase, and findings."""

    def cookies(report: Mapping[str, Any] | None) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for page in _pages(report):
            for phase, observed in (page.get("phases") or {}).items():
                seen.setdefault(phase, set()).update(c["name"] for c in observed.get("cookies", []))
        return seen

    def findings(report: Mapping[str, Any] | None) -> set[tuple[str, str, str, str]]:
        return {
            (f["page"], f["phase"], f["kind"], f["subject"])
            for f in (_findings(report) if report else [])
        }

    now, before = cookies(newer), cookies(older)
    new_findings, old_findings = findings(newer), findings(older)
    return {
        "previous": older is not None,
        "new_cookies": {
            p: sorted(now[p] - before.get(p, set())) for p in now if now[p] - before.get(p, set())
        },
        "gone_cookies": {
            p: sorted(before[p] - now.get(p, set()))
            for p in before
            if before[p] - now.get(p, set())
        },
        "new_findings": [
            dict(zip(_KEYS, f, strict=True)) for f in sorted(new_findings - old_findings)
        ],
        "resolved_findings": [
            dict(zip(_KEYS, f, strict=True)) for f in sorted(old_findings - new_findings)
        ],
    }


_KEYS = ("page", "phase", "kind", "subject")


def _findings(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every finding of a report with the page it was on: a crawl's per page, a scan's own."""
    out = []
    for page in _pages(report):
        for f in page.get("findings", []):
            out.append({"page": page.get("url", ""), **{k: str(f.get(k, "")) for k in _KEYS[1:]}})
    return out


def _pages(report: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A report's pages: a crawl lists them; a one-page scan is its own page."""
    if report is None:
        return []
    pages = report.get("pages")
    return list(pages) if isinstance(pages, list) else [report]


def check_scan(record: ScanRecord, verifiers: list[Verifier]) -> None:
    """Raise :class:`~consent_service.audit.heads.HeadError` unless ``record`` is intact.

    Its report must hash to its SHA-256, and the log key must have signed its statement
    (under the site's origin).
    """
    if record.report is None:
        raise HeadError("the record was read without its report")
    if hashlib.sha256(record.report.encode("utf-8")).hexdigest() != record.sha256:
        raise HeadError("the report does not match its SHA-256")
    text = statement(record.site_id, record.created_at, record.sha256)
    _, signers = open_note(text + "\n" + record.signature.rstrip("\n") + "\n", verifiers)
    if not signers:
        raise HeadError("no known key signed the report")
