"""OpenAPI path items of the admin routes in :mod:`consent_service.admin.routes` (bearer auth)."""

from __future__ import annotations

from typing import Any

from consent_service.admin.doc_stats import stats_paths
from consent_service.admin.period import MOMENT
from consent_service.admin.routes import MAX_CONSENT_ID, MAX_SEQ
from consent_service.web.openapi import NO_CONTROLS, SITE_PARAM, error_response, json_response


def _check(description: str, fields: dict[str, str]) -> dict[str, Any]:
    """A verify check's schema: how many were checked, and each broken one's fields."""
    item = {name: {"type": kind} for name, kind in fields.items()}
    return {
        "type": "object",
        "description": description,
        "properties": {
            "checked": {"type": "integer"},
            "broken": {"type": "array", "items": {"type": "object", "properties": item}},
        },
    }


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_AUTH_ERRORS = {
    "401": error_response("Missing, wrong or revoked admin token"),
    "403": error_response("The token is not valid for this site, or needs the officer role"),
    "429": error_response("Too many wrong tokens from this address; slowed down"),
}
#: An empty value means the bound is absent, as no value does.
_MOMENT = {"type": "string", "pattern": f"^(?:{MOMENT.pattern})?$"}
_PERIOD = [
    {
        "name": "since",
        "in": "query",
        "required": False,
        "description": "Start (inclusive): a date YYYY-MM-DD (UTC midnight) or an ISO 8601 "
        "date-time (offset Z or ±HH:MM; none means UTC).",
        "schema": _MOMENT,
    },
    {
        "name": "until",
        "in": "query",
        "required": False,
        "description": "End (exclusive); a bare date includes that whole day, and 9999-12-31 "
        "means no end.",
        "schema": _MOMENT,
    },
]
_EXPORT_QUERY = [
    *_PERIOD,
    {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"},
    },
    {
        "name": "upto_seq",
        "in": "query",
        "required": False,
        "description": "Pin the export to rows with seq ≤ this (default: the newest at the start).",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
    },
]
_ROW = {"$ref": "#/components/schemas/AuditRow"}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "AuditRow": {
        "type": "object",
        "description": "One audit row (DESIGN: the audit row); detail is set on purge checkpoints.",
        "properties": {
            "seq": {"type": "integer"},
            "event_id": {"type": "string"},
            "site_id": {"type": "string"},
            "consent_id": {"type": "string"},
            "action": {"type": "string"},
            "choices": {"$ref": "#/components/schemas/Choices"},
            "policy_version": {"type": "string"},
            "texts_hash": {"type": "string"},
            "language": {"type": "string"},
            "widget_version": {"type": "string"},
            "page": {"type": "string"},
            "ip": {"type": "string"},
            "browser": {"type": "string"},
            "gpc": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "prev_hash": {"type": "string"},
            "hash": {"type": "string"},
            "detail": {"type": ["object", "null"]},
        },
    },
    "ExportManifest": {
        "type": "object",
        "required": ["site_id", "format", "rows", "sha256", "upto_seq"],
        "properties": {
            "site_id": {"type": "string"},
            "format": {"type": "string", "enum": ["csv", "jsonl"]},
            "since": {"type": ["string", "null"]},
            "until": {"type": ["string", "null"]},
            "upto_seq": {"type": "integer"},
            "rows": {"type": "integer"},
            "first_seq": {"type": ["integer", "null"]},
            "last_seq": {"type": ["integer", "null"]},
            "sha256": {"type": "string"},
            "chain_head": {"type": ["string", "null"]},
        },
    },
    "VerifyResult": {
        "type": "object",
        "required": ["ok", "rows_checked", "first_broken"],
        "properties": {
            "ok": {"type": "boolean"},
            "rows_checked": {"type": "integer"},
            "first_broken": {
                "type": ["object", "null"],
                "properties": {
                    "seq": {"type": "integer"},
                    "site_id": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
            "sites": {"type": "object"},
            "cannot_rule_out": {
                "type": "array",
                "items": {"type": "string"},
                "description": "What a passing check does not prove",
            },
            "chain_heads": _check(
                "Whether each site's newest row is the head appends chain after",
                {"site_id": "string", "seq": "integer", "problem": "string"},
            ),
            "texts": _check(
                "The banner texts the rows name, hashed again",
                {"texts_hash": "string", "site_id": "string", "problem": "string"},
            ),
        },
    },
}

OPENAPI: dict[str, Any] = {
    "/admin": {
        "get": {
            "summary": "Redirect to the admin page",
            "responses": {"308": {"description": "Location: /admin/"}},
        }
    },
    "/admin/{asset}": {
        "get": {
            "summary": "The admin page's script and stylesheet (admin.js, admin.css)",
            "parameters": [
                {
                    "name": "asset",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["admin.js", "admin.css"]},
                }
            ],
            "responses": {
                "200": {"description": "JavaScript or CSS"},
                "404": error_response("No such asset"),
            },
        }
    },
    "/admin/": {
        "get": {
            "summary": "The privacy officer's page (sign in with a token)",
            "responses": {
                "200": {
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/admin/v1/me": {
        "get": {
            "summary": "The token's role and sites",
            "security": _BEARER,
            "responses": {
                "200": json_response(
                    "Who the token speaks for",
                    {
                        "type": "object",
                        "properties": {
                            "token_id": {"type": "string"},
                            "role": {"type": "string", "enum": ["officer", "viewer"]},
                            "sites": {
                                "type": "array",
                                "description": "id, name, languages, consent_lifetime_days, "
                                "categories (id, required, title per language)",
                                "items": {"type": "object"},
                            },
                        },
                    },
                ),
                **_AUTH_ERRORS,
            },
        }
    },
    "/admin/v1/sites/{site}/consents": {
        "get": {
            "summary": "Export rows, oldest first, streamed (officer)",
            "description": "Pinned to Kakor-Upto-Seq; the same query on …/consents/manifest "
            "with that upto_seq gives the manifest. Recorded in the access log.",
            "security": _BEARER,
            "parameters": [SITE_PARAM, *_EXPORT_QUERY],
            "responses": {
                "200": {
                    "description": "The file: CSV with a header, its cells made safe to "
                    "open in a spreadsheet, reversibly (docs/admin.md, Exports); or JSON "
                    "Lines, exactly as stored",
                    "headers": {"Kakor-Upto-Seq": {"schema": {"type": "integer"}}},
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                "422": error_response("Bad since, until, format or upto_seq"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/admin/v1/sites/{site}/consents/manifest": {
        "get": {
            "summary": "The manifest of an export: rows, first/last seq, SHA-256, chain head",
            "security": _BEARER,
            "parameters": [SITE_PARAM, *_EXPORT_QUERY],
            "responses": {
                "200": json_response("Manifest", {"$ref": "#/components/schemas/ExportManifest"}),
                "422": error_response("Bad since, until, format or upto_seq"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/admin/v1/sites/{site}/consents/{consent_id}": {
        "get": {
            "summary": "Proof of one consent: its whole history, the texts shown, chain checks",
            "security": _BEARER,
            "parameters": [
                SITE_PARAM,
                {
                    "name": "consent_id",
                    "in": "path",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "maxLength": MAX_CONSENT_ID,
                        "pattern": NO_CONTROLS,
                    },
                },
            ],
            "responses": {
                "200": json_response(
                    "History",
                    {
                        "type": "object",
                        "properties": {
                            "site": {"type": "string"},
                            "consent_id": {"type": "string"},
                            "rows": {"type": "array", "items": _ROW},
                            "texts": {"type": "object"},
                            "verified": {"type": "boolean"},
                        },
                    },
                ),
                "404": error_response("No such consent on this site"),
                "422": error_response(
                    "Not a possible consent ID (too long, or control characters)"
                ),
                **_AUTH_ERRORS,
            },
        }
    },
    **stats_paths(_PERIOD, _BEARER, _AUTH_ERRORS),
    "/admin/v1/sites/{site}/access-log": {
        "get": {
            "summary": "Who looked up, exported or counted this site's records (officer)",
            "security": _BEARER,
            "parameters": [
                SITE_PARAM,
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": json_response("Entries", {"type": "object"}),
                "422": error_response("limit is not an integer (it is clamped to 1-1000)"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/admin/v1/log/verify": {
        "get": {
            "summary": "Integrity of the audit log of the token's sites (officer)",
            "security": _BEARER,
            "responses": {
                "200": json_response("Result", {"$ref": "#/components/schemas/VerifyResult"}),
                **_AUTH_ERRORS,
            },
        }
    },
}
