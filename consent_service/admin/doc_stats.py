"""OpenAPI path items of ``GET …/stats`` and ``GET …/stats.csv`` (:mod:`.stats_routes`).

Kept beside :mod:`.doc`, which passes in its period parameters, security and auth
errors, so the stats answer's shape is stated here in full without growing that module.
"""

from __future__ import annotations

from typing import Any

from consent_service.admin.stats import GROUPS, TOP_PAGES
from consent_service.store import DECISION_ACTIONS
from consent_service.web.openapi import SITE_PARAM, error_response, json_response

_SHARES = {"type": "object", "additionalProperties": {"type": "number"}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
#: One day, or one week or month of ``series``.
_PERIOD_ROW = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date", "description": "The period's first day"},
        "decisions": {"type": "integer"},
        "actions": {
            "type": "object",
            "description": "Decisions per action: accept-all, reject-all, save (a custom "
            "choice), placeholder (allowed from an embed's placeholder) and gpc",
            "properties": {a: {"type": "integer"} for a in DECISION_ACTIONS},
        },
        "allowed": _SHARES,
        "refused_share": {"type": "number"},
        "gpc_share": {"type": "number"},
        "withdrawals": {"type": "integer"},
        "counts": {
            "type": "object",
            "properties": {
                "allowed": _COUNTS,
                "refusals": {"type": "integer"},
                "gpc": {"type": "integer"},
            },
        },
    },
}
_BREAKDOWN = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "value": {"type": "string"},
            "decisions": {"type": "integer"},
            "consent_rate": {
                "type": "number",
                "description": "Share of the decisions that allowed an optional category",
            },
            "refused_share": {"type": "number"},
            "allowed": _SHARES,
        },
    },
}
#: The stats answer (C23).
STATS = {
    "type": "object",
    "properties": {
        "site": {"type": "string"},
        "since": {"type": ["string", "null"]},
        "until": {"type": ["string", "null"]},
        "categories": {"type": "array", "items": {"type": "string"}},
        "optional_categories": {"type": "array", "items": {"type": "string"}},
        "days": {"type": "array", "items": _PERIOD_ROW, "description": "One per UTC day"},
        "totals": _PERIOD_ROW,
        "group": {"type": "string", "enum": list(GROUPS)},
        "series": {"type": "array", "items": _PERIOD_ROW, "description": "One per group"},
        "by_language": _BREAKDOWN,
        "by_policy_version": _BREAKDOWN,
        "by_browser": {**_BREAKDOWN, "description": "By browser family"},
        "top_pages": {
            "type": "array",
            "description": f"The {TOP_PAGES} pages with most decisions (origin and path)",
            "items": {
                "type": "object",
                "properties": {
                    "page": {"type": "string"},
                    "decisions": {"type": "integer"},
                    "share": {"type": "number"},
                },
            },
        },
        "other_pages": {"type": "integer", "description": "Decisions on pages not listed"},
    },
}
_GROUP = {
    "name": "group",
    "in": "query",
    "required": False,
    "description": "One point per UTC day, ISO week (from Monday) or calendar month",
    "schema": {"type": "string", "enum": list(GROUPS), "default": "day"},
}


def stats_paths(
    period: list[dict[str, Any]], security: list[dict[str, list[str]]], auth: dict[str, Any]
) -> dict[str, Any]:
    """The two path items, with the admin document's ``period``, ``security`` and ``auth``."""
    errors = {
        "404": error_response("Unknown site"),
        "422": error_response("Bad since, until or group"),
        **auth,
    }
    csv = {"text/csv": {"schema": {"type": "string"}}}
    return {
        "/admin/v1/sites/{site}/stats": {
            "get": {
                "summary": "Decisions over time from the daily rollups: actions, share "
                "allowing each category, refusals, GPC; by language, policy, browser, page",
                "security": security,
                "parameters": [SITE_PARAM, *period, _GROUP],
                "responses": {"200": json_response("Stats", STATS), **errors},
            }
        },
        "/admin/v1/sites/{site}/stats.csv": {
            "get": {
                "summary": "The chart's series as CSV: one line per period, counts per action "
                "and category (cells safe from spreadsheet formulas)",
                "security": security,
                "parameters": [SITE_PARAM, *period, _GROUP],
                "responses": {"200": {"description": "CSV", "content": csv}, **errors},
            }
        },
    }
