"""Retention and integrity: a purge leaves a verifiable chain; edits, deletions, reorders show (C21, C22)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit.events import CHECKPOINT
from consent_service.settings import DEMO_CONFIG, Settings

from ..conftest import EDGES, FakeClock
from ..rawdb import RawDb
from .conftest import DAY, bearer, consent, stored_rows, tamper


def _verify_cli(
    cli: Callable[..., int], database_url: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli("verify", "--database", database_url)
    return code, json.loads(capsys.readouterr().out)


def test_c22_verify_finds_nothing_wrong_in_an_honest_log(
    cli: Callable[..., int],
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed()
    code, result = _verify_cli(cli, database_url, capsys)
    assert code == 0
    assert result["ok"] is True
    assert result["rows_checked"] == 7
    token = make_token("demo")
    api = admin_client.get("/admin/v1/log/verify", headers=bearer(token)).json()
    assert api["ok"] is True
    assert api["rows_checked"] == 6  # only the token's site
    assert list(api["sites"]) == ["demo"]
    assert api["sites"]["demo"]["head"] == stored_rows(database_url, "demo")[-1].hash


@pytest.mark.parametrize(
    ("what", "sql", "reason"),
    [
        (
            "edited",
            "UPDATE consent_events SET action = 'accept-all' WHERE seq = 3",
            "row content does not match its hash",
        ),
        ("deleted", "DELETE FROM consent_events WHERE seq = 3", "prev_hash does not match"),
        (  # a value no JSON writer of ours can hash: found, not a crash of verify
            "unhashable",
            "UPDATE consent_events SET choices = '{\"necessary\": 100000000000000000000000}' "
            "WHERE seq = 3",
            "row content does not match its hash",
        ),
        (
            "reordered",
            "",
            "",
        ),
    ],
)
def test_c22_an_edited_deleted_or_reordered_row_is_found(
    cli: Callable[..., int],
    what: str,
    sql: str,
    reason: str,
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    raw_db: RawDb,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed()
    if what == "reordered":  # seq is the primary key: move one row aside first
        tamper(raw_db, "UPDATE consent_events SET seq = -2 WHERE seq = 2")
        tamper(raw_db, "UPDATE consent_events SET seq = 2 WHERE seq = 3")
        tamper(raw_db, "UPDATE consent_events SET seq = 3 WHERE seq = -2")
    else:
        tamper(raw_db, sql)
    code, result = _verify_cli(cli, database_url, capsys)
    assert code == 1
    assert result["ok"] is False
    broken = result["first_broken"]
    assert broken["site_id"] == "demo"
    assert broken["seq"] in (2, 3, 4)
    assert reason in broken["reason"]
    api = admin_client.get("/admin/v1/log/verify", headers=bearer(make_token("demo"))).json()
    assert api["ok"] is False
    assert api["first_broken"] == broken


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c21_purge_then_verify_still_passes_and_records_a_checkpoint(
    cli: Callable[..., int],
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = seed()
    before_rows = stored_rows(database_url, "demo")
    day2 = made[-1]["given_at"][:10]
    capsys.readouterr()
    assert cli("purge", "--site", "demo", "--before", day2, "--database", database_url) == 0
    purged = json.loads(capsys.readouterr().out)
    assert purged["purged_rows"] == 4
    assert purged["continued_from"] == before_rows[3].hash
    rows = stored_rows(database_url, "demo")
    assert [r.consent_id for r in rows[:2]] == [m["consent_id"] for m in made[4:]]
    checkpoint = rows[-1]
    assert checkpoint.action == CHECKPOINT
    assert checkpoint.detail is not None
    assert checkpoint.detail["purged_rows"] == 4
    assert checkpoint.detail["first_seq"] == before_rows[0].seq
    assert checkpoint.detail["last_seq"] == before_rows[3].seq
    assert len(stored_rows(database_url, "other")) == 1  # another site is untouched
    code, result = _verify_cli(cli, database_url, capsys)
    assert (code, result["ok"]) == (0, True)
    token = make_token("demo")
    assert admin_client.get("/admin/v1/log/verify", headers=bearer(token)).json()["ok"] is True
    # the chain goes on after the checkpoint, and a second purge takes the first checkpoint too
    consent(admin_client, action="accept-all")
    assert cli("purge", "--site", "demo", "--before", "2999-01-01", "--database", database_url) == 0
    assert json.loads(capsys.readouterr().out)["purged_rows"] == 4
    assert [r.action for r in stored_rows(database_url, "demo")] == [CHECKPOINT]
    assert _verify_cli(cli, database_url, capsys)[1]["ok"] is True
    # the purge itself is in the access log
    assert cli("access-log", "--site", "demo", "--database", database_url) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions.count("purge") == 2


def test_c21_a_row_deleted_after_a_purge_is_still_found(
    cli: Callable[..., int],
    seed: Callable[[], list[dict[str, Any]]],
    raw_db: RawDb,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = seed()
    day2 = made[-1]["given_at"][:10]
    assert cli("purge", "--site", "demo", "--before", day2, "--database", database_url) == 0
    first_left = stored_rows(database_url, "demo")[0]
    tamper(raw_db, "DELETE FROM consent_events WHERE seq = ?", first_left.seq)
    code, result = _verify_cli(cli, database_url, capsys)
    assert code == 1
    assert result["first_broken"]["reason"] == "first row does not start the chain"


def test_purging_nothing_appends_nothing(
    cli: Callable[..., int],
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed()
    count = len(stored_rows(database_url))
    capsys.readouterr()
    assert cli("purge", "--site", "demo", "--before", "2000-01-01", "--database", database_url) == 0
    assert json.loads(capsys.readouterr().out)["purged_rows"] == 0
    assert len(stored_rows(database_url)) == count


def test_c21_purge_is_never_automatic_unless_the_operator_turns_it_on(
    make_client: Callable[..., TestClient],
    clock: FakeClock,
    tmp_path: Path,
    database_url: str,
) -> None:
    config = tmp_path / "retention.toml"
    config.write_text(
        DEMO_CONFIG.read_text().replace(
            "rate_limit = 30\n", "rate_limit = 30\nretention_days = 30\n"
        )
    )
    assert Settings.from_env({}).auto_purge is False
    assert Settings.from_env({"CONSENT_AUTO_PURGE": "true"}).auto_purge is True
    consent(make_client(config_path=config), action="accept-all")
    clock.advance(40 * DAY)
    make_client(config_path=config)  # retention_days alone purges nothing
    assert [r.action for r in stored_rows(database_url)] == ["accept-all"]
    make_client(config_path=config, auto_purge=True)  # the operator's switch: purged at start
    deadline = time.monotonic() + 10
    while [r.action for r in stored_rows(database_url)] != [CHECKPOINT]:
        assert time.monotonic() < deadline, "the automatic purge did not run"
        time.sleep(0.05)


def test_c21_an_export_after_a_purge_checks_out_with_its_checkpoint_row(
    cli: Callable[..., int],
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = seed()
    day2 = made[-1]["given_at"][:10]
    assert cli("purge", "--site", "demo", "--before", day2, "--database", database_url) == 0
    out = tmp_path / "after-purge.jsonl"
    assert cli("export", "--site", "demo", "--output", str(out), "--database", database_url) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["accept-all", "reject-all", CHECKPOINT]
    assert lines[-1]["detail"]["purged_rows"] == 4
    capsys.readouterr()
    assert cli("export", "--check", str(out)) == 0
    # dropping a line from the file is found too
    out.write_text("\n".join(out.read_text().splitlines()[::2]) + "\n")
    assert cli("export", "--check", str(out)) == 1


def test_c23_a_verify_is_in_each_of_its_sites_access_logs_with_its_outcome(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    seed()
    token = make_token("demo", "other")
    assert admin_client.get("/admin/v1/log/verify", headers=bearer(token)).json()["ok"] is True
    for site, rows in (("demo", 6), ("other", 1)):
        log = admin_client.get(f"/admin/v1/sites/{site}/access-log", headers=bearer(token))
        [entry] = [e for e in log.json()["entries"] if e["action"] == "verify"]
        assert entry["site_id"] == site
        assert entry["detail"] == {"complete": True, "ok": True, "rows": rows}
