"""OpenAPI path items of the scan routes in :mod:`consent_service.admin.scans`."""

from __future__ import annotations

from typing import Any

from consent_service.web.openapi import SITE_PARAM, error_response, json_response

_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ERRORS = {
    "401": error_response("Missing, wrong or revoked admin token"),
    "403": error_response("The token is not valid for this site, or needs the officer role"),
    "422": error_response("A parameter is not valid (the message names it)"),
}
_SUMMARY = {
    "type": "object",
    "description": "What the report's audit row says: start URL, clean, pages, findings, "
    "findings per phase",
}
_RECORD = {
    "type": "object",
    "required": ["id", "site_id", "created_at", "seq", "sha256", "summary", "signature"],
    "properties": {
        "id": {"type": "integer"},
        "site_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "seq": {"type": ["integer", "null"], "description": "the audit row (action scan)"},
        "sha256": {"type": "string", "description": "of the report's canonical JSON"},
        "summary": _SUMMARY,
        "signature": {"type": "string", "description": "signed-note line by the log key"},
    },
}

OPENAPI: dict[str, Any] = {
    "/admin/v1/sites/{site}/scans": {
        "get": {
            "summary": "The site's recorded scans, newest first, with the latest changes",
            "security": _BEARER,
            "parameters": [
                SITE_PARAM,
                {
                    "name": "limit",
                    "in": "query",
                    "description": "how many, newest first; clamped to 1-200 (default 20)",
                    "schema": {"type": "integer"},
                },
            ],
            "responses": {
                "200": json_response(
                    "Summaries; what changed between the newest two reports",
                    {
                        "type": "object",
                        "properties": {
                            "site": {"type": "string"},
                            "scans": {"type": "array", "items": _RECORD},
                            "changes_since_previous": {"type": ["object", "null"]},
                        },
                    },
                ),
                **_ERRORS,
            },
        }
    },
    "/admin/v1/sites/{site}/scans/{scan_id}": {
        "get": {
            "summary": "One recorded scan report, whole, with its signature (officer)",
            "description": "Check it: SHA-256 of the canonical JSON of report = sha256, and "
            "the signature over statement verifies with one of vkeys. Recorded in the "
            "access log.",
            "security": _BEARER,
            "parameters": [
                SITE_PARAM,
                {"name": "scan_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": json_response(
                    "The report",
                    {
                        **_RECORD,
                        "properties": {
                            **_RECORD["properties"],  # type: ignore[dict-item]
                            "report": {"type": "object"},
                            "format": {"type": "string", "const": "kakor-scan-report/v1"},
                            "statement": {"type": "string"},
                            "vkeys": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                ),
                "404": error_response("No such report on this site (no_such_scan)"),
                **_ERRORS,
            },
        }
    },
}
