"""The cookie declaration: every category, service and cookie of a site, from its config (C2, C7).

``GET /v1/sites/{site}/declaration?lang=sv`` answers a standalone HTML page, the bare
``<section>`` with ``?format=fragment`` (for server-side includes in the site's own
privacy page), or JSON with ``Accept: application/json`` or ``?format=json``. The page
may be framed by the site's own origins. Every text from the config is HTML-escaped.
"""

from __future__ import annotations

import hashlib
import json
import re
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_service.gating.gate import service_origins
from consent_service.sites import Category, Cookie, Service, Site
from consent_service.web.errors import InvalidField
from consent_service.web.pages import HTML_CSP, html_headers
from consent_service.web.state import get_state

FORMATS = ("html", "fragment", "json")

#: The declaration's own headings; a site language without an entry here uses English.
LABELS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Kakor (cookies) på {site}",
        "intro": "Här är alla kakor och tjänster som webbplatsen kan använda, per kategori.",
        "policy": "Policyversion",
        "required": "Alltid aktiva",
        "optional": "Kräver ditt samtycke",
        "cookies": "Kakor som {service} sätter",
        "name": "Namn",
        "provider": "Leverantör",
        "purpose": "Syfte",
        "lifetime": "Livslängd",
        "no_cookies": "Sätter inga kakor.",
        "origins": "Hämtar innehåll från",
        "change": "Ändra dina val",
    },
    "en": {
        "title": "Cookies on {site}",
        "intro": "These are all the cookies and services the website may use, by category.",
        "policy": "Policy version",
        "required": "Always active",
        "optional": "Needs your consent",
        "cookies": "Cookies set by {service}",
        "name": "Name",
        "provider": "Provider",
        "purpose": "Purpose",
        "lifetime": "Lifetime",
        "no_cookies": "Sets no cookies.",
        "origins": "Loads content from",
        "change": "Change your choices",
    },
}

#: Lifetime units, singular and plural, per language.
UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "sv": {
        "min": ("minut", "minuter"),
        "h": ("timme", "timmar"),
        "d": ("dag", "dagar"),
        "mo": ("månad", "månader"),
        "y": ("år", "år"),
    },
    "en": {
        "min": ("minute", "minutes"),
        "h": ("hour", "hours"),
        "d": ("day", "days"),
        "mo": ("month", "months"),
        "y": ("year", "years"),
    },
}
SESSION = {"sv": "Sessionen", "en": "Session"}
_LIFETIME = re.compile(r"^(\d+)(min|h|d|mo|y)$")


def lifetime_text(lifetime: str, language: str) -> str:
    """A config lifetime in words: ``"13mo"`` → ``"13 månader"`` / ``"13 months"``."""
    lang = language if language in UNITS else "en"
    if lifetime == "session":
        return SESSION[lang]
    match = _LIFETIME.match(lifetime)
    if match is None:
        return lifetime
    number, unit = int(match[1]), match[2]
    singular, plural = UNITS[lang][unit]
    return f"{number} {singular if number == 1 else plural}"


def declaration_data(site: Site, language: str) -> dict[str, Any]:
    """The declaration as plain data in one language (what the JSON format answers)."""
    return {
        "site": site.id,
        "name": site.name,
        "language": language,
        "policy_version": site.policy_version,
        "categories": [
            {
                "id": c.id,
                "required": c.required,
                "title": c.texts[language]["title"],
                "description": c.texts[language]["description"],
                "services": [_service_data(s, language) for s in c.services],
            }
            for c in site.categories
        ],
    }


def _service_data(service: Service, language: str) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service.name,
        "provider": service.provider,
        "origins": list(service_origins(service)),
        "cookies": [
            {
                "name": k.name,
                "provider": k.provider,
                "purpose": k.purpose[language],
                "lifetime": k.lifetime,
                "lifetime_text": lifetime_text(k.lifetime, language),
            }
            for k in service.cookies
        ],
    }


def render_section(site: Site, language: str, *, settings_link: bool = False) -> str:
    """The declaration as one ``<section>``; with ``settings_link``, a ``data-consent-open`` link."""
    labels = LABELS.get(language, LABELS["en"])
    out = [
        f'<section class="kakor-declaration" lang="{escape(language)}" '
        'aria-labelledby="kakor-declaration-title">',
        f'<h2 id="kakor-declaration-title">{escape(labels["title"].format(site=site.name))}</h2>',
        f"<p>{escape(labels['intro'])} {escape(site.texts[language]['purposes'])}</p>",
        f"<p>{escape(labels['policy'])}: {escape(site.policy_version)}</p>",
    ]
    if settings_link:
        out.append(f'<p><a href="#" data-consent-open>{escape(labels["change"])}</a></p>')
    out += [_render_category(c, language, labels) for c in site.categories]
    out.append("</section>")
    return "\n".join(out)


def _render_category(category: Category, language: str, labels: dict[str, str]) -> str:
    texts = category.texts[language]
    status = labels["required"] if category.required else labels["optional"]
    out = [
        f'<section class="kakor-category" id="kakor-category-{escape(category.id)}">',
        f"<h3>{escape(texts['title'])} <small>({escape(status)})</small></h3>",
        f"<p>{escape(texts['description'])}</p>",
    ]
    for service in category.services:
        out.append(_render_service(service, language, labels))
    out.append("</section>")
    return "\n".join(out)


def _render_service(service: Service, language: str, labels: dict[str, str]) -> str:
    out = [f"<h4>{escape(service.name)} — {escape(service.provider)}</h4>"]
    origins = service_origins(service)
    if origins:
        out.append(f"<p>{escape(labels['origins'])}: {escape(', '.join(origins))}</p>")
    if not service.cookies:
        out.append(f"<p>{escape(labels['no_cookies'])}</p>")
        return "\n".join(out)
    head = "".join(
        f'<th scope="col">{escape(labels[key])}</th>'
        for key in ("name", "provider", "purpose", "lifetime")
    )
    out += [
        "<table>",
        f"<caption>{escape(labels['cookies'].format(service=service.name))}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *(_render_cookie(k, language) for k in service.cookies),
        "</tbody>",
        "</table>",
    ]
    return "\n".join(out)


def _render_cookie(cookie: Cookie, language: str) -> str:
    cells = [
        f'<th scope="row"><code>{escape(cookie.name)}</code></th>',
        f"<td>{escape(cookie.provider)}</td>",
        f"<td>{escape(cookie.purpose[language])}</td>",
        f"<td>{escape(lifetime_text(cookie.lifetime, language))}</td>",
    ]
    return f"<tr>{''.join(cells)}</tr>"


def render_page(site: Site, language: str) -> str:
    """The standalone HTML page around :func:`render_section`."""
    title = LABELS.get(language, LABELS["en"])["title"].format(site=site.name)
    return (
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n"
        f"{render_section(site, language)}\n</main>\n</body>\n</html>\n"
    )


def frame_headers(site: Site) -> dict[str, str]:
    """:func:`~consent_service.web.pages.html_headers`, but the site's origins may frame the page."""
    ancestors = ["'self'", *(o for o in site.origins if o != "self")]
    csp = HTML_CSP.replace("frame-ancestors 'self'", "frame-ancestors " + " ".join(ancestors))
    headers = html_headers(csp)
    if len(ancestors) > 1:
        # X-Frame-Options cannot list origins; frame-ancestors governs framing instead.
        del headers["X-Frame-Options"]
    return headers


def _format(request: Request) -> str:
    value = request.query_params.get("format")
    if value is not None:
        if value not in FORMATS:
            raise InvalidField("format", f"must be one of {', '.join(FORMATS)}")
        return value
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return "json"
    return "html"


def _language(site: Site, request: Request) -> str:
    value = request.query_params.get("lang")
    if value is None:
        return site.default_language
    if value not in site.languages:
        raise InvalidField("lang", f"must be one of {', '.join(site.languages)}")
    return value


async def declaration(request: Request) -> Response:
    """``GET /v1/sites/{site}/declaration``: the cookie declaration as HTML, fragment or JSON."""
    site = get_state(request).sites.get(request.path_params["site"])
    language = _language(site, request)
    fmt = _format(request)
    if fmt == "json":
        body = json.dumps(declaration_data(site, language), ensure_ascii=False).encode()
        media_type = "application/json"
        headers: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
    else:
        if fmt == "fragment":
            text = render_section(site, language, settings_link=True)
        else:
            text = render_page(site, language)
        body = text.encode()
        media_type = "text/html; charset=utf-8"
        headers = frame_headers(site)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers.update(
        {
            "ETag": etag,
            "Cache-Control": "public, max-age=300",
            "Vary": "Accept",
            "Access-Control-Allow-Origin": "*",
            "Content-Language": language,
        }
    )
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def routes() -> list[Route]:
    """The declaration route."""
    return [Route("/v1/sites/{site}/declaration", declaration, methods=["GET"])]
