"""Attacks by someone with the database, caught by ``verify --heads`` (issue 16, C22).

Each test lets a witness keep the log's signed heads first (``consent-service witness``
logic, over the app's real routes), then tampers with the database as an insider with
full rights would, recomputing whatever an honest append would have written (row hashes,
``chain_heads``, the tree's frontier) except the log key's signature, which it does not
have. The command line must then fail and name the attack. Both stores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit.chain import link, row_leaf
from consent_service.audit.events import AuditRow, checkpoint_event
from consent_service.audit.integrity import WITHOUT_WITNESS
from consent_service.audit.tiles import Frontier
from consent_service.audit.timefmt import format_time
from consent_service.audit.witness import Witness
from consent_service.store.columns import COLUMNS, column_arrays, sqlite_values
from consent_service.store.records import choices_json

from ..conftest import EDGES, FakeClock, post_consent, run_signer
from ..rawdb import RawDb
from .helpers import stored_rows


def verify(database_url: str, heads: Path | None = None) -> tuple[int, dict[str, Any]]:
    argv = [sys.executable, "-m", "consent_service", "verify", "--database", database_url]
    if heads is not None:
        argv += ["--heads", str(heads)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, json.loads(done.stdout)


def problems(report: dict[str, Any]) -> str:
    """Every finding of a verify report, as one text to search."""
    found = [report["first_broken"] or {}]
    for part in ("tree", "chain_heads", "texts"):
        found += report[part]["broken"]
    return json.dumps(found)


def witness(client: TestClient, path: Path, clock: FakeClock) -> Witness:
    return Witness(
        "http://localhost",
        "demo",
        path,
        fetch=lambda url: client.get(url).json(),
        clock=clock.datetime,
    )


@pytest.fixture
def watched(client: TestClient, tmp_path: Path, clock: FakeClock) -> Path:
    """Five decisions, each head kept by a witness; the heads file."""
    heads = tmp_path / "heads.jsonl"
    keeper = witness(client, heads, clock)
    for action in ("accept-all", "reject-all", "save", "accept-all", "reject-all"):
        assert post_consent(client, {"action": action}).status_code == 201
        keeper.observe()
        clock.advance(60)
    assert [json.loads(line)["tree_size"] for line in heads.read_text().splitlines()] == [
        1,
        2,
        3,
        4,
        5,
    ]
    return heads


def _values(database_url: str, row: AuditRow) -> list[Any]:
    if database_url.startswith("sqlite"):
        return list(sqlite_values(row))
    return [column[0] for column in column_arrays([row])]


def insert(db: RawDb, database_url: str, row: AuditRow) -> None:
    marks = ", ".join("?" * len(COLUMNS.split(", ")))
    db.execute(
        f"INSERT INTO consent_events ({COLUMNS}) VALUES ({marks})", *_values(database_url, row)
    )


def set_head(db: RawDb, rows: list[AuditRow], start: Frontier | None = None) -> None:
    """``chain_heads`` as an honest append would leave it after ``rows`` (no signature)."""
    tree = Frontier(start.size, start.hashes) if start else Frontier()
    for row in rows:
        tree.append(row_leaf(row))
    db.execute(
        "UPDATE chain_heads SET seq = ?, hash = ?, size = ?, frontier = ? WHERE site_id = 'demo'",
        rows[-1].seq,
        rows[-1].hash,
        tree.size,
        tree.encode(),
    )


def forge_tail(database_url: str) -> list[AuditRow]:
    """Append a forged accept-all row as an honest append would, but unsigned; every row."""
    rows = stored_rows(database_url)
    last = rows[-1]
    forged = link(
        replace(_event(last), consent_id="forged", action="accept-all", event_id="f" * 32),
        last.seq + 1,
        last.hash,
        leaf_index=len(rows),
    )
    db = RawDb(database_url)
    try:
        insert(db, database_url, forged)
        set_head(db, [*rows, forged])
    finally:
        db.close()
    return [*rows, forged]


def test_the_untampered_log_passes_with_its_witness(watched: Path, database_url: str) -> None:
    code, report = verify(database_url, watched)
    assert code == 0, report
    assert report["tree"]["witnessed"] == 5 and report["tree"]["roots_compared"] >= 5
    assert WITHOUT_WITNESS[0] not in report["cannot_rule_out"]


def test_a_forged_tail_row_is_named(watched: Path, database_url: str) -> None:
    forge_tail(database_url)
    code, report = verify(database_url, watched)
    assert code == 1
    assert report["first_broken"] is None  # the chain itself is flawless
    assert "a forged tail" in problems(report)
    # Without the witness too: no signed head covers the forged row.
    code, report = verify(database_url)
    assert code == 1 and "a forged tail" in problems(report)


def test_an_edit_with_every_later_hash_recomputed_is_named(
    watched: Path, database_url: str
) -> None:
    rows = stored_rows(database_url)
    edited = [*rows[:1]]
    for row in rows[1:]:
        event = _event(row)
        if row.seq == rows[1].seq:  # the visitor refused; make it say they accepted
            event = replace(event, choices=dict.fromkeys(row.choices, True))
        edited.append(link(event, row.seq, edited[-1].hash, row.leaf_index))
    db = RawDb(database_url)
    try:
        for row in edited[1:]:
            db.execute(
                "UPDATE consent_events SET choices = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                choices_json(row.choices),
                row.prev_hash,
                row.hash,
                row.seq,
                bypass_triggers=True,
            )
        set_head(db, edited)
    finally:
        db.close()
    code, report = verify(database_url, watched)
    assert code == 1
    assert report["first_broken"] is None and report["chain_heads"]["broken"] == []
    assert "does not have the root of the signed head" in problems(report)


def test_deleting_the_oldest_rows_behind_a_fake_checkpoint_is_named(
    watched: Path, database_url: str, clock: FakeClock
) -> None:
    rows = stored_rows(database_url)
    prefix = Frontier()
    for row in rows[:2]:
        prefix.append(row_leaf(row))
    detail = {
        "purged_rows": 2,
        "first_seq": rows[0].seq,
        "last_seq": rows[1].seq,
        "before": format_time(rows[2].created_at),
        "continued_from": rows[1].hash,
        "tree_prefix_size": 2,
        "tree_prefix": [h.hex() for h in prefix.hashes],
    }
    fake = link(
        checkpoint_event("demo", detail, clock.datetime()),
        rows[-1].seq + 1,
        rows[-1].hash,
        leaf_index=len(rows),
    )
    db = RawDb(database_url)
    try:
        db.execute("DELETE FROM consent_events WHERE seq <= ?", rows[1].seq)
        insert(db, database_url, fake)
        set_head(db, [*rows[2:], fake], prefix)
    finally:
        db.close()
    code, report = verify(database_url, watched)
    assert code == 1
    assert report["first_broken"] is None  # the anchors make the remaining chain valid
    assert "a forged tail" in problems(report)  # the checkpoint is no signed leaf


def three_accepted(client: TestClient, heads: Path, clock: FakeClock) -> Witness:
    """Three accept-alls, and a witness that has seen none of them yet."""
    keeper = witness(client, heads, clock)
    for _ in range(3):
        post_consent(client, {"action": "accept-all"})
    return keeper


def test_cut_newest_rows_behind_an_older_genuine_head_need_the_witness(
    client: TestClient, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    heads = tmp_path / "heads.jsonl"
    keeper = three_accepted(client, heads, clock)
    db = RawDb(database_url)
    try:
        [saved] = db.execute("SELECT seq, hash, size, frontier, note FROM chain_heads")
        for _ in range(2):
            post_consent(client, {"action": "reject-all"})
        keeper.observe()
        # The insider cuts the two refusals and puts back the head they saved at three.
        db.execute("DELETE FROM consent_events WHERE seq > ?", saved[0])
        db.execute(
            "UPDATE chain_heads SET seq = ?, hash = ?, size = ?, frontier = ?, note = ?",
            *saved,
        )
    finally:
        db.close()
    code, report = verify(database_url)
    assert code == 0  # every check the database alone allows passes…
    assert WITHOUT_WITNESS[0] in report["cannot_rule_out"]  # …and verify says what that means
    code, report = verify(database_url, heads)
    assert code == 1
    assert "the newest rows were cut" in problems(report)


def test_edited_banner_texts_are_named_with_the_witness(watched: Path, database_url: str) -> None:
    db = RawDb(database_url)
    try:
        db.execute("UPDATE consent_texts SET texts = ?", '{"title":"Inga kakor alls"}')
    finally:
        db.close()
    code, report = verify(database_url, watched)
    assert code == 1
    assert "edited: the stored texts do not hash" in problems(report)


def test_a_head_that_disagrees_with_the_newest_row_is_named(
    watched: Path, database_url: str
) -> None:
    db = RawDb(database_url)
    try:
        db.execute("UPDATE chain_heads SET hash = ? WHERE site_id = 'demo'", "f" * 64)
    finally:
        db.close()
    code, report = verify(database_url, watched)
    assert code == 1
    assert "the head or the row was edited" in problems(report)


def _event(row: AuditRow) -> Any:
    from consent_service.audit.events import EVENT_FIELDS, ConsentEvent

    return ConsentEvent(**{name: getattr(row, name) for name in EVENT_FIELDS})


def _purge(database_url: str, before: str, now: FakeClock) -> int:
    from consent_service.cli.main import main

    argv = ["purge", "--site", "demo", "--before", before, "--database", database_url]
    return main(argv, now=now.datetime)


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c21_an_honest_purge_stays_verifiable_against_older_heads(
    client: TestClient, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    heads = tmp_path / "heads.jsonl"
    keeper = three_accepted(client, heads, clock)
    keeper.observe()  # size 3, from before the purge's cut-off
    clock.advance(2 * 86400)
    cutoff = format_time(clock.datetime())
    clock.advance(3600)
    keeper.observe()  # still 3, seen after the cut-off: nothing newer may go
    post_consent(client, {"action": "reject-all"})
    keeper.observe()
    assert _purge(database_url, cutoff, clock) == 0
    post_consent(client, {"action": "save"})
    keeper.observe()
    code, report = verify(database_url, heads)
    assert code == 0, problems(report)
    # the heads of sizes 3 and 4 are older than the tree's start after the purge (4 leaves
    # gone): they are checked by consistency proofs from the stored tiles.
    assert report["tree"]["witnessed"] == 4


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_c21_a_purge_that_removed_more_than_it_says_is_named(
    client: TestClient, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    heads = tmp_path / "heads.jsonl"
    keeper = three_accepted(client, heads, clock)
    keeper.observe()
    clock.advance(3600)
    cutoff = clock.datetime()
    clock.advance(3600)
    keeper.observe()  # at cut-off + 1 h the log still had 3 leaves
    clock.advance(86400)
    for _ in range(2):
        post_consent(client, {"action": "reject-all"})  # rows 4 and 5, a day after the cut-off
    keeper.observe()
    # An operator with the key purges everything but claims the earlier cut-off: the
    # checkpoint is signed like any other (the store signs it), and the chain is valid.
    assert _purge(database_url, "2999-01-01", clock) == 0
    db = RawDb(database_url)
    try:
        [[detail]] = db.execute("SELECT detail FROM consent_events WHERE action = 'checkpoint'")
    finally:
        db.close()
    assert json.loads(detail)["tree_prefix_size"] == 5
    # The lie itself needs the key: re-sign a checkpoint that names the earlier cut-off.
    _resign_checkpoint(database_url, format_time(cutoff))
    code, report = verify(database_url, heads)
    assert code == 1
    assert "it removed rows newer than it says" in problems(report)


def _resign_checkpoint(database_url: str, before: str) -> None:
    """As the key's holder would: replace the checkpoint's cut-off, re-hash, re-sign."""
    rows = stored_rows(database_url)
    [checkpoint] = [r for r in rows if r.action == "checkpoint"]
    detail = dict(checkpoint.detail or {})
    lied = link(
        replace(_event(checkpoint), detail={**detail, "before": before}),
        checkpoint.seq,
        checkpoint.prev_hash,
        checkpoint.leaf_index,
    )
    tree = Frontier(
        int(detail["tree_prefix_size"]), [bytes.fromhex(h) for h in detail["tree_prefix"]]
    )
    tree.append(row_leaf(lied))
    note = run_signer().sign("demo", tree.size, tree.root())
    db = RawDb(database_url)
    try:
        db.execute(
            "UPDATE consent_events SET detail = ?, hash = ? WHERE seq = ?",
            json.dumps(lied.detail, separators=(",", ":")),
            lied.hash,
            lied.seq,
            bypass_triggers=True,
        )
        db.execute(
            "UPDATE chain_heads SET hash = ?, frontier = ?, note = ? WHERE site_id = 'demo'",
            lied.hash,
            tree.encode(),
            note,
        )
    finally:
        db.close()


def test_the_service_never_signs_over_a_row_it_did_not_append(
    client: TestClient, watched: Path, database_url: str
) -> None:
    """A forged row that the next honest commit would cover: the store refuses to sign
    over it, so the consent is refused (503, nothing acknowledged) and the forgery stays
    outside every signed head."""
    rows = forge_tail(database_url)
    answer = post_consent(client, {"action": "accept-all"})
    assert answer.status_code == 503
    assert len(stored_rows(database_url)) == len(rows)  # the honest rows and the forged one
    code, report = verify(database_url, watched)
    assert code == 1 and "a forged tail" in problems(report)
