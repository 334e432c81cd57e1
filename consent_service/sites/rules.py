"""What the site file may say: the shapes of ids, languages, origins, lifetimes, texts."""

from __future__ import annotations

import re

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
POLICY_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,24}$")
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.*\-]{1,64}$")
COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9.\-]+")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$")
#: A service's source for the CSP: http(s) or ws(s), optionally ``*.`` for every subdomain.
SERVICE_ORIGIN = re.compile(r"^(https?|wss?)://(\*\.)?[A-Za-z0-9.\-]+(:\d{1,5})?$")
#: Where a service processes its data, as the declaration says it.
DATA_LOCATIONS = ("eu", "third-country")
#: A global a vendor call names: a plain JavaScript identifier.
JS_GLOBAL = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")
LIFETIME = re.compile(r"^(session|\d{1,4}(min|h|d|mo|y))$")

#: Banner texts every language must give.
TEXT_KEYS = (
    "title",
    "description",
    "purposes",
    "accept_all",
    "reject_all",
    "settings",
    "save",
    "settings_title",
    "settings_description",
    "language_switch",
    "consent_id",
    "consent_date",
    "saved",
    "declaration_link",
)
CONSENT_MODE_SIGNALS = ("analytics_storage", "ad_storage", "ad_user_data", "ad_personalization")
SITE_KEYS = {
    "name",
    "origins",
    "languages",
    "default_language",
    "policy_version",
    "consent_lifetime_days",
    "cookie_name",
    "cookie_domain",
    "reopen_button",
    "rate_limit",
    "ip_mode",
    "google_consent_mode",
    "texts",
    "categories",
    "retention_days",
    "scan",
}
LEGITIMATE_INTEREST = {"legitimate-interest", "legitimate_interest", "legitimate interest"}


class ConfigError(ValueError):
    """The configuration file is invalid; the message names the key and the problem."""
