"""The OpenAPI 3.1 document of every route, served at ``/openapi.json``.

Each route module contributes its own path items (a module-level ``OPENAPI`` dict);
this module only adds the shared schemas and puts them together.
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import __version__

#: Modules whose ``OPENAPI`` path items make up the document.
_MODULES = (
    "consent_service.api_doc",
    "consent_service.gating_doc",
    "consent_service.admin_doc",
    "consent_service.widget",
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
            "action": {"type": "string", "enum": ["accept-all", "reject-all", "save", "gpc"]},
            "language": {"type": ["string", "null"]},
            "policy_version": {"type": ["string", "null"]},
            "page": {"$ref": "#/components/schemas/Page"},
            "widget_version": {"type": ["string", "null"], "maxLength": 32},
            "token": {"type": ["string", "null"], "maxLength": 512},
        },
    },
    "WithdrawRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "An optional body; every field may be null, which means absent.",
        "properties": {
            "language": {"type": ["string", "null"]},
            "page": {"$ref": "#/components/schemas/Page"},
            "widget_version": {"type": ["string", "null"], "maxLength": 32},
            "token": {"type": ["string", "null"], "maxLength": 512},
        },
    },
    "Page": {
        "type": ["string", "null"],
        "maxLength": 2048,
        "description": "The http(s) URL the decision was made on; only origin and path are "
        "kept (C20). Empty or null means unknown; anything but an http(s) URL is refused.",
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


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    paths: dict[str, Any] = {}
    schemas = dict(SCHEMAS)
    for name in _MODULES:
        module = importlib.import_module(name)
        for path, item in module.OPENAPI.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
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
    """``GET /openapi.json``."""
    return JSONResponse(document())
