"""Django: ``request.consent`` through ``MIDDLEWARE``, from real signed tokens."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:  # one configuration per process: these tests' own
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-key-not-kakor's",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["consent_service.client.django.ConsentMiddleware"],
        KAKOR_CONSENT_READER=f"{__name__}.READER",
        USE_TZ=True,
    )
    django.setup()

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from consent_service.client.django import ConsentMiddleware

from .signed import CASES, Case, described, expected, reader

#: The reader ``KAKOR_CONSENT_READER`` names by its dotted path.
READER = reader()


def page(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"consent": described(request.consent)})


urlpatterns = [path("", page)]


@pytest.mark.parametrize("case", CASES)
def test_c22_request_consent_by_dotted_path(case: Case) -> None:
    client = Client()
    if case.cookie is not None:
        client.cookies["consent"] = case.cookie
    assert client.get("/").json() == {"consent": expected(case)}


@pytest.mark.parametrize("case", CASES[:3])
def test_the_reader_may_be_the_object_itself(case: Case) -> None:
    with override_settings(KAKOR_CONSENT_READER=reader()):
        client = Client()
        client.cookies["consent"] = case.cookie or ""
        assert client.get("/").json() == {"consent": expected(case)}


def test_no_reader_configured_is_a_clear_error() -> None:
    def respond(request: Any) -> HttpResponse:
        return HttpResponse()

    with (
        override_settings(KAKOR_CONSENT_READER=None),
        pytest.raises(ImproperlyConfigured, match="KAKOR_CONSENT_READER"),
    ):
        ConsentMiddleware(respond)
