"""OpenAPI path items of the transparency log's public routes (:mod:`.log`)."""

from __future__ import annotations

from typing import Any

from consent_service.web.openapi import SITE_PARAM, error_response, json_response

_B64 = {"type": "string", "contentEncoding": "base64", "description": "a SHA-256 hash, base64"}
_PROOF = {"type": "array", "items": _B64, "maxItems": 128}
_HEAD = {
    "type": "object",
    "required": ["site_id", "origin", "tree_size", "root_hash", "timestamp", "checkpoint"],
    "properties": {
        "site_id": {"type": "string"},
        "origin": {"type": "string", "description": "the log's name for this site"},
        "tree_size": {"type": "integer", "minimum": 0},
        "root_hash": _B64,
        "timestamp": {"type": "integer", "description": "seconds since the epoch it was signed"},
        "checkpoint": {
            "type": "string",
            "description": "the C2SP signed note: checkpoint, note and timestamped signatures",
        },
    },
}


def _size(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


_DAMAGED = error_response("The stored tree or head does not check (log_unavailable)")


def _proof_route(summary: str, answer: str, *params: tuple[str, str]) -> dict[str, Any]:
    """A proof route's path item: two sizes in the query, the proof and them back."""
    names = [name for name, _ in params]
    schema = {
        "type": "object",
        "required": [*names, "proof"],
        "properties": {**{name: {"type": "integer"} for name in names}, "proof": _PROOF},
    }
    return {
        "get": {
            "summary": summary,
            "parameters": [SITE_PARAM, *(_size(name, text) for name, text in params)],
            "responses": {
                "200": json_response(answer, schema),
                "404": error_response("Unknown site"),
                "422": error_response(
                    f"{' or '.join(names)} missing, malformed or out of range (invalid_field)"
                ),
                "500": _DAMAGED,
                "503": error_response("The store is unavailable"),
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "/v1/sites/{site}/log/head": {
        "get": {
            "summary": "The newest signed head of the site's Merkle tree (cacheable 5 s)",
            "parameters": [SITE_PARAM],
            "responses": {
                "200": json_response("The head", _HEAD),
                "404": error_response("Unknown site"),
                "500": _DAMAGED,
                "503": error_response("The store is unavailable"),
            },
        }
    },
    "/v1/sites/{site}/log/key": {
        "get": {
            "summary": "The public keys the site's heads and receipts are signed with",
            "parameters": [SITE_PARAM],
            "responses": {
                "200": json_response(
                    "Verifier keys (signed-note vkeys), current first",
                    {
                        "type": "object",
                        "required": ["site_id", "origin", "keys"],
                        "properties": {
                            "site_id": {"type": "string"},
                            "origin": {"type": "string"},
                            "keys": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["vkey", "current"],
                                    "properties": {
                                        "vkey": {"type": "string"},
                                        "current": {"type": "boolean"},
                                    },
                                },
                            },
                        },
                    },
                ),
                "404": error_response("Unknown site"),
            },
        }
    },
    "/v1/sites/{site}/log/consistency": _proof_route(
        "RFC 9162 consistency proof between two tree sizes",
        "The proof",
        ("from", "the older tree size"),
        ("to", "the newer tree size, at most the current one"),
    ),
    "/v1/sites/{site}/log/inclusion": _proof_route(
        "RFC 9162 inclusion proof of one leaf in a tree of a given size",
        "The audit path, leaf first",
        ("index", "the leaf index (a receipt's leaf_index)"),
        ("size", "the tree size, at most the current one"),
    ),
    "/v1/sites/{site}/receipt": {
        "get": {
            "summary": "The signed receipt of the visitor's newest decision (from the cookie)",
            "parameters": [SITE_PARAM],
            "responses": {
                "200": json_response(
                    "The receipt: the row, its leaf, the log key's signature",
                    {
                        "type": "object",
                        "required": ["receipt", "signature"],
                        "properties": {
                            "receipt": {"type": "object"},
                            "signature": {"type": "string"},
                        },
                    },
                ),
                "403": error_response("Origin not listed for the site"),
                "404": error_response("Unknown site, or no valid consent cookie (no_consent)"),
                "503": error_response("The store is unavailable"),
            },
        },
        "options": {
            "summary": "CORS preflight (the widget sends Kakor-Token from another host)",
            "parameters": [SITE_PARAM],
            "responses": {
                "204": {"description": "Preflight answered"},
                "403": error_response("Origin not listed for the site"),
                "404": error_response("Unknown site"),
                "422": error_response("A query parameter (this route takes none)"),
            },
        },
    },
}
