"""The crawl report as one self-contained HTML page, for a person or a CI artefact.

No script and nothing fetched: the style is inline and each problem page's screenshot
is embedded as a ``data:`` JPEG. Every text from the site (URLs, cookie names,
database descriptions) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
from html import escape

from consent_service.gating.scan.crawl_report import EXIT_CLEAN, EXIT_INCOMPLETE, CrawlReport
from consent_service.gating.scan.page_report import PageReport
from consent_service.gating.scan.report import counted, phase_title

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ccc;vertical-align:top}
.verdict{padding:.6rem 1rem;border-radius:4px;font-weight:600}
.clean{background:#e3f4e6;color:#114d1f}.problems{background:#fbe4e4;color:#7a1212}.incomplete{background:#fff2d6;color:#5c4200}
.page{border:1px solid #ccc;border-radius:4px;padding:.5rem 1rem;margin:1rem 0}
img{max-width:100%;width:48rem;border:1px solid #999}pre{background:#f4f4f4;padding:.8rem;overflow-x:auto;white-space:pre-wrap}
code{font-size:.95em}.muted{color:#555}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _verdict(report: CrawlReport) -> str:
    code = report.exit_code
    if code == EXIT_CLEAN:
        return '<p class="verdict clean">Clean: every page kept everything off before consent and after refusal, offers a withdrawal control, and sets only declared cookies.</p>'
    if code == EXIT_INCOMPLETE:
        return f'<p class="verdict incomplete">Incomplete: no problems found, but {counted(len(report.failed), "page")} could not be scanned.</p>'
    bad = sum(bool(p.findings) for p in report.pages)
    return f'<p class="verdict problems">{counted(report.problems, "problem")} on {counted(bad, "page")}.</p>'


def _summary_row(i: int, p: PageReport) -> str:
    if not p.scanned:
        state = f"not scanned: {_e(p.error)}"
    elif p.clean:
        state = "clean"
    else:
        state = f'<a href="#page-{i}">{counted(len(p.findings), "problem")}</a>'
    control = {True: "yes", False: "<strong>no</strong>", None: "–"}[p.withdrawal_control]
    return f"<tr><td><code>{_e(p.url)}</code></td><td>{p.depth}</td><td>{p.status or '–'}</td><td>{control}</td><td>{state}</td></tr>"


def _phase_details(report: CrawlReport, p: PageReport) -> str:
    origin = p.page_origin or ""
    rows = []
    for o in p.observations:
        title = _e(phase_title(o.phase, report.labels))
        if not o.ran:
            rows.append(f"<tr><td>{title}</td><td colspan=3>not run: {_e(o.note)}</td></tr>")
            continue
        cookies = ", ".join(sorted({_e(c.name) for c in o.cookies})) or "–"
        storage = ", ".join(sorted({_e(f"{s.kind}:{s.key}") for s in o.storage})) or "–"
        other = sorted({r.origin for r in o.requests if r.origin != origin})
        requests = ", ".join(_e(x) for x in other) or "–"
        rows.append(
            f"<tr><td>{title}</td><td>{cookies}</td><td>{storage}</td><td>{requests}</td></tr>"
        )
    return (
        "<table><tr><th>phase</th><th>cookies</th><th>storage keys</th><th>other origins</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _problem_page(report: CrawlReport, i: int, p: PageReport) -> str:
    items = "".join(
        f"<li>[{_e(phase_title(f.phase, report.labels))}] <strong>{_e(f.subject)}</strong>: {_e(f.detail)}</li>"
        for f in p.findings
    )
    picture = ""
    if p.screenshot:
        data = base64.b64encode(p.screenshot).decode("ascii")
        caption = _e(phase_title(p.screenshot_phase or "before", report.labels))
        picture = f'<figure><img alt="{_e(p.url)} {caption}" src="data:image/jpeg;base64,{data}"><figcaption class="muted">{caption}</figcaption></figure>'
    return f'<section class="page" id="page-{i}"><h3><code>{_e(p.url)}</code></h3><ul>{items}</ul>{picture}{_phase_details(report, p)}</section>'


def _declaration(report: CrawlReport) -> str:
    check = report.declaration
    if check is None:
        return ""
    parts = ["<h2>Declaration</h2>"]
    if check.undeclared:
        rows = []
        for u in check.undeclared:
            k = u.known
            known = (
                f"{_e(k.platform)} ({_e(k.category)}): {_e(k.description)}"
                if k
                else "unknown to the Open Cookie Database"
            )
            pages = ", ".join(f"<code>{_e(x)}</code>" for x in u.sighting.pages[:3])
            rows.append(
                f"<tr><td><code>{_e(u.sighting.name)}</code></td><td>{known}</td><td>{pages}</td></tr>"
            )
        parts.append(
            "<h3>Undeclared cookies</h3><table><tr><th>cookie</th><th>Open Cookie Database</th><th>seen on</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    if check.bump:
        parts.append(f"<p><strong>policy_version</strong>: {_e(check.bump)}</p>")
    if check.never_seen:
        names = ", ".join(f"<code>{_e(n)}</code>" for n in check.never_seen)
        parts.append(
            f"<h3>Declared but never seen</h3><p>{names}: stale, or set only on pages the crawl did not reach.</p>"
        )
    if check.fragment:
        parts.append(f"<h3>Proposed site-file entries</h3><pre>{_e(check.fragment)}</pre>")
    if len(parts) == 1:
        parts.append("<p>Every cookie seen is declared, and every declared cookie was seen.</p>")
    return "".join(parts)


def render_html(report: CrawlReport) -> str:
    """The whole report as a standalone HTML page (no script, nothing external)."""
    pages = "".join(_summary_row(i, p) for i, p in enumerate(report.pages))
    problems = "".join(
        _problem_page(report, i, p) for i, p in enumerate(report.pages) if p.findings
    )
    clean = [p for p in report.pages if p.clean]
    clean_details = "".join(
        f"<details><summary><code>{_e(p.url)}</code></summary>{_phase_details(report, p)}</details>"
        for p in clean
    )
    skipped = "".join(
        f"<tr><td><code>{_e(u)}</code></td><td>{_e(r)}</td></tr>" for u, r in report.skipped.items()
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    db = report.cookie_database
    title = f"kakor crawl of {report.start}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>"
        f'<p class="muted">site {_e(report.site or "–")} · started {_e(report.started_at)} · '
        f"{report.seconds:.0f} s · bounds: {report.bounds.max_pages} pages, depth {report.bounds.max_depth}, "
        f"{report.bounds.max_seconds:g} s, settle {report.bounds.settle:g} s</p>"
        f"{_verdict(report)}"
        "<h2>Pages</h2><table><tr><th>page</th><th>depth</th><th>HTTP</th><th>withdrawal control</th><th>verdict</th></tr>"
        f"{pages}</table>"
        + (f"<h2>Problems</h2>{problems}" if problems else "")
        + _declaration(report)
        + (f"<h2>Clean pages</h2>{clean_details}" if clean_details else "")
        + (
            f"<h2>Not visited</h2><table><tr><th>URL</th><th>why</th></tr>{skipped}</table>"
            if skipped
            else ""
        )
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f'<p class="muted">Cookie knowledge: the Open Cookie Database (Apache-2.0), {db.get("rows", 0)} rows, '
        f"copy {_e(str(db.get('commit') or db.get('sha256') or 'unknown')[:12])}.</p></body></html>"
    )
