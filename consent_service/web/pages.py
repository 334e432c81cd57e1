"""Headers every HTML page of the service carries: a strict CSP and friends."""

from __future__ import annotations

HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)


def html_headers(csp: str = HTML_CSP) -> dict[str, str]:
    """Security headers for an HTML response (no ``unsafe-inline`` anywhere)."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "SAMEORIGIN",
    }
