"""OpenAPI path items of the public routes in :mod:`consent_service.api.routes`."""

from __future__ import annotations

from typing import Any

from consent_service.settings import Settings
from consent_service.web.openapi import SITE_PARAM, error_response, json_response

_CONSENT = {"$ref": "#/components/schemas/Consent"}
#: Request headers the consent routes read: the token (when a cookie cannot be sent),
#: the caller's Origin (checked against the site's list) and Global Privacy Control.
_TOKEN_HEADER = {
    "name": "Kakor-Token",
    "in": "header",
    "required": False,
    "description": "The consent token, for widgets that cannot send the cookie; "
    "a forged, expired or over-long one (over 512 characters) is no consent, never an error",
    "schema": {"type": "string"},
}
_ORIGIN_HEADER = {
    "name": "Origin",
    "in": "header",
    "required": False,
    "description": "Browsers send it; an origin the site does not list is refused with 403",
    "schema": {"type": "string"},
}
_GPC_HEADER = {
    "name": "Sec-GPC",
    "in": "header",
    "required": False,
    "description": "Global Privacy Control: '1' refuses every optional category (C16); "
    "any other value is no signal",
    "schema": {"type": "string"},
}
_ORIGIN_ERRORS = {
    "403": error_response("Origin not listed for the site"),
    "404": error_response("Unknown site"),
}
_WRITE_ERRORS = {
    **_ORIGIN_ERRORS,
    "400": error_response("Malformed JSON"),
    "413": error_response(f"Body over {Settings().max_body_bytes // 1024} KiB"),
    "408": error_response("The body took longer than CONSENT_BODY_TIMEOUT to arrive"),
    "415": error_response("Body is not JSON"),
    "422": error_response(
        "Unknown category, field or wrong type, or text no store can keep (invalid_field); "
        "a value the store itself refused (unstorable_value)"
    ),
    "429": error_response("Too many writes from one address"),
    "503": error_response("The store is unavailable; nothing was recorded"),
}

OPENAPI: dict[str, Any] = {
    "/v1/sites/{site}/config": {
        "get": {
            "summary": "The site's public configuration",
            "parameters": [SITE_PARAM],
            "responses": {
                "200": json_response("The config", {"$ref": "#/components/schemas/SiteConfig"}),
                "304": {"description": "Not modified (If-None-Match names the ETag)"},
                "400": error_response("A Host header that is not host[:port] (demo, localhost)"),
                "404": error_response("Unknown site"),
                "500": error_response("CONSENT_PUBLIC_URL is not set (public_url_not_configured)"),
            },
        }
    },
    "/v1/sites/{site}/consent": {
        "post": {
            "summary": "Record a decision",
            "parameters": [SITE_PARAM, _TOKEN_HEADER, _ORIGIN_HEADER, _GPC_HEADER],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ConsentRequest"}}
                },
            },
            "responses": {
                "201": json_response("Recorded and committed", _CONSENT),
                **_WRITE_ERRORS,
            },
        },
        "get": {
            "summary": "The visitor's current consent, from the verified cookie",
            "parameters": [SITE_PARAM, _TOKEN_HEADER, _ORIGIN_HEADER],
            "responses": {
                "200": json_response("The consent", _CONSENT),
                "403": error_response("Origin not listed for the site"),
                "404": error_response("Unknown site, or no valid consent (no_consent)"),
            },
        },
        "delete": {
            "summary": "Withdraw: record a withdrawal and set necessary-only",
            "parameters": [SITE_PARAM, _TOKEN_HEADER, _ORIGIN_HEADER],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/WithdrawRequest"}}
                },
            },
            "responses": {"200": json_response("Withdrawn", _CONSENT), **_WRITE_ERRORS},
        },
        "options": {
            "summary": "CORS preflight",
            "parameters": [SITE_PARAM, _ORIGIN_HEADER],
            "responses": {"204": {"description": "Preflight answered"}, **_ORIGIN_ERRORS},
        },
    },
    "/healthz": {
        "get": {
            "summary": "Liveness",
            "responses": {"200": json_response("Alive", {"$ref": "#/components/schemas/Status"})},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the store answers",
            "responses": {
                "200": json_response("Ready", {"$ref": "#/components/schemas/Status"}),
                "503": error_response("Store unavailable"),
            },
        }
    },
    "/.well-known/gpc.json": {
        "get": {
            "summary": "Global Privacy Control support statement",
            "responses": {
                "200": json_response(
                    "GPC statement",
                    {
                        "type": "object",
                        "required": ["gpc"],
                        "properties": {
                            "gpc": {"type": "boolean"},
                            "lastUpdate": {"type": "string"},
                        },
                    },
                )
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "Text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": json_response("OpenAPI 3.1", {"type": "object"})},
        }
    },
    "/": {
        "get": {
            "summary": "The demo page (demo mode only)",
            "responses": {
                "200": {
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}
