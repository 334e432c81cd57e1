"""The officer's richer stats (C23): actions over time, weekly and monthly series, rates by
language, policy and browser, top pages, the chart's CSV, and the rollups' rebuild.

Each runs on both stores and under every fixed clock edge, so the seeded days fall
across a month end, a year end and a leap day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.admin.stats_csv import stats_csv

from ..conftest import EDGES
from .conftest import DAY, bearer, consent

STATS = "/admin/v1/sites/demo/stats"


def _start(day: str, group: str) -> str:
    """The period a day falls in, worked out here apart from the service's own code."""
    d = date.fromisoformat(day)
    if group == "week":
        return (d - timedelta(days=d.isoweekday() - 1)).isoformat()
    return day[:8] + "01" if group == "month" else day


@pytest.mark.parametrize("clock", EDGES, indirect=True)
@pytest.mark.parametrize("group", ["day", "week", "month"])
def test_c23_series_group_the_days_and_count_each_action(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    group: str,
) -> None:
    token = make_token("demo", role="viewer")
    seed()
    body = admin_client.get(f"{STATS}?group={group}", headers=bearer(token)).json()
    day1, day2 = body["days"]
    assert day1["actions"] == {
        "accept-all": 1,
        "reject-all": 1,
        "save": 1,
        "placeholder": 0,
        "gpc": 1,
    }
    assert day2["actions"] == {
        "accept-all": 1,
        "reject-all": 1,
        "save": 0,
        "placeholder": 0,
        "gpc": 0,
    }
    assert body["totals"]["actions"] == {
        "accept-all": 2,
        "reject-all": 2,
        "save": 1,
        "placeholder": 0,
        "gpc": 1,
    }
    assert body["group"] == group
    starts = sorted({_start(d["date"], group) for d in body["days"]})
    assert [p["date"] for p in body["series"]] == starts
    assert sum(p["decisions"] for p in body["series"]) == 6
    if len(starts) == 1:  # both days in one period: their counts are summed
        [point] = body["series"]
        assert point["actions"] == body["totals"]["actions"]
        assert point["counts"] == body["totals"]["counts"]
        assert point["refused_share"] == 0.5


@pytest.mark.parametrize("clock", EDGES[:2], indirect=True)
def test_c23_rates_by_language_policy_browser_and_the_top_pages(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token("demo", role="viewer")
    shop, home = "https://www.example.se/shop", "https://www.example.se/"
    consent(admin_client, action="accept-all", language="sv", page=shop + "?q=1")
    consent(admin_client, action="accept-all", language="sv", page=shop)
    consent(admin_client, action="reject-all", language="en", page=home)
    firefox = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    }
    consent(admin_client, action="reject-all", language="sv", page=home, headers=firefox)
    body = admin_client.get(STATS, headers=bearer(token)).json()
    by_language = {r["value"]: r for r in body["by_language"]}
    assert by_language["sv"]["decisions"] == 3
    assert by_language["sv"]["consent_rate"] == round(2 / 3, 4)
    assert by_language["en"] == {
        "value": "en",
        "decisions": 1,
        "consent_rate": 0.0,
        "refused_share": 1.0,
        "allowed": {"necessary": 1.0, "statistics": 0.0, "third-party": 0.0},
    }
    assert [(r["value"], r["decisions"]) for r in body["by_policy_version"]] == [
        (admin_client.get("/v1/sites/demo/config").json()["policy_version"], 4)
    ]
    browsers = {r["value"]: r["consent_rate"] for r in body["by_browser"]}
    assert browsers["Firefox"] == 0.0 and sum(r["decisions"] for r in body["by_browser"]) == 4
    # The query string never reaches the store (C20): both shop visits are one page.
    assert body["top_pages"] == [
        {"page": home, "decisions": 2, "share": 0.5},
        {"page": shop, "decisions": 2, "share": 0.5},
    ]
    assert body["other_pages"] == 0


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c23_the_chart_csv_has_one_line_per_period_and_is_logged(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    officer = make_token("demo")
    seed()
    answer = admin_client.get(f"{STATS}.csv?group=month", headers=bearer(officer))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(answer.text)))
    header, rows = lines[0], lines[1:]
    assert header[:9] == [
        "period_start", "decisions", "accept-all", "reject-all", "save", "placeholder", "gpc",
        "withdrawals", "refusals",
    ]  # fmt: skip
    json_body = admin_client.get(f"{STATS}?group=month", headers=bearer(officer)).json()
    assert [r[0] for r in rows] == [p["date"] for p in json_body["series"]]
    assert sum(int(r[1]) for r in rows) == 6
    assert sum(int(r[header.index("allowed:statistics")]) for r in rows) == 3
    log = admin_client.get("/admin/v1/sites/demo/access-log", headers=bearer(officer)).json()
    details = [e["detail"] for e in log["entries"] if e["action"] == "stats"]
    assert {"group": "month", "format": "csv"} in details


def test_the_chart_csv_never_starts_a_cell_with_a_formula() -> None:
    answer = {
        "categories": ["necessary", '=HYPERLINK("x")'],
        "optional_categories": ["@SUM(1)"],
        "series": [
            {
                "date": "2026-12-01",
                "decisions": 1,
                "actions": {
                    "accept-all": 1,
                    "reject-all": 0,
                    "save": 0,
                    "placeholder": 0,
                    "gpc": 0,
                },
                "withdrawals": 0,
                "counts": {"allowed": {"necessary": 1}, "refusals": 0, "gpc": 0},
            }
        ],
    }
    header = next(csv.reader(io.StringIO(stats_csv(answer))))
    assert header[-2:] == ['allowed:=HYPERLINK("x")', "allowed:@SUM(1)"]
    assert all(cell[:1] not in "=+-@" for cell in header)


@pytest.mark.parametrize(
    "query", ["group=year", "group=", "since=2026-12-02&until=2026-12-01", "group=day&x=1"]
)
def test_bad_stats_queries_are_a_clear_422(
    admin_client: TestClient, make_token: Callable[..., str], query: str
) -> None:
    token = make_token("demo", role="viewer")
    for path in (STATS, f"{STATS}.csv"):
        answer = admin_client.get(f"{path}?{query}", headers=bearer(token))
        if query == "group=":  # empty means the default, as for since and until
            assert answer.status_code == 200
            continue
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_field"


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c23_a_period_that_starts_and_ends_inside_days_counts_exactly_those_rows(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    clock: Any,
) -> None:
    """Whole days come from the rollups, the partial ends from the rows: no day is
    counted whole because the period touches it."""
    token = make_token("demo", role="viewer")
    made = seed()
    first, last = made[0]["given_at"], made[-1]["given_at"]
    clock.advance(DAY)
    consent(admin_client, action="save", choices={"statistics": True, "third-party": True})
    after_last = (parse_time_z(last) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = admin_client.get(f"{STATS}?since={first}&until={after_last}", headers=bearer(token))
    assert body.json()["totals"]["actions"] == {
        "accept-all": 2, "reject-all": 2, "save": 1, "placeholder": 0, "gpc": 1,
    }  # fmt: skip
    body = admin_client.get(f"{STATS}?since={last}", headers=bearer(token)).json()
    assert body["totals"]["actions"] == {
        "accept-all": 1,
        "reject-all": 1,
        "save": 1,
        "placeholder": 0,
        "gpc": 0,
    }
    assert [d["decisions"] for d in body["days"]] == [2, 1]


def parse_time_z(text: str) -> datetime:
    """A ``given_at`` (ISO 8601 with ``Z``) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("clock", EDGES[:1], indirect=True)
def test_stats_rebuild_restores_lost_rollups(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    cli: Callable[..., int],
    database_url: str,
    raw_db: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = make_token("demo", role="viewer")
    seed()
    before = admin_client.get(f"{STATS}?group=week", headers=bearer(token)).json()
    raw_db.execute("DELETE FROM consent_rollups")
    assert admin_client.get(STATS, headers=bearer(token)).json()["days"] == []
    capsys.readouterr()
    assert cli("stats", "rebuild", "--database", database_url) == 0
    assert '"rollup_rows": ' in capsys.readouterr().out
    after = admin_client.get(f"{STATS}?group=week", headers=bearer(token)).json()
    assert after == before


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c23_an_embed_s_always_allow_is_its_own_action(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    """A placeholder's "Tillåt alltid" is recorded as ``placeholder``, not as "Spara val",
    and counts as a decision that allowed its category."""
    token = make_token("demo", role="viewer")
    seed()
    made = consent(
        admin_client, action="placeholder", choices={"statistics": False, "third-party": True}
    )
    assert made["choices"] == {"necessary": True, "statistics": False, "third-party": True}
    body = admin_client.get(STATS, headers=bearer(token)).json()
    assert body["totals"]["actions"]["placeholder"] == 1
    assert body["totals"]["actions"]["save"] == 1
    assert body["totals"]["decisions"] == 7
    assert body["totals"]["counts"]["allowed"]["third-party"] == 3
