"""Read a visitor's verified consent where the site's own code runs.

``from consent_service.client import ConsentReader`` needs only itsdangerous: nothing
here imports Starlette, the stores or the service's settings (a test imports it with
those blocked). The framework middleware lives in its own modules,
:mod:`consent_service.client.starlette`, :mod:`~consent_service.client.django` and
:mod:`~consent_service.client.flask`, each importing only its own framework.
"""

from consent_service.client.consent import Consent
from consent_service.client.reader import ConsentReader, Reader
from consent_service.client.remote import RemoteConsentReader
from consent_service.client.site import CategoryTerms, SiteTerms

__all__ = [
    "CategoryTerms",
    "Consent",
    "ConsentReader",
    "Reader",
    "RemoteConsentReader",
    "SiteTerms",
]
