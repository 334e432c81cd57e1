"""Properties of the consent token (C22: a forged, altered or foreign cookie is no consent)."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consent_service.consent.tokens import TokenSigner
from consent_service.settings import Secret

from ..conftest import FakeClock
from .strategies import PROPERTY

KEYS = (Secret("new-key-0123456789abcdef"), Secret("old-key-0123456789abcdef"))
DAY = 86400
YEAR = 365 * DAY

site_ids = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z")
consent_ids = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=30)
versions = st.from_regex(r"\A[A-Za-z0-9._-]{1,24}\Z")
masks = st.integers(min_value=0, max_value=(1 << 30) - 1)
token_chars = string.ascii_letters + string.digits + "-_.=+/ %"


def _signer(now: float = 1_795_000_000.0) -> tuple[TokenSigner, FakeClock]:
    clock = FakeClock(now)
    return TokenSigner(KEYS, clock=clock), clock


@PROPERTY
@given(site=site_ids, cid=consent_ids, version=versions, mask=masks)
def test_round_trip(site: str, cid: str, version: str, mask: int) -> None:
    """What is signed is what verifies: id, version, mask and the signing time."""
    signer, clock = _signer()
    token = signer.sign(site, cid, version, mask)
    got = signer.verify(site, token, YEAR)
    assert got is not None
    assert (got.consent_id, got.policy_version, got.mask, got.given_at) == (
        cid,
        version,
        mask,
        int(clock()),
    )
    assert len(token) < 200


@PROPERTY
@given(site=site_ids, cid=consent_ids, version=versions, mask=masks, data=st.data())
def test_every_single_character_mutation_is_rejected(
    site: str, cid: str, version: str, mask: int, data: Any
) -> None:
    """Changing any one character never yields a different consent, and never raises.

    (A base64 signature's last character has spare bits: a change there can decode to
    the same signature bytes, which is the same token, not a forgery.)
    """
    signer, _ = _signer()
    token = signer.sign(site, cid, version, mask)
    original = signer.verify(site, token, YEAR)
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    char = data.draw(st.sampled_from(token_chars).filter(lambda c: c != token[index]), label="char")
    mutated = token[:index] + char + token[index + 1 :]
    got = signer.verify(site, mutated, YEAR)
    assert got is None or got == original


@PROPERTY
@given(site=site_ids, cid=consent_ids, version=versions, mask=masks, data=st.data())
def test_every_truncation_and_extension_is_rejected(
    site: str, cid: str, version: str, mask: int, data: Any
) -> None:
    """A token cut short, or with anything appended or prepended, is no consent."""
    signer, _ = _signer()
    token = signer.sign(site, cid, version, mask)
    cut = data.draw(st.integers(0, len(token) - 1), label="cut")
    assert signer.verify(site, token[:cut], YEAR) is None
    junk = data.draw(st.text(token_chars, min_size=1, max_size=5), label="junk")
    assert signer.verify(site, junk + token, YEAR) is None
    assert signer.verify(site, token + junk, YEAR) is None or junk.startswith("=")


@PROPERTY
@given(value=st.text(max_size=600) | st.binary(max_size=100).map(lambda b: b.hex()))
def test_arbitrary_strings_are_no_consent(value: str) -> None:
    """Garbage, however long and whatever its characters, is None, never an exception."""
    signer, _ = _signer()
    assert signer.verify("demo", value, YEAR) is None


@PROPERTY
@given(a=site_ids, b=site_ids, cid=consent_ids, mask=masks)
def test_token_for_another_site_is_rejected(a: str, b: str, cid: str, mask: int) -> None:
    """Each site has its own salt: a token of site A is no consent on site B."""
    if a == b:
        return
    signer, _ = _signer()
    assert signer.verify(b, signer.sign(a, cid, "v1", mask), YEAR) is None


@PROPERTY
@given(max_age=st.integers(min_value=1, max_value=10 * YEAR), age=st.integers(0, 11 * YEAR))
def test_expiry_follows_the_clock(max_age: int, age: int) -> None:
    """A token older than ``max_age`` seconds is no consent; a younger one verifies."""
    signer, clock = _signer()
    token = signer.sign("demo", "id", "v1", 1)
    clock.advance(age)
    got = signer.verify("demo", token, max_age)
    assert (got is not None) == (age <= max_age)


@PROPERTY
@given(ahead=st.integers(min_value=0, max_value=YEAR))
def test_token_from_the_future_is_rejected(ahead: int) -> None:
    """A token stamped more than five minutes ahead of the verifier's clock is refused."""
    future, _ = _signer(1_795_000_000.0 + ahead)
    now, _ = _signer()
    token = future.sign("demo", "id", "v1", 1)
    assert (now.verify("demo", token, YEAR) is not None) == (ahead <= 300)


@PROPERTY
@given(cid=consent_ids, mask=masks)
def test_rotation_accepts_old_keys_until_dropped(cid: str, mask: int) -> None:
    """Keys rotate newest first: an old key still verifies, a dropped one does not."""
    clock = FakeClock()
    old = TokenSigner(KEYS[1:], clock=clock)
    token = old.sign("demo", cid, "v1", mask)
    assert TokenSigner(KEYS, clock=clock).verify("demo", token, YEAR) is not None
    assert TokenSigner(KEYS[:1], clock=clock).verify("demo", token, YEAR) is None


@PROPERTY
@given(cid=st.text(max_size=30), version=st.text(max_size=24), mask=masks)
def test_the_payload_is_compact_json_of_whatever_is_signed(
    cid: str, version: str, mask: int
) -> None:
    """Any consent ID and version round-trip, the payload being exactly json.dumps' compact form."""
    import base64
    import json

    signer, _ = _signer()
    token = signer.sign("demo", cid, version, mask)
    encoded = token.split(".")[0]
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert (
        payload == json.dumps({"i": cid, "v": version, "c": mask}, separators=(",", ":")).encode()
    )
    got = signer.verify("demo", token, YEAR)
    assert got is not None and (got.consent_id, got.policy_version, got.mask) == (
        cid,
        version,
        mask,
    )
