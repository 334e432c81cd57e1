"""What counts as a leak: the rules that compare what a browser saw with a declaration.

Pure rules, no browser (C1, C2, C14). :func:`analyse` compares the
:class:`~consent_service.gating.scan.observation.Observation` of each phase with a
:class:`~consent_service.gating.scan.declared.Declared`:

- before any choice and after refusal, only cookies and storage keys declared in a
  *necessary* category may appear, and only the page's origin, the consent service's
  and the necessary services' origins may be contacted;
- in every phase, every cookie must be declared by some service.
"""

from __future__ import annotations

from collections.abc import Iterable

from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.observation import (
    Observation,
    RequestSeen,
    StorageWrite,
    unique_cookies,
)
from consent_service.gating.scan.report import Finding, counted


def analyse(
    declared: Declared,
    page_origin: str,
    service_origin: str | None,
    observations: Iterable[Observation],
    *,
    first_party: Iterable[str] = (),
) -> list[Finding]:
    """The leaks in ``observations`` given what the site declares (pure; see module docs).

    ``first_party`` lists more origins that count as the page's own, such as the one
    a scanned URL redirected from.
    """
    findings: list[Finding] = []
    allowed_origins = {page_origin, *first_party, *([service_origin] if service_origin else [])}
    for o in observations:
        if not o.ran:
            continue
        strict = o.phase in ("before", "reject")
        when = "before consent" if o.phase == "before" else "after refusal"
        for c in unique_cookies(o.cookies):
            category = declared.cookie_category(c.name)
            subject = f"cookie {c.name} ({c.domain})"
            if category is None:
                reason = "not declared by any service"
                if strict:
                    reason = f"set {when}, and {reason}"
                findings.append(Finding(o.phase, "cookie", subject, reason))
            elif strict and category not in declared.required:
                findings.append(
                    Finding(o.phase, "cookie", subject, f"set {when}; declared as {category}")
                )
        if not strict:
            continue
        for s in _unique_storage(o.storage):
            if not declared.necessary_cookie(s.key):
                findings.append(
                    Finding(
                        o.phase,
                        "storage",
                        f"{s.kind} {s.key!r} ({s.origin})",
                        f"written {when}; not declared as necessary",
                    )
                )
        by_origin: dict[str, list[RequestSeen]] = {}
        for r in o.requests:
            if r.origin in allowed_origins or declared.necessary_origin(r.origin):
                continue
            by_origin.setdefault(r.origin, []).append(r)
        for origin, requests in by_origin.items():
            category = declared.origin_category(origin)
            why = f"declared for {category}" if category else "not declared by any service"
            findings.append(
                Finding(
                    o.phase,
                    "request",
                    f"requests to {origin}",
                    f"{counted(len(requests), 'request')} {when} ({why}), "
                    f"first {requests[0].url[:200]}",
                )
            )
    return findings


def _unique_storage(writes: Iterable[StorageWrite]) -> list[StorageWrite]:
    return list(dict.fromkeys(writes))
