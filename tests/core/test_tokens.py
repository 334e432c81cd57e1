"""Signed tokens: round-trip, key rotation, per-site salt, forgery and expiry (C22)."""

from __future__ import annotations

import re
import time

from consent_service.consent.tokens import TokenSigner, new_consent_id
from consent_service.settings import Secret

from ..conftest import FakeClock

OLD, NEW = Secret("old-key-0123456789abcdef"), Secret("new-key-0123456789abcdef")


def test_round_trip_and_small() -> None:
    clock = FakeClock()
    signer = TokenSigner([NEW], clock=clock)
    cid = new_consent_id()
    token = signer.sign("demo", cid, "x" * 24, (1 << 30) - 1)
    assert len(token) < 200
    content = signer.verify("demo", token, 3600)
    assert content is not None
    assert (content.consent_id, content.policy_version, content.mask) == (
        cid,
        "x" * 24,
        (1 << 30) - 1,
    )
    assert content.given_at == int(clock.now)


def test_c22_forged_and_cross_site_tokens_are_no_consent() -> None:
    signer = TokenSigner([NEW])
    token = signer.sign("demo", "abc", "v1", 1)
    payload, stamp, signature = token.split(".")
    forged = token.replace(payload, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"))
    assert signer.verify("demo", forged, 3600) is None
    assert signer.verify("demo", f"{payload}.{stamp}.{signature[::-1]}", 3600) is None
    assert signer.verify("other-site", token, 3600) is None
    assert signer.verify("demo", "", 3600) is None
    assert signer.verify("demo", "garbage", 3600) is None
    assert TokenSigner([OLD]).verify("demo", token, 3600) is None


def test_expired_token_is_no_consent() -> None:
    clock = FakeClock()
    signer = TokenSigner([NEW], clock=clock)
    token = signer.sign("demo", "abc", "v1", 1)
    clock.advance(3599)
    assert signer.verify("demo", token, 3600) is not None
    clock.advance(2)
    assert signer.verify("demo", token, 3600) is None


def test_key_rotation_newest_first_signs_old_still_verifies() -> None:
    old_token = TokenSigner([OLD]).sign("demo", "abc", "v1", 1)
    rotated = TokenSigner([NEW, OLD])
    assert rotated.verify("demo", old_token, 3600) is not None
    new_token = rotated.sign("demo", "abc", "v1", 1)
    assert TokenSigner([NEW]).verify("demo", new_token, 3600) is not None
    assert TokenSigner([OLD]).verify("demo", new_token, 3600) is None
    assert TokenSigner([NEW]).verify("demo", old_token, 3600) is None


def test_tokens_are_plain_itsdangerous_timestamp_tokens() -> None:
    """The derived-key cache and the keyed HMAC change nothing: plain itsdangerous agrees."""
    import hashlib

    from itsdangerous import TimestampSigner

    from consent_service.consent.tokens import SALT

    token = TokenSigner([NEW, OLD]).sign("demo", "abc", "v1", 3)
    plain = TimestampSigner(NEW.reveal(), salt=f"{SALT}:demo", digest_method=hashlib.sha256)
    assert plain.unsign(token).startswith(b"eyJ")
    older = TimestampSigner(OLD.reveal(), salt=f"{SALT}:demo", digest_method=hashlib.sha256)
    assert TokenSigner([NEW, OLD]).verify("demo", older.sign(token.split(".")[0]).decode(), 60)


def test_consent_ids_are_22_url_safe_characters_that_sort_by_creation() -> None:
    batches = []
    for _ in range(3):
        batches.append([new_consent_id() for _ in range(200)])
        time.sleep(0.003)
    ids = [cid for batch in batches for cid in batch]
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid) for cid in ids), ids[:3]
    assert len(set(ids)) == len(ids)
    assert max(batches[0]) < min(batches[1]) and max(batches[1]) < min(batches[2])


def test_a_consent_id_is_its_creation_millisecond_then_86_random_bits() -> None:
    import base64

    from consent_service.consent.tokens import _SORTABLE

    back = bytes.maketrans(
        _SORTABLE, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    )
    before = time.time_ns() // 1_000_000
    ids = [new_consent_id() for _ in range(64)]
    after = time.time_ns() // 1_000_000
    values = [
        int.from_bytes(base64.b64decode(cid.encode().translate(back) + b"=="), "big") for cid in ids
    ]
    assert all(before <= value >> 86 <= after for value in values)
    randoms = [value & (2**86 - 1) for value in values]
    assert len(set(randoms)) == len(randoms)
    assert max(randoms).bit_length() > 80  # the high random bits are used, not only the low
