"""The site configuration: every site, its categories, services, cookies and texts.

- :mod:`.rules`: what the site file may say (id shapes, required texts) and
  :class:`ConfigError`;
- :mod:`.values`: typed readers of its values;
- :mod:`.loader`: :func:`load_sites` and :func:`parse_sites`, which validate it;
- :mod:`.model`: :class:`Site` and :class:`SiteRegistry`, what the service uses.
"""

from consent_service.sites.loader import load_sites, parse_sites
from consent_service.sites.model import Category, Cookie, Service, Site, SiteRegistry
from consent_service.sites.rules import CATEGORY_ID, ORIGIN, TEXT_KEYS, ConfigError

__all__ = [
    "CATEGORY_ID",
    "ORIGIN",
    "TEXT_KEYS",
    "Category",
    "ConfigError",
    "Cookie",
    "Service",
    "Site",
    "SiteRegistry",
    "load_sites",
    "parse_sites",
]
