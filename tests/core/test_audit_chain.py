"""The hash chain: an edited, deleted or reordered row is found by `verify` (C22)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from consent_service.audit.canonical import canonical_json
from consent_service.audit.chain import GENESIS, chain, row_content, row_hash
from consent_service.audit.events import ConsentEvent, checkpoint_event
from consent_service.audit.recorder import Recorder
from consent_service.audit.timefmt import format_time
from consent_service.audit.verify import ChainVerifier
from consent_service.store import open_store
from consent_service.web.metrics import Metrics

from ..conftest import post_consent, signed
from ..rawdb import RawDb
from .helpers import event, stored_rows


def test_chains_are_per_site_and_verify() -> None:
    rows = chain([event("a", 1), event("b", 2), event("a", 3)], 1, {})
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == GENESIS
    assert rows[2].prev_hash == rows[0].hash
    verifier = ChainVerifier()
    assert all(verifier.feed(r) for r in rows)
    assert verifier.result().ok and verifier.result().rows_checked == 3


def verify_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consent_service", "verify", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def five_rows(client: TestClient, database_url: str) -> str:
    for action in ("accept-all", "reject-all", "save", "accept-all", "reject-all"):
        assert post_consent(client, {"action": action}).status_code == 201
    result = verify_cli(database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"rows_checked": 5' in result.stdout
    return database_url


def tamper(database_url: str, *statements: str) -> None:
    """Edit the database as an attacker with its rights would: around the append-only trigger."""
    db = RawDb(database_url)
    try:
        for statement in statements:
            db.execute(statement, bypass_triggers=True)
    finally:
        db.close()


def test_the_append_only_trigger_refuses_updates(five_rows: str) -> None:
    db = RawDb(five_rows)
    try:
        with pytest.raises(Exception, match="append-only"):
            db.execute("UPDATE consent_events SET action = 'accept-all' WHERE seq = 2")
    finally:
        db.close()


def test_c22_an_edited_row_is_named(five_rows: str, database_url: str) -> None:
    tamper(
        five_rows,
        """UPDATE consent_events SET choices = '{"necessary":true,"statistics":true,"third-party":true}' WHERE seq = 2""",
    )
    result = verify_cli(database_url)
    assert result.returncode == 1
    assert '"seq": 2' in result.stdout and "does not match its hash" in result.stdout


def test_c22_a_deleted_row_is_found(five_rows: str, database_url: str) -> None:
    tamper(five_rows, "DELETE FROM consent_events WHERE seq = 3")
    result = verify_cli(database_url)
    assert result.returncode == 1
    assert '"seq": 4' in result.stdout and "prev_hash" in result.stdout


def test_c22_reordered_rows_are_found(five_rows: str, database_url: str) -> None:
    tamper(
        five_rows,
        "UPDATE consent_events SET seq = 100 WHERE seq = 2",
        "UPDATE consent_events SET seq = 2 WHERE seq = 4",
        "UPDATE consent_events SET seq = 4 WHERE seq = 100",
    )
    result = verify_cli(database_url)
    assert result.returncode == 1
    assert '"seq": 2' in result.stdout


def test_c19_rows_only_for_201s(make_client: Callable[..., TestClient], database_url: str) -> None:
    client = make_client(rate_limit=3)
    answers = [
        post_consent(client, {"action": a}) for a in ("save", "bogus", "save", "save", "save")
    ]
    created = [a.json()["consent_id"] for a in answers if a.status_code == 201]
    # every write attempt counts against the limit, a malformed one too
    assert [a.status_code for a in answers] == [201, 422, 201, 429, 429]
    assert [r.consent_id for r in stored_rows(database_url)] == created


async def test_group_commit_shares_transactions_and_keeps_every_row(database_url: str) -> None:
    store = signed(open_store(database_url))
    await store.open()
    await store.migrate()
    metrics = Metrics()
    recorder = Recorder(store, metrics, batch_max=64)
    recorder.start()
    try:
        rows = await asyncio.gather(*(recorder.record(event("demo", n)) for n in range(200)))
    finally:
        await recorder.stop()
    stored = [r async for r in store.iter_rows()]
    await store.close()
    assert sorted(r.consent_id for r in rows) == sorted(f"c{n}" for n in range(200))
    assert len(stored) == 200
    assert metrics.store_batch_size.count < 200  # commits were shared
    verifier = ChainVerifier()
    assert all(verifier.feed(r) for r in stored)


async def test_a_failed_commit_is_reported_to_every_waiter(database_url: str) -> None:
    store = signed(open_store(database_url))
    await store.open()
    await store.migrate()
    recorder = Recorder(store, Metrics())
    recorder.start()
    await store.close()  # the store goes away under the recorder
    with pytest.raises(Exception, match="not recorded"):
        await recorder.record(event())
    await recorder.stop()


async def test_two_processes_on_one_file_do_not_fork_the_chain(database_url: str) -> None:
    """A second writer on the same SQLite file (another process, say) waits its turn."""
    first, second = signed(open_store(database_url)), signed(open_store(database_url))
    for store in (first, second):
        await store.open()
        await store.migrate()
    try:
        await asyncio.gather(
            *(
                (first if n % 2 else second).append([event("demo", n), event("demo", n + 1000)])
                for n in range(40)
            )
        )
        stored = [r async for r in first.iter_rows()]
    finally:
        await first.close()
        await second.close()
    assert len(stored) == 80
    verifier = ChainVerifier()
    assert all(verifier.feed(r) for r in stored), verifier.result()


def test_event_ids_are_unique_hex_that_sorts_by_creation() -> None:
    """Time-ordered event IDs keep the UNIQUE index's inserts at its edge."""
    import re
    import time

    from consent_service.audit.events import new_event_id

    earlier = [event().event_id for _ in range(200)]
    time.sleep(0.003)
    later = [new_event_id() for _ in range(200)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", e) for e in earlier + later)
    assert len(set(earlier + later)) == 400
    assert max(earlier) < min(later)


#: A consent row's content as every kakor version has written it, byte for byte: the
#: rows already stored verify only while the one writer keeps producing these bytes.
GOLDEN_EVENT = ConsentEvent(
    site_id="region-vastmanland",
    consent_id="QKGfzhIFjo_Z3_DFtSUurw",
    action="save",
    choices={"necessary": True, "statistics": True, "third-party": False},
    policy_version="2026-11-01",
    texts_hash="ab" * 32,
    language="sv",
    widget_version="1.4.0",
    page='https://www.regionvastmanland.se/nyheter/åäö"\\',
    ip="192.0.2.0/24",
    browser="Firefox/Linux",
    gpc=False,
    created_at=datetime(2026, 11, 27, 9, 53, 6, 31635, tzinfo=UTC),
    event_id="019abcdef0123456789abcdef01234567890ab",
)
GOLDEN_CONTENT = (
    b'{"action":"save","browser":"Firefox/Linux","choices":{"necessary":true,'
    b'"statistics":true,"third-party":false},"consent_id":"QKGfzhIFjo_Z3_DFtSUurw",'
    b'"created_at":"2026-11-27T09:53:06.031635Z","event_id":"019abcdef0123456789abcdef01234567890ab",'
    b'"gpc":false,"ip":"192.0.2.0/24","language":"sv",'
    b'"page":"https://www.regionvastmanland.se/nyheter/\xc3\xa5\xc3\xa4\xc3\xb6\\"\\\\",'
    b'"policy_version":"2026-11-01","seq":7,"site_id":"region-vastmanland",'
    b'"texts_hash":"abababababababababababababababababababababababababababababababab",'
    b'"widget_version":"1.4.0"}'
)


def test_c22_the_hashed_bytes_of_a_row_are_the_golden_bytes() -> None:
    """Keys sorted, no spaces, UTF-8 as is, the time as 27 characters: the bytes, and the
    hashes of a consent row and of a purge checkpoint, are those every version wrote."""
    assert canonical_json(row_content(7, GOLDEN_EVENT)) == GOLDEN_CONTENT
    assert row_hash(7, GENESIS, GOLDEN_EVENT) == (
        "9fe66506a47a3dcdd73c24d6b20fde8823eea10dfad394f42050d5a9a71c5d6d"
    )
    checkpoint = replace(
        checkpoint_event(
            "demo",
            {"purged_rows": 4, "continued_from": "f" * 64},
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        event_id="e",
    )
    assert row_hash(12, "c" * 64, checkpoint) == (
        "900dc903f6a2d501ebbad902e14842ce7776a3765707322c20cd5688d555f00a"
    )
    assert format_time(datetime(2028, 2, 29, tzinfo=UTC)) == "2028-02-29T00:00:00.000000Z"
    assert format_time(datetime(2028, 2, 29, 1, tzinfo=timezone(timedelta(hours=1)))) == (
        "2028-02-29T00:00:00.000000Z"
    )


def test_c19_c22_edited_banner_texts_are_named_by_verify(five_rows: str, database_url: str) -> None:
    """The texts a row's texts_hash names are hashed again: an edit shows (issue 16)."""
    db = RawDb(five_rows)
    try:
        [(texts_hash, texts)] = db.execute("SELECT texts_hash, texts FROM consent_texts")
    finally:
        db.close()
    assert json.loads(verify_cli(database_url).stdout)["texts"] == {"checked": 1, "broken": []}
    edited = texts.replace("kakor", "kex", 1)
    assert edited != texts
    db = RawDb(five_rows)
    try:
        db.execute(
            "UPDATE consent_texts SET texts = ? WHERE texts_hash = ?",
            edited,
            texts_hash,
            bypass_triggers=True,
        )
    finally:
        db.close()
    result = verify_cli(database_url)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["first_broken"] is None  # the rows themselves are intact
    assert report["texts"]["broken"] == [
        {
            "texts_hash": texts_hash,
            "site_id": "demo",
            "problem": "edited: the stored texts do not hash to their texts_hash",
        }
    ]


def test_c19_c22_deleted_banner_texts_are_named_by_verify(
    five_rows: str, database_url: str
) -> None:
    tamper(five_rows, "DELETE FROM consent_texts")
    result = verify_cli(database_url)
    assert result.returncode == 1
    [broken] = json.loads(result.stdout)["texts"]["broken"]
    assert broken["problem"].startswith("missing")


def test_c22_cut_newest_rows_are_named_by_verify(five_rows: str, database_url: str) -> None:
    """Cutting a chain's tail leaves a valid shorter chain; the head shows it (issue 16)."""
    tamper(five_rows, "DELETE FROM consent_events WHERE seq >= 4")
    result = verify_cli(database_url)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["first_broken"] is None  # what is left is a valid chain
    [cut] = report["chain_heads"]["broken"]
    assert cut["site_id"] == "demo" and cut["seq"] == 5
    assert "newest rows were cut" in cut["problem"]


def test_c22_after_a_cut_the_next_row_neither_reuses_a_seq_nor_hides_the_cut(
    client: TestClient, five_rows: str, database_url: str
) -> None:
    tamper(five_rows, "DELETE FROM consent_events WHERE seq >= 4")
    assert post_consent(client, {"action": "accept-all"}).status_code == 201
    rows = stored_rows(database_url)
    assert [r.seq for r in rows] == [1, 2, 3, 6]  # 4 and 5 are never given again
    result = verify_cli(database_url)
    assert result.returncode == 1
    broken = json.loads(result.stdout)["first_broken"]
    assert broken["seq"] == 6 and "prev_hash" in broken["reason"]  # it names the cut row


def test_c22_a_head_edited_to_match_a_cut_is_caught_by_the_signed_tree_head(
    five_rows: str, database_url: str
) -> None:
    """The chain head alone cannot catch an insider who rewrites it too; the signed head
    of the Merkle tree, which they cannot re-sign, still says five (issue 16)."""
    tamper(
        five_rows,
        "DELETE FROM consent_events WHERE seq >= 4",
        "UPDATE chain_heads SET seq = 3, hash = (SELECT hash FROM consent_events WHERE seq = 3)",
    )
    result = verify_cli(database_url)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["chain_heads"]["broken"] == []
    [cut] = report["tree"]["broken"]
    assert "head of size 5, but the rows make a tree of 3" in cut["problem"]


def test_c22_verify_says_what_a_pass_cannot_rule_out(five_rows: str, database_url: str) -> None:
    report = json.loads(verify_cli(database_url).stdout)
    assert report["ok"] is True
    limits = " ".join(report["cannot_rule_out"])
    assert "never written" in limits and "verify --heads" in limits
