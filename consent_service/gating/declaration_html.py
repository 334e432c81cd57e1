"""The cookie declaration as HTML: a standalone page, or one ``<section>`` for the site's own page.

Every text from the config goes through :func:`html.escape`, attributes included, so a
name or purpose holding markup is shown as text; the markup around them is small and
fixed, and a template engine's autoescape would write other entities (``&#34;`` for
``&quot;``). No script, so the page works under the strict CSP of every HTML page.
"""

from __future__ import annotations

from html import escape

from consent_service.gating.declaration_data import lifetime_text
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
