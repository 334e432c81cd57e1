"""Admin routes refuse query parameters they do not document: one clear 422."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from .conftest import bearer

ROUTES = [
    "/admin/v1/sites/demo/consents/abc",
    "/admin/v1/sites/demo/consents?format=csv",
    "/admin/v1/sites/demo/consents/manifest?format=csv",
    "/admin/v1/sites/demo/stats",
    "/admin/v1/log/verify",
    "/admin/v1/sites/demo/access-log?limit=5",
]


@pytest.mark.parametrize("path", ROUTES)
def test_unknown_query_parameter_is_422(
    admin_client: TestClient, make_token: Callable[..., str], path: str
) -> None:
    headers = bearer(make_token("demo"))
    joiner = "&" if "?" in path else "?"
    answer = admin_client.get(f"{path}{joiner}bogus=1", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == {
        "code": "invalid_field",
        "message": "bogus: unknown query parameter",
    }
    assert admin_client.get(path, headers=headers).status_code != 422
