"""Flask: ``g.consent`` through the extension, from real signed tokens."""

from __future__ import annotations

import pytest
from flask import Flask, Response, g, jsonify

from consent_service.client import Reader
from consent_service.client.flask import KakorConsent

from .signed import CASES, Case, described, expected, reader


def make_app(site_reader: Reader, *, factory: bool = False) -> Flask:
    app = Flask(__name__)
    if factory:  # the app-factory way: the extension first, the app later
        KakorConsent(site_reader).init_app(app)
    else:
        KakorConsent(site_reader, app)

    @app.get("/")
    def page() -> Response:
        return jsonify({"consent": described(g.consent)})

    return app


@pytest.mark.parametrize("case", CASES)
def test_c22_g_consent(case: Case) -> None:
    client = make_app(reader()).test_client()
    if case.cookie is not None:
        client.set_cookie("consent", case.cookie)
    assert client.get("/").json == {"consent": expected(case)}


@pytest.mark.parametrize("case", CASES[:3])
def test_init_app_for_an_app_factory(case: Case) -> None:
    client = make_app(reader(), factory=True).test_client()
    client.set_cookie("consent", case.cookie or "")
    assert client.get("/").json == {"consent": expected(case)}
