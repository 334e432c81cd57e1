"""Consent rates per day: decisions, share allowing each category, refusals, GPC (C23).

The seeded days fall on each of the clock's edges: across a month end, a year end, a leap day.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from ..conftest import EDGES
from .conftest import bearer


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c23_stats_per_day_match_the_seeded_decisions(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo", role="viewer")
    made = seed()
    admin_client.delete("/v1/sites/demo/consent")  # a withdrawal on day two: not a decision
    answer = admin_client.get("/admin/v1/sites/demo/stats", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.json()
    day1, day2 = body["days"]
    assert day1["date"] == made[0]["given_at"][:10]
    assert day2["date"] == made[-1]["given_at"][:10]
    # day 1: accept-all, reject-all, save(statistics), gpc
    assert day1["decisions"] == 4
    assert day1["allowed"] == {"necessary": 1.0, "statistics": 0.5, "third-party": 0.25}
    assert day1["refused_share"] == 0.5
    assert day1["gpc_share"] == 0.25
    assert day1["withdrawals"] == 0
    # day 2: accept-all, reject-all, and a withdrawal
    assert day2["decisions"] == 2
    assert day2["allowed"] == {"necessary": 1.0, "statistics": 0.5, "third-party": 0.5}
    assert day2["refused_share"] == 0.5
    assert day2["gpc_share"] == 0.0
    assert day2["withdrawals"] == 1
    assert body["totals"]["decisions"] == 6
    assert body["totals"]["counts"] == {
        "allowed": {"necessary": 6, "statistics": 3, "third-party": 2},
        "refusals": 3,
        "gpc": 1,
    }
    assert body["optional_categories"] == ["statistics", "third-party"]


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_stats_respect_the_period_and_the_site(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo", "other", role="viewer")
    made = seed()
    day2 = made[-1]["given_at"][:10]
    only = admin_client.get(f"/admin/v1/sites/demo/stats?since={day2}", headers=bearer(token))
    assert [d["date"] for d in only.json()["days"]] == [day2]
    other = admin_client.get("/admin/v1/sites/other/stats", headers=bearer(token)).json()
    assert [d["decisions"] for d in other["days"]] == [1]
    empty = admin_client.get(
        "/admin/v1/sites/demo/stats?until=2000-01-01", headers=bearer(token)
    ).json()
    assert empty["days"] == []
    assert empty["totals"]["decisions"] == 0
