"""OpenAPI path items of the verify-job routes in :mod:`consent_service.admin.verify_jobs`."""

from __future__ import annotations

from typing import Any

from consent_service.admin.doc import _AUTH_ERRORS, _BEARER
from consent_service.web.openapi import error_response, json_response

_JOB_PARAM = {
    "name": "job",
    "in": "path",
    "required": True,
    "description": "The job's id, from the answer to the POST (or its Location header)",
    "schema": {"type": "string"},
}
_JOB = {"$ref": "#/components/schemas/VerifyJob"}
_NO_JOB = error_response(
    "no_such_job: no job of this id that this token started (jobs are kept in memory by "
    "the process that runs them: a restart forgets them)"
)
_TIME = {"type": ["string", "null"], "format": "date-time"}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "VerifyJob": {
        "type": "object",
        "required": ["id", "state", "sites", "rows_checked", "rows_total", "result"],
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "sites": {"type": "array", "items": {"type": "string"}},
            "rows_checked": {"type": "integer", "description": "Rows checked so far"},
            "rows_total": {
                "type": ["integer", "null"],
                "description": "Rows the sites held when the job started (null until then)",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _TIME,
            "finished_at": _TIME,
            "ok": {"type": ["boolean", "null"], "description": "The verify's ok, once done"},
            "error": {"type": ["string", "null"], "description": "Why a failed job failed"},
            "result": {"type": "string", "description": "Where the result is read"},
        },
    },
}

OPENAPI: dict[str, Any] = {
    "/admin/v1/log/verify-jobs": {
        "post": {
            "summary": "Start verifying the audit log of the token's sites (officer)",
            "description": "Answers at once; the job runs in the background, one at a time "
            "per process. Its start and outcome are in each site's access log.",
            "security": _BEARER,
            "responses": {
                "202": json_response("The new job (Location: its URL)", _JOB),
                "200": json_response("The token's job for the same sites, not yet finished", _JOB),
                "422": error_response("A query parameter (there are none)"),
                **_AUTH_ERRORS,
                "429": error_response(
                    "Too many wrong tokens from this address, or verify_jobs_busy: too many "
                    "jobs waiting (Retry-After)"
                ),
            },
        }
    },
    "/admin/v1/log/verify-jobs/{job}": {
        "get": {
            "summary": "A verify job's state and progress (officer)",
            "security": _BEARER,
            "parameters": [_JOB_PARAM],
            "responses": {"200": json_response("The job", _JOB), "404": _NO_JOB, **_AUTH_ERRORS},
        }
    },
    "/admin/v1/log/verify-jobs/{job}/result": {
        "get": {
            "summary": "A finished verify job's result (officer)",
            "security": _BEARER,
            "parameters": [_JOB_PARAM],
            "responses": {
                "200": json_response("Result", {"$ref": "#/components/schemas/VerifyResult"}),
                "404": _NO_JOB,
                "409": error_response(
                    "job_not_finished (queued or running; Retry-After), or job_failed"
                ),
                **_AUTH_ERRORS,
            },
        }
    },
}
