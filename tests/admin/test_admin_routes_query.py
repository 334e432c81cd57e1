"""Admin routes refuse query parameters they do not document: one clear 422."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from .conftest import bearer

ROUTES = [
    "/admin/v1/sites/demo/consents/abc",
    "/admin/v1/sites/demo/consents?format=csv",
    "/admin/v1/sites/demo/consents/manifest?format=csv",
    "/admin/v1/sites/demo/stats",
    "/admin/v1/sites/demo/stats.csv?group=week",
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


PERIOD_ROUTES = [
    "/admin/v1/sites/demo/consents?format=jsonl",
    "/admin/v1/sites/demo/consents/manifest?format=csv",
    "/admin/v1/sites/demo/stats?x=",
]


def _with(path: str, query: str) -> str:
    """``path`` with ``query`` added to its own query string."""
    if path.endswith("?x="):
        return path[: -len("x=")] + query
    return f"{path}&{query}"


@pytest.mark.parametrize("path", PERIOD_ROUTES)
def test_until_the_last_day_of_the_calendar_means_no_end(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    path: str,
) -> None:
    """``until=9999-12-31`` (a whole day: up to its next midnight, which no date-time can
    hold) is "up to the end", the same answer as no ``until`` at all."""
    seed()
    headers = bearer(make_token("demo"))
    open_ended = admin_client.get(_with(path, "since=2000-01-01"), headers=headers)
    answer = admin_client.get(_with(path, "since=2000-01-01&until=9999-12-31"), headers=headers)
    assert answer.status_code == 200, answer.text
    if "stats" in path:
        assert answer.json()["days"] == open_ended.json()["days"]
        assert answer.json()["until"] is None
    else:
        assert answer.content == open_ended.content


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B01:00",  # before year 1 once in UTC
        "until=9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
        "since=9999-12-31T23:30:00-05:00",
    ],
)
@pytest.mark.parametrize("path", PERIOD_ROUTES)
def test_a_moment_no_date_time_can_hold_is_422(
    admin_client: TestClient, make_token: Callable[..., str], path: str, query: str
) -> None:
    answer = admin_client.get(_with(path, query), headers=bearer(make_token("demo")))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["message"].split(":")[0] in ("since", "until")


@pytest.mark.parametrize(
    "upto", ["-1", str(2**63), "9" * 40, "", "1_000", "%20%207", "%D9%A7", "9" * 5000]
)
def test_an_upto_seq_no_store_can_hold_is_422(
    admin_client: TestClient, make_token: Callable[..., str], upto: str
) -> None:
    answer = admin_client.get(
        f"/admin/v1/sites/demo/consents?format=csv&upto_seq={upto}",
        headers=bearer(make_token("demo")),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"].startswith("upto_seq:")


@pytest.mark.parametrize("consent_id", ["a%00b", "x" * 65, "%C2%85", "a%09b"])
def test_a_lookup_of_an_impossible_consent_id_is_422_and_not_logged(
    admin_client: TestClient, make_token: Callable[..., str], consent_id: str, database_url: str
) -> None:
    headers = bearer(make_token("demo"))
    answer = admin_client.get(f"/admin/v1/sites/demo/consents/{consent_id}", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"].startswith("consent_id:")
    log = admin_client.get("/admin/v1/sites/demo/access-log", headers=headers).json()
    assert [e["action"] for e in log["entries"]] == []
