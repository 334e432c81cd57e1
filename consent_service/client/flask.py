"""Flask: the visitor's verified consent as ``g.consent``.

``KakorConsent(reader, app)`` (or ``init_app(app)`` later, for an app factory) reads
the cookie before every request; a view then asks ``g.consent`` (a
:class:`~consent_service.client.Consent`, or None for no consent). Imports Flask, so
only a Flask app imports this module.
"""

from __future__ import annotations

from flask import Flask, g, request

from consent_service.client.reader import Reader


class KakorConsent:
    """The Flask extension: one reader for the app's requests."""

    def __init__(self, reader: Reader, app: Flask | None = None) -> None:
        self.reader = reader
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the consent before each of ``app``'s requests."""
        app.before_request(self._read)
        app.extensions["kakor_consent"] = self

    def _read(self) -> None:
        g.consent = self.reader.read_cookies(request.cookies)
