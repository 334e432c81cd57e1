"""OpenAPI path items of :mod:`consent_service.gating.gate` and :mod:`consent_service.gating.declaration`."""

from __future__ import annotations

from typing import Any

from consent_service.web.openapi import SITE_PARAM, error_response, json_response

_NO_STORE = {
    "Cache-Control": {"schema": {"type": "string", "const": "no-store"}},
    "Vary": {"schema": {"type": "string", "const": "Cookie"}},
}
_LANG_PARAM = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "One of the site's languages (default: the site's default language)",
    "schema": {"$ref": "#/components/schemas/Language"},
}
_FORMAT_PARAM = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "html (a standalone page), fragment (the bare <section>, with a "
    "data-consent-open link, for server-side includes) or json. Without it, "
    "`Accept: application/json` selects json.",
    "schema": {"type": "string", "enum": ["html", "fragment", "json"]},
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Declaration": {
        "type": "object",
        "required": ["site", "name", "language", "policy_version", "categories"],
        "properties": {
            "site": {"type": "string"},
            "name": {"type": "string"},
            "language": {"type": "string"},
            "policy_version": {"type": "string"},
            "categories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "required", "title", "description", "services"],
                    "properties": {
                        "id": {"type": "string"},
                        "required": {"type": "boolean"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "services": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "name", "provider", "origins", "cookies"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                    "provider": {"type": "string"},
                                    "origins": {"type": "array", "items": {"type": "string"}},
                                    "data_location": {
                                        "type": ["string", "null"],
                                        "enum": ["eu", "third-country", None],
                                        "description": "Where the service processes data; "
                                        "null when the site file does not say",
                                    },
                                    "data_location_text": {"type": ["string", "null"]},
                                    "cookies": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": [
                                                "name",
                                                "provider",
                                                "purpose",
                                                "lifetime",
                                                "lifetime_text",
                                            ],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "provider": {"type": "string"},
                                                "purpose": {"type": "string"},
                                                "lifetime": {"type": "string"},
                                                "lifetime_text": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
}

OPENAPI: dict[str, Any] = {
    "/v1/sites/{site}/gate/{service}.js": {
        "get": {
            "summary": "Server-side script gate",
            "description": "307 to the service's script when the verified consent cookie allows "
            "its category (required categories always); otherwise 200 with an empty script. "
            "A missing, forged, expired or outdated cookie counts as necessary-only.",
            "parameters": [
                SITE_PARAM,
                {
                    "name": "service",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,31}$"},
                },
            ],
            "responses": {
                "200": {
                    "description": "Not allowed: an empty script",
                    "headers": _NO_STORE,
                    "content": {"text/javascript": {"schema": {"type": "string"}}},
                },
                "307": {
                    "description": "Allowed: redirect to the service's script",
                    "headers": {**_NO_STORE, "Location": {"schema": {"type": "string"}}},
                },
                "404": error_response(
                    "Unknown site (unknown_site), unknown service (unknown_service), or a "
                    "service without a script (no_script)"
                ),
            },
        }
    },
    "/v1/sites/{site}/csp": {
        "get": {
            "summary": "The visitor's Content-Security-Policy, for a reverse proxy",
            "description": "For nginx auth_request and Caddy forward_auth: forward the visitor's "
            "Cookie header; copy the answer's Content-Security-Policy onto the page. "
            "script-src, frame-src, img-src and connect-src admit a service's origins only "
            "once the verified cookie allows its category. Every method is answered alike "
            "(a proxy may forward the visitor's); only GET is listed here.",
            "parameters": [
                SITE_PARAM,
                {
                    "name": "Kakor-Widget-Origin",
                    "in": "header",
                    "required": False,
                    "description": "Set by the proxy: the consent service's public origin, added "
                    "to script-src and connect-src when the widget is served from another origin "
                    "than the site",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "204": {
                    "description": "The policy, in the Content-Security-Policy header",
                    "headers": {
                        **_NO_STORE,
                        "Content-Security-Policy": {"schema": {"type": "string"}},
                    },
                },
                "404": error_response("Unknown site"),
                "422": error_response("Kakor-Widget-Origin is not an origin"),
            },
        }
    },
    "/v1/sites/{site}/declaration": {
        "get": {
            "summary": "The cookie declaration (HTML page, HTML fragment or JSON)",
            "parameters": [SITE_PARAM, _LANG_PARAM, _FORMAT_PARAM],
            "responses": {
                "200": {
                    "description": "The declaration",
                    "content": {
                        "text/html": {"schema": {"type": "string"}},
                        **json_response("", {"$ref": "#/components/schemas/Declaration"})[
                            "content"
                        ],
                    },
                },
                "304": {"description": "Not modified (ETag)"},
                "404": error_response("Unknown site"),
                "422": error_response("Unsupported lang or format (the message names the field)"),
            },
        }
    },
}

# The CSP route answers every method alike (a proxy forwards the visitor's), so each
# method is documented with the GET item.
_CSP_ITEM = OPENAPI["/v1/sites/{site}/csp"]
for _method in ("head", "post", "put", "patch", "delete", "options"):
    _CSP_ITEM.setdefault(_method, _CSP_ITEM["get"])
