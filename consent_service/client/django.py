"""Django: the visitor's verified consent as ``request.consent``.

Add ``"consent_service.client.django.ConsentMiddleware"`` to ``MIDDLEWARE`` and set
``KAKOR_CONSENT_READER`` to a reader (a :class:`~consent_service.client.ConsentReader`
or :class:`~consent_service.client.RemoteConsentReader`) or the dotted path of one.
Imports Django, so only a Django project imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from consent_service.client.reader import Reader


class ConsentMiddleware:
    """Sets ``request.consent`` (a Consent, or None for no consent) on every request."""

    # Django calls a sync middleware from a thread under ASGI: a remote reader may block.
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        configured = getattr(settings, "KAKOR_CONSENT_READER", None)
        if configured is None:
            raise ImproperlyConfigured("set KAKOR_CONSENT_READER to a kakor consent reader")
        self.reader: Reader = (
            import_string(configured) if isinstance(configured, str) else configured
        )

    def __call__(self, request: Any) -> Any:
        request.consent = self.reader.read_cookies(request.COOKIES)
        return self.get_response(request)
