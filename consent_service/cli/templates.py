"""``templates``: the bundled service templates, listed or shown whole.

``consent-service templates`` lists them (name, provider, where the data goes, its
cookies, whether it has consent calls); ``consent-service templates matomo`` prints
that template's TOML, to read before writing ``service = "matomo"`` in the site file
(:mod:`consent_service.sites.templates`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consent_service.sites import ConfigError
from consent_service.sites.templates import template, template_names, template_source


def add_commands(sub: Any) -> None:
    """Register ``templates``."""
    cmd = sub.add_parser(
        "templates",
        help="list the bundled service templates, or show one",
        description="Without NAME, list the service templates a site file can name with "
        'service = "NAME"; with NAME, print that template (TOML).',
    )
    cmd.add_argument("name", nargs="?", help="a template's name, e.g. matomo")
    cmd.set_defaults(func=cmd_templates)


def cmd_templates(args: argparse.Namespace) -> int:
    """``templates [NAME]``: exit 0, or 2 for an unknown name."""
    if args.name:
        try:
            print(template_source(args.name), end="")
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    rows = []
    for name in template_names():
        t = template(name)
        calls = "consent calls" if t.get("calls") else ""
        cookies = ", ".join(c["name"] for c in t["cookies"])
        rows.append((name, t["provider"], t.get("data_location", ""), cookies, calls))
    width = max(len(r[0]) for r in rows)
    for name, provider, location, cookies, calls in rows:
        print(
            f"{name:<{width}}  {provider} · {location} · {cookies}"
            + (f" · {calls}" if calls else "")
        )
    return 0
