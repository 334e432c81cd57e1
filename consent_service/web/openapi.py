"""The OpenAPI 3.1 document of every route, served at ``/openapi.json``.

Each route module contributes its own path items (a module-level ``OPENAPI`` dict);
this module only adds the shared schemas and puts them together.
"""

from __future__ import annotations

import copy
import importlib
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consent_service import __version__
from consent_service.consent import rules as consent
from consent_service.consent.storable import RULE
from consent_service.web.state import get_state

if TYPE_CHECKING:
    from consent_service.sites import SiteRegistry

#: Modules whose ``OPENAPI`` path items make up the document.
_MODULES = (
    "consent_service.api.doc",
    "consent_service.api.log_doc",
    "consent_service.gating.doc",
    "consent_service.admin.doc",
    "consent_service.admin.scans_doc",
    "consent_service.admin.verify_jobs_doc",
    "consent_service.widget.route",
    "consent_service.widget.snippet",
)


def error_response(description: str) -> dict[str, Any]:
    """A response in the one error shape."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON response with ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SITE_PARAM = {
    "name": "site",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
}

#: JSON Schema for "no control character": the storable rule as far as a pattern can say
#: it (a lone surrogate, also refused, has no ECMA-262 pattern).
NO_CONTROLS = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
_NULLABLE_LANGUAGE = {"anyOf": [{"$ref": "#/components/schemas/Language"}, {"type": "null"}]}
#: Answers the server can give to any request, before the route runs.
SERVER_RESPONSES = {
    "431": error_response("Request line and headers over CONSENT_MAX_HEADER_BYTES"),
    "503": error_response(
        "At CONSENT_MAX_CONNECTIONS (server_busy, with Retry-After), or the store is unavailable"
    ),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Choices": {
        "type": "object",
        "propertyNames": {"$ref": "#/components/schemas/CategoryId"},
        "additionalProperties": {"type": "boolean"},
        "description": "Every category of the site, explicit; required ones are always true.",
    },
    "ConsentRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["action"],
        "description": "A decision. Every field but action may be null, which means absent.",
        "properties": {
            "choices": {"$ref": "#/components/schemas/Choices"},
            "action": {"type": "string", "enum": list(consent.POST_ACTIONS)},
            "language": _NULLABLE_LANGUAGE,
            "policy_version": {"type": ["string", "null"]},
            "page": {"$ref": "#/components/schemas/Page"},
            "widget_version": {"$ref": "#/components/schemas/WidgetVersion"},
            "token": {"$ref": "#/components/schemas/Token"},
        },
    },
    "WithdrawRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "An optional body (none means {}); every field may be null, which "
        "means absent.",
        "properties": {
            "language": _NULLABLE_LANGUAGE,
            "page": {"$ref": "#/components/schemas/Page"},
            "widget_version": {"$ref": "#/components/schemas/WidgetVersion"},
            "token": {"$ref": "#/components/schemas/Token"},
        },
    },
    "Page": {
        "type": ["string", "null"],
        "maxLength": consent.MAX_PAGE,
        "pattern": NO_CONTROLS,
        "description": "The http(s) URL the decision was made on; only origin and path are "
        "kept (C20). Empty or null means unknown; anything but an http(s) URL is refused, "
        f"and so is any text that {RULE}.",
    },
    "WidgetVersion": {
        "type": ["string", "null"],
        "maxLength": consent.MAX_WIDGET_VERSION,
        "pattern": f"^(?:{consent.WIDGET_VERSION.pattern})$",
        "description": "The widget's version: letters, digits and . _ + -, starting with a "
        "letter or digit (never free text: it is exported to spreadsheets).",
    },
    "Token": {
        "type": ["string", "null"],
        "maxLength": 512,
        "pattern": "^[\\x20-\\x7e]*$",
        "description": "The consent token, for widgets that cannot send the cookie (ASCII).",
    },
    "Language": {
        "type": "string",
        "pattern": "^[a-z]{2,3}$",
        "description": "A language of the site (the configured ones are listed as the enum).",
    },
    "CategoryId": {
        "type": "string",
        "pattern": "^[a-z][a-z0-9-]{0,31}$",
        "description": "A category of the site (the configured ones are listed as the enum).",
    },
    "Consent": {
        "type": "object",
        "required": ["consent_id", "choices", "policy_version", "given_at", "expires_at", "token"],
        "properties": {
            "consent_id": {"type": "string"},
            "choices": {"$ref": "#/components/schemas/Choices"},
            "policy_version": {"type": "string"},
            "given_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "token": {"type": "string", "maxLength": 200},
        },
    },
    "SiteConfig": {
        "type": "object",
        "required": ["site", "policy_version", "languages", "texts", "categories"],
        "properties": {
            "site": {"type": "string"},
            "policy_version": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "default_language": {"type": "string"},
            "consent_lifetime_days": {"type": "integer"},
            "cookie_name": {"type": "string"},
            "cookie_domain": {"type": ["string", "null"]},
            "google_consent_mode": {"type": "object", "additionalProperties": {"type": "string"}},
            "texts": {"type": "object", "additionalProperties": {"type": "object"}},
            "categories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "required", "texts", "services"],
                    "properties": {
                        "id": {"type": "string"},
                        "required": {"type": "boolean"},
                        "texts": {"type": "object"},
                        "services": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "endpoints": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
}


def document(sites: SiteRegistry | None = None) -> dict[str, Any]:
    """The whole OpenAPI document; with ``sites``, their languages and categories as enums."""
    paths: dict[str, Any] = {}
    schemas = copy.deepcopy(SCHEMAS)
    for name in _MODULES:
        module = importlib.import_module(name)
        for path, item in copy.deepcopy(module.OPENAPI).items():
            paths.setdefault(path, {}).update(item)
        schemas.update(copy.deepcopy(getattr(module, "OPENAPI_SCHEMAS", {})))
    for item in paths.values():
        for operation in item.values():
            for status, answer in SERVER_RESPONSES.items():
                operation["responses"].setdefault(status, answer)
    if sites is not None:
        schemas["Language"]["enum"] = sorted({lang for site in sites for lang in site.languages})
        schemas["CategoryId"]["enum"] = sorted({c for site in sites for c in site.category_ids})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kakor consent service",
            "version": __version__,
            "description": "Cookie consent with signed cookies and a tamper-evident audit log.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``: the document for the configured sites."""
    return JSONResponse(document(get_state(request).sites))
