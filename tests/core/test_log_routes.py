"""The public log routes: signed heads, keys, inclusion and consistency proofs, receipts.

Issue 16. Everything a witness or a visitor fetches is checked here with the same
verifiers an outsider would use (RFC 9162 proofs, C2SP signed notes), never by
comparing with the service's own answer.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit import merkle
from consent_service.audit.heads import Verifier, verify_head
from consent_service.audit.receipts import ReceiptError, check_receipt

from ..conftest import post_consent

DECISION = {"action": "accept-all", "language": "sv", "widget_version": "1.0.0"}


def _head(client: TestClient) -> dict[str, Any]:
    answer = client.get("/v1/sites/demo/log/head")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "public, max-age=5"
    body: dict[str, Any] = answer.json()
    return body


def _verifiers(client: TestClient) -> list[Verifier]:
    keys = client.get("/v1/sites/demo/log/key").json()["keys"]
    return [Verifier.from_vkey(k["vkey"]) for k in keys]


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_every_decision_moves_the_signed_head_and_proofs_check(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    empty = _head(client)
    assert empty["tree_size"] == 0
    assert base64.b64decode(empty["root_hash"]) == merkle.EMPTY_ROOT
    heads = []
    for _ in range(5):
        assert post_consent(client, DECISION).status_code == 201
        heads.append(_head(client))
    assert [h["tree_size"] for h in heads] == [1, 2, 3, 4, 5]
    verifiers = _verifiers(client)
    for h in heads[-1:]:
        signed = verify_head(h["checkpoint"], verifiers)
        assert signed.checkpoint.size == h["tree_size"]
        assert signed.checkpoint.origin == "localhost/demo"
    newest = heads[-1]
    root = base64.b64decode(newest["root_hash"])
    for old in heads[:-1]:
        answer = client.get(f"/v1/sites/demo/log/consistency?from={old['tree_size']}&to=5")
        assert answer.status_code == 200
        proof = _b64(answer.json()["proof"])
        old_root = base64.b64decode(old["root_hash"])
        assert merkle.verify_consistency(old["tree_size"], 5, old_root, root, proof)
        assert not merkle.verify_consistency(old["tree_size"], 5, bytes(32), root, proof)


def test_a_receipt_is_signed_and_its_leaf_is_in_the_log(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    post_consent(client, DECISION)
    post_consent(client, {**DECISION, "action": "reject-all"})
    answer = client.get("/v1/sites/demo/receipt")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    receipt = check_receipt(document, _verifiers(client))
    assert receipt.row["action"] == "reject-all"
    head = _head(client)
    proof = client.get(
        f"/v1/sites/demo/log/inclusion?index={receipt.leaf_index}&size={head['tree_size']}"
    ).json()["proof"]
    assert merkle.verify_inclusion(
        receipt.leaf_hash,
        receipt.leaf_index,
        head["tree_size"],
        _b64(proof),
        base64.b64decode(head["root_hash"]),
    )
    forged = {**document, "receipt": {**document["receipt"]}}
    forged["receipt"]["row"] = {**forged["receipt"]["row"], "action": "accept-all"}
    with pytest.raises(ReceiptError, match="signature"):
        check_receipt(forged, _verifiers(client))


def test_bad_proof_requests_get_422_and_no_cookie_no_receipt(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    post_consent(client, DECISION)
    client.cookies.clear()
    for query in ("from=2&to=1", "from=0&to=9", "from=x&to=1", "to=1", "from=0&to=1&x=1"):
        answer = client.get(f"/v1/sites/demo/log/consistency?{query}")
        assert answer.status_code == 422, query
        assert set(answer.json()) == {"error"}
    assert client.get("/v1/sites/demo/log/inclusion?index=1&size=1").status_code == 422
    assert client.get("/v1/sites/demo/receipt").status_code == 404
    assert client.get("/v1/sites/nope/log/head").status_code == 404


def test_the_receipt_answers_the_widgets_preflight_from_a_listed_origin(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    origin = "http://localhost"  # the demo lists "self"
    answer = client.options(
        "/v1/sites/demo/receipt",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "kakor-token",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin
    assert "kakor-token" in answer.headers["access-control-allow-headers"].lower()
    unlisted = client.options("/v1/sites/demo/receipt", headers={"Origin": "https://evil.example"})
    assert unlisted.status_code == 403
    assert unlisted.json()["error"]["code"] == "origin_not_allowed"
