"""The dashboard at ten million rows: ``GET …/stats`` over a year, read from the rollups.

Seeds an SQLite file fast (one ``INSERT … SELECT`` over a recursive counter, indexes
made after the rows, no hashes: nothing here verifies), a year of decisions on site
``demo`` shaped like a public site's (accept-all most, then reject-all, custom choices,
GPC and withdrawals; two languages, two policy versions, a dozen browser fields, a few
hundred pages, most visits on a few), then times:

- ``rebuild``: ``consent-service stats rebuild`` (what the migration runs once for
  existing rows), wall time;
- ``stats``: ``GET /admin/v1/sites/demo/stats`` through the real app (auth, access log,
  rollups, JSON) for the whole year by dates, by ``group=week`` and ``group=month``,
  and for a period that starts and ends inside days (partial days read from rows);
  median and max wall time of ``--repeat`` requests each, and the median CPU time of
  the process (all its threads) per request, which a busy host inflates far less;
- ``group_by``: the old way, one GROUP BY over the year's rows (the query ``stats``
  ran before the rollups), once: the baseline of the same run.

Run: ``.venv/bin/python benchmarks/stats_bench.py --rows 10000000 --workdir var/bench``
(the seeded file is kept and reused when it has the rows asked for; ``--only-stats``
then times the requests alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from consent_service.settings import DEMO_CONFIG
from consent_service.store import open_store

KEY = "bench-key-0123456789abcdef0123456789"
_YEAR_START = 1_767_225_600  # 2026-01-01T00:00:00Z
_YEAR = 365 * 86_400
_INDEXES = (
    "CREATE INDEX consent_events_site_seq ON consent_events (site_id, seq)",
    "CREATE INDEX consent_events_consent ON consent_events (site_id, consent_id, seq)",
    "CREATE INDEX consent_events_site_time ON consent_events (site_id, created_at)",
    "CREATE INDEX consent_events_action ON consent_events (action, site_id, seq)",
)
_ACCEPT = '{"necessary":true,"statistics":true,"third-party":true}'
_REJECT = '{"necessary":true,"statistics":false,"third-party":false}'
_SAVE_A = '{"necessary":true,"statistics":true,"third-party":false}'
_SAVE_B = '{"necessary":true,"statistics":false,"third-party":true}'
#: One row per counter value ``i``; ``h`` is a cheap hash of ``i`` that picks its values.
_SEED = f"""
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < :rows),
r AS (SELECT i, (i * 2654435761) % 4294967296 AS h FROM c)
INSERT INTO consent_events (seq, event_id, site_id, consent_id, action, choices,
    policy_version, texts_hash, language, widget_version, page, ip, browser, gpc,
    created_at, prev_hash, hash, detail, leaf_index)
SELECT i, printf('%016x', i), 'demo', printf('c%d', h % 5000000),
    CASE WHEN h % 100 < 55 THEN 'accept-all' WHEN h % 100 < 85 THEN 'reject-all'
         WHEN h % 100 < 95 THEN 'save' WHEN h % 100 < 98 THEN 'gpc' ELSE 'withdraw' END,
    CASE WHEN h % 100 < 55 THEN '{_ACCEPT}' WHEN h % 100 < 85 THEN '{_REJECT}'
         WHEN h % 100 < 95 THEN (CASE WHEN h % 7 < 4 THEN '{_SAVE_A}' ELSE '{_SAVE_B}' END)
         ELSE '{_REJECT}' END,
    CASE WHEN i * 2 < :rows THEN '2026-01-01' ELSE '2026-07-01' END,
    'ab', CASE WHEN h % 10 < 7 THEN 'sv' ELSE 'en' END, '1.0.0',
    'https://www.example.se/p' || (((h / 100) % 1000) * ((h / 100) % 1000) / 3334),
    '192.0.2.0',
    CASE (h / 1000) % 12 WHEN 0 THEN 'Chrome/Windows' WHEN 1 THEN 'Chrome/Android'
        WHEN 2 THEN 'Safari/iOS' WHEN 3 THEN 'Safari/macOS' WHEN 4 THEN 'Firefox/Windows'
        WHEN 5 THEN 'Firefox/Linux' WHEN 6 THEN 'Edge/Windows' WHEN 7 THEN 'Samsung/Android'
        WHEN 8 THEN 'Chrome/macOS' WHEN 9 THEN 'Chrome/Linux' WHEN 10 THEN 'Opera/Windows'
        ELSE 'Other/Other' END,
    CASE WHEN h % 100 >= 95 AND h % 100 < 98 THEN 1 ELSE 0 END,
    strftime('%Y-%m-%dT%H:%M:%S', {_YEAR_START} + (i - 1) * {_YEAR} / :rows, 'unixepoch')
        || '.000000Z',
    'x', 'x', NULL, i - 1
FROM r
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "consent_service", *args]


def seed(db: Path, rows: int) -> float:
    """Seed ``db`` with ``rows`` rows over 2026 (schema by the store's migrations); seconds."""
    started = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    for old in db.parent.glob(db.name + "*"):
        old.unlink()

    async def migrate() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        await store.migrate()
        await store.close()

    asyncio.run(migrate())
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    for index in _INDEXES:
        conn.execute("DROP INDEX " + index.split()[2])
    conn.execute("BEGIN")
    conn.execute(_SEED, {"rows": rows})
    conn.execute("INSERT OR REPLACE INTO chain_heads (site_id, seq, hash, size) VALUES ('demo', ?, 'x', ?)", (rows, rows))  # fmt: skip
    for index in _INDEXES:
        conn.execute(index)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def _old_group_by(db: Path) -> float:
    """Seconds of the pre-rollup stats query over the year (SQLite form, three categories)."""
    decision = "action IN ('accept-all', 'reject-all', 'save', 'gpc')"
    cats = ("necessary", "statistics", "third-party")
    per = ", ".join(f"SUM({decision} AND json_extract(choices, '$.\"{c}\"') = 1)" for c in cats)
    optional = " + ".join(f"COALESCE(json_extract(choices, '$.\"{c}\"'), 0)" for c in cats[1:])
    sql = (
        f"SELECT substr(created_at, 1, 10) AS day, SUM({decision}), "
        f"SUM({decision} AND ({optional}) = 0), SUM({decision} AND gpc = 1), "
        f"SUM(action = 'withdraw'), {per} FROM consent_events WHERE site_id = 'demo' "
        f"AND ({decision} OR action = 'withdraw') AND created_at >= '2026-01-01' "
        "AND created_at < '2027-01-01' GROUP BY day ORDER BY day"
    )
    conn = sqlite3.connect(db)
    started = time.perf_counter()
    conn.execute(sql).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _token(url: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        _cli("token", "create", "--database", url, "--site", "demo", "--role", "viewer"),
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return next(line for line in out.split() if line.startswith("kakor_"))


def time_stats(url: str, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    """Median and max milliseconds of ``GET …/stats`` for each query, through the app."""
    from starlette.testclient import TestClient

    from consent_service.settings import Settings
    from consent_service.web.app import create_app

    token = _token(url, env)
    os.environ.update(env)
    settings = Settings.from_env(database_url=url, config_path=DEMO_CONFIG)
    queries = {
        "year": "since=2026-01-01&until=2026-12-31",
        "year_by_week": "since=2026-01-01&until=2026-12-31&group=week",
        "year_by_month": "since=2026-01-01&until=2026-12-31&group=month",
        "all_time": "",
        "partial_days": "since=2026-01-01T12:00:00Z&until=2026-12-31T12:00:00Z",
    }
    results: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for name, query in queries.items():
            times, cpu = [], []
            for _ in range(repeat):
                started, cpu_started = time.perf_counter(), time.process_time()
                answer = client.get(f"/admin/v1/sites/demo/stats?{query}", headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                assert answer.status_code == 200, answer.text
            body = answer.json()
            results[name] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "median_cpu_ms": round(statistics.median(cpu), 1),
                "decisions": body["totals"]["decisions"],
                "points": len(body["series"]),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--only-stats",
        action="store_true",
        help="reuse the seeded file and its rollups: time the requests only",
    )
    args = parser.parse_args()
    db = (args.workdir / f"stats-{args.rows}.db").resolve()
    url = f"sqlite:///{db}"
    env = {**os.environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_LOG_LEVEL": "warning"}
    report: dict[str, Any] = {"rows": args.rows, "store": "sqlite", "load": os.getloadavg()}
    have = 0
    if db.exists():
        with sqlite3.connect(db) as conn:
            have = conn.execute("SELECT count(*) FROM consent_events").fetchone()[0]
    if have != args.rows:
        report["seed_seconds"] = round(seed(db, args.rows), 1)
    elif args.only_stats:
        report["stats"] = time_stats(url, args.repeat, env)
        print(json.dumps(report, indent=2))
        return
    started = time.perf_counter()
    rebuilt = subprocess.run(
        _cli("stats", "rebuild", "--database", url),
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    report["rebuild"] = {
        "wall_seconds": round(time.perf_counter() - started, 1),
        **json.loads(rebuilt.stdout),
    }
    report["group_by_seconds"] = round(_old_group_by(db), 2)
    report["stats"] = time_stats(url, args.repeat, env)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
