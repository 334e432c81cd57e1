"""The cookie declaration as HTML: a standalone page, or one ``<section>`` for the site's own page.

Every text from the config goes through :func:`html.escape`, attributes included, so a
name or purpose holding markup is shown as text; the markup around them is small and
fixed, and a template engine's autoescape would write other entities (``&#34;`` for
``&quot;``). No script, so the page works under the strict CSP of every HTML page.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from consent_service.gating.declaration_data import data_location_text, lifetime_text
from consent_service.gating.gate import service_origins
from consent_service.sites import Category, Cookie, Service, Site

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
        "back": "Tillbaka till webbplatsen",
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
        "back": "Back to the website",
    },
}


#: The standalone page's only style (admitted by its hash, :data:`STYLE_CSP`): wide
#: tables scroll inside themselves, so the page never scrolls sideways at 320 px.
STYLE = (
    "body{max-width:60rem;margin:0 auto;padding:0 1rem;font:1rem/1.5 system-ui,sans-serif;"
    "overflow-wrap:anywhere}table{display:block;overflow-x:auto;max-width:100%}"
    "nav a{display:inline-block;margin:0 1rem .5rem 0;padding:.5rem 0}"
)
STYLE_CSP = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"


def render_section(
    site: Site, language: str, *, settings_link: bool = False, heading: str = "h2"
) -> str:
    """The declaration as one ``<section>``; with ``settings_link``, a ``data-consent-open`` link."""
    labels = LABELS.get(language, LABELS["en"])
    title = escape(labels["title"].format(site=site.name))
    out = [
        f'<section class="kakor-declaration" lang="{escape(language)}" '
        'aria-labelledby="kakor-declaration-title">',
        f'<{heading} id="kakor-declaration-title">{title}</{heading}>',
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
    location = data_location_text(service.data_location, language)
    if location:
        out.append(f"<p>{escape(location)}</p>")
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


def render_page(site: Site, language: str, back: str | None = None) -> str:
    """The standalone HTML page around :func:`render_section`, titled by an ``h1``.

    ``back`` is the site page the visitor came from (an origin the site lists): the
    page links back to it, and to it with ``#kakor-settings``, which makes the widget
    there open its settings ("change your choices").
    """
    labels = LABELS.get(language, LABELS["en"])
    title = labels["title"].format(site=site.name)
    nav = ""
    if back:
        url = escape(back.split("#", 1)[0])
        nav = (
            f'<nav><a href="{url}">{escape(labels["back"])}</a>'
            f'<a href="{url}#kakor-settings">{escape(labels["change"])}</a></nav>\n'
        )
    return (
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{nav}<main>\n"
        f"{render_section(site, language, heading='h1')}\n</main>\n</body>\n</html>\n"
    )
