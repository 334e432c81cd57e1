"""ConsentReader: the service's own verification, for the site's backend (C15, C22)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from consent_service.client import CategoryTerms, ConsentReader, SiteTerms

from ..conftest import KEY, FakeClock, post_consent
from .signed import CASES, CONFIG, NEW, NOW, SITE, Case, described, expected, reader, sign


@pytest.mark.parametrize("case", CASES)
def test_c22_reader_verifies_as_the_service_does(case: Case) -> None:
    """Rotation, expiry, another site's token, a forged one, an old policy version."""
    assert described(reader().read(case.cookie)) == expected(case)


def test_a_consent_says_when_it_was_given_and_lapses() -> None:
    consent = reader().read(sign(NEW, at=NOW - 10))
    assert consent is not None
    assert consent.given_at == datetime.fromtimestamp(NOW - 10, tz=UTC)
    assert (consent.expires_at - consent.given_at).days == SITE.consent_lifetime_days
    assert consent.policy_version == SITE.policy_version
    assert consent.choices == {"necessary": True, "statistics": True, "third-party": False}
    assert consent.allows("necessary") and not consent.allows("no-such-category")
    assert not consent.allows_service("no-such-service")
    assert consent.allows_service("kakor")  # a necessary service


def test_the_token_stays_out_of_reprs() -> None:
    """C18: the token is personal data; a log line of the consent does not carry it."""
    token = sign(NEW)
    consent = reader().read(token)
    assert consent is not None and consent.token == token
    assert token not in repr(consent)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the store is not the point
def test_reader_reads_what_the_running_service_signed(
    make_client: Callable[..., TestClient], clock: FakeClock
) -> None:
    """The whole way: POST a decision to the service, read its Set-Cookie with the keys."""
    client = make_client()
    answer = post_consent(client, {"action": "save", "choices": {"third-party": True}})
    assert answer.status_code == 201
    site_reader = ConsentReader.from_config(CONFIG, [KEY], clock=clock)
    consent = site_reader.read_cookies(dict(answer.cookies))
    assert consent is not None
    assert consent.consent_id == answer.json()["consent_id"]
    assert consent.allows("third-party") and not consent.allows("statistics")
    assert consent.allows_service("video") and not consent.allows_service("matomo")
    clock.advance(SITE.consent_lifetime_days * 86400 + 1)
    assert site_reader.read(answer.json()["token"]) is None


def test_terms_can_be_written_out_by_hand() -> None:
    terms = SiteTerms(
        id="demo",
        policy_version=SITE.policy_version,
        categories=(
            CategoryTerms("necessary", required=True, services=("kakor",)),
            CategoryTerms("statistics", services=("matomo",)),
            CategoryTerms("third-party", services=("video", "social")),
        ),
    )
    assert terms == SiteTerms.from_config(CONFIG)
    consent = ConsentReader(terms, [NEW], clock=lambda: NOW).read(sign(NEW, mask=2))
    assert consent is not None and consent.allows_service("social")


def test_a_config_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a kakor site config"):
        SiteTerms.from_config({"site": "demo"})
