"""Proof of one consent: its whole history, the texts shown, and its place in the chain (C19, C22)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from consent_service.audit import merkle
from consent_service.audit.canonical import canonical_json
from consent_service.audit.events import ROW_FIELDS
from consent_service.audit.heads import Verifier, verify_head
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites

from ..rawdb import RawDb
from .conftest import bearer, tamper


def test_c19_lookup_returns_the_whole_history_with_proof_and_texts(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token("demo")
    first = admin_client.post(
        "/v1/sites/demo/consent", json={"action": "accept-all", "language": "en"}
    ).json()
    admin_client.delete("/v1/sites/demo/consent")  # same visitor: the cookie is carried
    answer = admin_client.get(
        f"/admin/v1/sites/demo/consents/{first['consent_id']}", headers=bearer(token)
    )
    assert answer.status_code == 200
    proof = answer.json()
    assert proof["verified"] is True
    assert [r["action"] for r in proof["rows"]] == ["accept-all", "withdraw"]
    for row in proof["rows"]:
        assert set(ROW_FIELDS) <= set(row)
        assert row["consent_id"] == first["consent_id"]
        assert row["proof"] == {"hash_ok": True, "linked": True, "followed": True, "verified": True}
    assert proof["rows"][0]["choices"] == first["choices"]
    site = load_sites(DEMO_CONFIG).get("demo")
    shown = proof["texts"][proof["rows"][0]["texts_hash"]]
    assert shown["language"] == "en"
    assert shown["texts"] == site.shown_texts("en")
    assert shown["texts_hash"] == site.texts_hash("en")
    assert shown["hash_ok"] is True and shown["problem"] is None


def test_c19_c22_edited_texts_fail_the_proof(
    admin_client: TestClient,
    make_token: Callable[..., str],
    raw_db: RawDb,
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    """The proof hashes the stored texts again; a rewritten banner text shows (issue 16)."""
    token = make_token("demo")
    made = seed()
    url = f"/admin/v1/sites/demo/consents/{made[0]['consent_id']}"
    before = admin_client.get(url, headers=bearer(token)).json()
    [texts_hash] = before["texts"]
    tamper(
        raw_db,
        "UPDATE consent_texts SET texts = ? WHERE texts_hash = ?",
        '{"texts": {"title": "Vi sparar inget"}, "categories": []}',
        texts_hash,
    )
    proof = admin_client.get(url, headers=bearer(token)).json()
    assert proof["verified"] is False
    assert proof["texts"][texts_hash]["hash_ok"] is False
    assert proof["texts"][texts_hash]["problem"].startswith("edited")
    assert all(row["proof"]["verified"] for row in proof["rows"])  # the rows are intact


def test_lookup_of_an_unknown_consent_is_404_and_still_logged(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token("demo")
    answer = admin_client.get("/admin/v1/sites/demo/consents/nope", headers=bearer(token))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "no_such_consent"
    log = admin_client.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()
    assert [(e["action"], e["detail"]) for e in log["entries"]] == [
        ("lookup", {"consent_id": "nope"})
    ]


def test_c22_a_tampered_row_fails_its_proof(
    admin_client: TestClient,
    make_token: Callable[..., str],
    raw_db: RawDb,
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo")
    made = seed()
    target = made[1]  # a reject-all, edited into an acceptance
    tamper(
        raw_db,
        "UPDATE consent_events SET choices = ? WHERE consent_id = ?",
        '{"necessary":true,"statistics":true,"third-party":true}',
        target["consent_id"],
    )
    proof = admin_client.get(
        f"/admin/v1/sites/demo/consents/{target['consent_id']}", headers=bearer(token)
    ).json()
    assert proof["verified"] is False
    assert proof["rows"][0]["proof"]["hash_ok"] is False
    untouched = admin_client.get(
        f"/admin/v1/sites/demo/consents/{made[3]['consent_id']}", headers=bearer(token)
    ).json()
    assert untouched["verified"] is True


def test_c22_a_deleted_neighbour_shows_in_the_proof(
    admin_client: TestClient,
    make_token: Callable[..., str],
    raw_db: RawDb,
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo")
    made = seed()
    tamper(raw_db, "DELETE FROM consent_events WHERE consent_id = ?", made[1]["consent_id"])
    before = admin_client.get(
        f"/admin/v1/sites/demo/consents/{made[0]['consent_id']}", headers=bearer(token)
    ).json()
    after = admin_client.get(
        f"/admin/v1/sites/demo/consents/{made[2]['consent_id']}", headers=bearer(token)
    ).json()
    assert before["rows"][0]["proof"]["followed"] is False
    assert after["rows"][0]["proof"]["linked"] is False


def test_c22_the_proof_places_each_row_under_the_signed_head(
    admin_client: TestClient, make_token: Callable[..., str], raw_db: RawDb
) -> None:
    """Issue 16: every row's leaf, its inclusion proof and the signed head, checkable by
    anyone with the answer and the log's public key alone."""
    token = make_token("demo")
    first = admin_client.post("/v1/sites/demo/consent", json={"action": "accept-all"}).json()
    for action in ("save", "reject-all"):
        admin_client.post("/v1/sites/demo/consent", json={"action": action})
    url = f"/admin/v1/sites/demo/consents/{first['consent_id']}"
    proof = admin_client.get(url, headers=bearer(token)).json()
    tree = proof["tree"]
    assert proof["verified"] is True and tree["verified"] is True
    keys = admin_client.get("/v1/sites/demo/log/key").json()["keys"]
    head = verify_head(tree["head"]["checkpoint"], [Verifier.from_vkey(k["vkey"]) for k in keys])
    assert head.checkpoint.size == 3
    for row, leaf in zip(proof["rows"], tree["leaves"], strict=True):
        assert leaf["seq"] == row["seq"]
        content = {k: v for k, v in row.items() if k not in ("prev_hash", "hash", "proof")}
        if content.get("detail") is None:
            content.pop("detail", None)
        mine = merkle.leaf_hash(canonical_json(content))
        assert base64.b64encode(mine).decode() == leaf["leaf_hash"]
        path = [base64.b64decode(h) for h in leaf["inclusion"]]
        assert merkle.verify_inclusion(
            mine, leaf["leaf_index"], head.checkpoint.size, path, head.checkpoint.root_hash
        )
    # A row edited in place no longer hashes to a leaf of the signed tree.
    tamper(raw_db, "UPDATE consent_events SET page = 'https://evil.example/' WHERE seq = 1")
    edited = admin_client.get(url, headers=bearer(token)).json()
    assert edited["tree"]["leaves"][0]["included"] is False
    assert edited["verified"] is False
