"""Widget benchmark: kakor against CookieConsent v3 and orejime on the same demo page.

Serves three variants of the demo page (``consent_service/demo/page.html``) from one
local server, differing only in the consent tool, and loads each in Debian's
Chromium ``--runs`` times from a cold, fresh browser context, round-robin so drift
hits every tool alike. Reports medians of:

- bytes on the wire of the tool's own files (brotli where the browser accepts it),
  and how many requests the tool made;
- time until the banner is visible (first animation frame in which the banner's
  element has a box and is not hidden), from navigation start;
- main-thread script time of the tool's files, from a Chrome trace (CPU and wall);
- cumulative layout shift.

The competitors come from the npm registry at the versions pinned in
``benchmarks/package.json`` (``npm ci`` into ``benchmarks/node_modules``, ignored by
git). Nothing is fetched from anywhere else; every page is served on 127.0.0.1.

    python benchmarks/widget_bench.py --runs 10 --write docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import brotli
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent_service.gating.chromium import CHROMIUM_ARGS, DEFAULT_CHROMIUM  # noqa: E402
from consent_service.settings import DEMO_CONFIG, Settings  # noqa: E402
from consent_service.sites import Site, load_sites  # noqa: E402
from consent_service.widget import route as widget  # noqa: E402

HERE = Path(__file__).resolve().parent
DEMO = ROOT / "consent_service" / "demo"
MODULES = HERE / "node_modules"
CHROMIUM = DEFAULT_CHROMIUM

#: Per tool: the element that is "the banner", and the files that are the tool.
BANNERS = {
    "kakor": "kakor-consent >>> [role=dialog]",
    "CookieConsent v3": "#cc-main .cm",
    "orejime": ".orejime-Banner",
}
TOOL_PATHS = re.compile(r"/(v1/|vendor/|bench/)")
SCRIPT_EVENTS = {"EvaluateScript", "FunctionCall", "v8.compile"}
SETTLE_MS = 2000
#: Network profiles (CDP Network.emulateNetworkConditions). "slow-4g" is the
#: profile Lighthouse uses for mobile: 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up.
NETWORKS: dict[str, dict[str, Any]] = {
    "loopback": {},
    "slow-4g": {
        "offline": False,
        "latency": 150,
        "downloadThroughput": 1.6 * 1024 * 1024 / 8,
        "uploadThroughput": 750 * 1024 / 8,
    },
}

#: Runs in every document before anything else: finds the banner each frame.
PROBE = """
(() => {
  const sel = %s;
  const find = () => {
    if (sel.includes('>>>')) {
      const [host, inner] = sel.split('>>>').map(s => s.trim());
      const h = document.querySelector(host);
      return h && h.shadowRoot && h.shadowRoot.querySelector(inner);
    }
    return document.querySelector(sel);
  };
  window.__cls = 0;
  new PerformanceObserver(l => { for (const e of l.getEntries())
    if (!e.hadRecentInput) window.__cls += e.value; }).observe({type: 'layout-shift', buffered: true});
  const tick = () => {
    const el = find();
    if (el) {
      const r = el.getBoundingClientRect(), s = getComputedStyle(el);
      if (r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && +s.opacity > 0.5) {
        window.__bannerAt = performance.now();
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def ensure_competitors() -> None:
    """Install the pinned competitors from the npm registry, once."""
    if (MODULES / "orejime").is_dir() and (MODULES / "vanilla-cookieconsent").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)


def _gated(html: str, tool: str) -> str:
    """Rewrite the page's gated elements into each tool's own syntax."""
    if tool == "CookieConsent v3":
        return html.replace('data-consent="statistics"', 'data-category="statistics"').replace(
            "data-consent-open", 'data-cc="show-preferencesModal"'
        )
    if tool == "orejime":

        def wrap(m: re.Match[str]) -> str:
            tag = m.group(0).replace(' type="text/plain" data-consent="statistics"', "")
            tag = tag.replace("data-src=", "src=")
            return f'<template data-purpose="statistics">{tag}</template>'

        html = re.sub(
            r'<script type="text/plain" data-consent="statistics".*?</script>', wrap, html
        )
        return html.replace("data-consent-open", 'class="orejime-open"')
    return html


def variant(tool: str) -> str:
    """The demo page with ``tool`` as its consent tool."""
    html = (DEMO / "page.html").read_text(encoding="utf-8")
    kakor_tag = '<script src="{{WIDGET_SRC}}" defer></script>'
    if tool == "kakor":
        return html.replace("{{WIDGET_SRC}}", "/v1/sites/demo/widget.js")
    if tool == "CookieConsent v3":
        tags = (
            '<link rel="stylesheet" href="/vendor/vanilla-cookieconsent/dist/cookieconsent.css">\n'
            '<script src="/vendor/vanilla-cookieconsent/dist/cookieconsent.umd.js" defer></script>\n'
            '<script src="/bench/cookieconsent-init.js" defer></script>'
        )
    else:
        tags = (
            '<link rel="stylesheet" href="/vendor/orejime/dist/orejime-standard.css">\n'
            '<script src="/bench/orejime-config.js"></script>\n'
            '<script src="/vendor/orejime/dist/orejime-standard-sv.js" defer></script>'
        )
    return _gated(html.replace(kakor_tag, tags), tool)


def cookieconsent_init(site: Site) -> str:
    """CookieConsent v3 set up with the demo site's categories and Swedish texts."""
    t = site.texts["sv"]
    categories: dict[str, Any] = {
        c.id: {"enabled": c.required, "readOnly": c.required} for c in site.categories
    }
    sv = {
        "consentModal": {
            "title": t["title"],
            "description": t["description"] + " " + t["purposes"],
            "acceptAllBtn": t["accept_all"],
            "acceptNecessaryBtn": t["reject_all"],
            "showPreferencesBtn": t["settings"],
        },
        "preferencesModal": {
            "title": t["settings_title"],
            "acceptAllBtn": t["accept_all"],
            "acceptNecessaryBtn": t["reject_all"],
            "savePreferencesBtn": t["save"],
            "closeIconLabel": "Stäng",
            "sections": [
                {
                    "title": c.texts["sv"]["title"],
                    "description": c.texts["sv"]["description"],
                    "linkedCategory": c.id,
                }
                for c in site.categories
            ],
        },
    }
    config = {
        # Its default hides the banner from automated browsers, which would be us.
        "hideFromBots": False,
        "categories": categories,
        "language": {"default": "sv", "translations": {"sv": sv}},
        "guiOptions": {"consentModal": {"layout": "box", "position": "bottom center"}},
    }
    return f"CookieConsent.run({json.dumps(config, ensure_ascii=False)});\n"


def orejime_config(site: Site) -> str:
    """orejime set up with the demo site's categories and Swedish texts."""
    t = site.texts["sv"]
    purposes = [
        {
            "id": c.id,
            "title": c.texts["sv"]["title"],
            "description": c.texts["sv"]["description"],
            "isMandatory": c.required,
            "cookies": [k.name for s in c.services for k in s.cookies],
        }
        for c in site.categories
    ]
    config = {
        "privacyPolicyUrl": "/v1/sites/demo/declaration?lang=sv",
        "purposes": purposes,
        "translations": {"banner": {"title": t["title"], "description": t["description"]}},
    }
    return f"window.orejimeConfig = {json.dumps(config, ensure_ascii=False)};\n"


class Compressed:
    """Static bytes served with brotli when the browser accepts it (as a CDN would)."""

    def __init__(self, media_type: str, body: bytes) -> None:
        self.media_type = media_type
        self.body = body
        self.br = brotli.compress(body, quality=11)

    def response(self, request: Request) -> Response:
        if "br" in request.headers.get("accept-encoding", ""):
            return Response(
                self.br,
                media_type=self.media_type,
                headers={"Content-Encoding": "br", "Vary": "Accept-Encoding"},
            )
        return Response(self.body, media_type=self.media_type)


def build_app() -> Starlette:
    """One server for all three variants: pages, the real widget route, vendor files."""
    sites = load_sites(DEMO_CONFIG)
    site = sites.get("demo")
    pages = {
        "kakor": variant("kakor"),
        "cookieconsent": variant("CookieConsent v3"),
        "orejime": variant("orejime"),
    }
    files: dict[str, Compressed] = {
        "bench/cookieconsent-init.js": Compressed(
            "text/javascript", cookieconsent_init(site).encode()
        ),
        "bench/orejime-config.js": Compressed("text/javascript", orejime_config(site).encode()),
    }
    for rel in (
        "vanilla-cookieconsent/dist/cookieconsent.umd.js",
        "vanilla-cookieconsent/dist/cookieconsent.css",
        "orejime/dist/orejime-standard-sv.js",
        "orejime/dist/orejime-standard.css",
    ):
        kind = "text/css" if rel.endswith(".css") else "text/javascript"
        files["vendor/" + rel] = Compressed(kind, (MODULES / rel).read_bytes())

    async def page(request: Request) -> Response:
        return HTMLResponse(pages[request.path_params["tool"]])

    async def file(request: Request) -> Response:
        return files[request.url.path.lstrip("/")].response(request)

    app = Starlette(
        routes=[
            Route("/{tool:str}/", page),
            *widget.routes(),
            Route("/vendor/{path:path}", file),
            Route("/bench/{path:path}", file),
            Mount("/demo/assets", StaticFiles(directory=DEMO / "assets")),
        ]
    )
    # Served on 127.0.0.1, so the widget takes its base URL from Host: no setting needed.
    settings = Settings()
    app.state.kakor = SimpleNamespace(
        sites=sites, settings=settings, widgets=widget.WidgetCache.for_settings(settings, 1)
    )
    return app


def serve(app: Starlette) -> tuple[str, Callable[[], None]]:
    """Run ``app`` on a free localhost port in a thread; return its URL and a stopper."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


@dataclass
class Samples:
    """The measurements of one tool, one entry per cold load."""

    tool_bytes: list[int] = field(default_factory=list)
    tool_body: list[int] = field(default_factory=list)
    tool_requests: list[int] = field(default_factory=list)
    page_bytes: list[int] = field(default_factory=list)
    banner_ms: list[float] = field(default_factory=list)
    script_ms: list[float] = field(default_factory=list)
    script_wall_ms: list[float] = field(default_factory=list)
    cls: list[float] = field(default_factory=list)


def script_ms(trace: dict[str, Any] | list[Any]) -> tuple[float, float]:
    """Main-thread time of the tool's scripts in a Chrome trace, in ms: (CPU, wall).

    Counts the top-level ``EvaluateScript``, ``FunctionCall`` and ``v8.compile``
    events whose script is one of the tool's files, and the microtask checkpoints
    on the same thread (a tool that starts in a promise runs there), using each
    event's thread time (``tdur``, what the CPU spent) and its wall time (``dur``,
    which a busy machine inflates). Work nested in a counted event is counted
    once, with it.
    """
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    complete = [e for e in events if e.get("ph") == "X"]

    def url(e: dict[str, Any]) -> str:
        return str((e.get("args", {}).get("data") or {}).get("url", ""))

    threads = {
        (e["pid"], e["tid"])
        for e in complete
        if e["name"] == "EvaluateScript" and TOOL_PATHS.search(url(e))
    }
    counted = sorted(
        (
            e
            for e in complete
            if (e["pid"], e["tid"]) in threads
            and (
                e["name"] == "RunMicrotasks"
                or (e["name"] in SCRIPT_EVENTS and TOOL_PATHS.search(url(e)))
            )
        ),
        key=lambda e: (e["ts"], -e.get("dur", 0)),
    )
    cpu = wall = 0.0
    end: dict[tuple[int, int], float] = {}
    for e in counted:
        thread = (e["pid"], e["tid"])
        if e["ts"] < end.get(thread, 0):
            continue  # nested in an event already counted
        end[thread] = e["ts"] + e.get("dur", 0)
        cpu += e.get("tdur", e.get("dur", 0))
        wall += e.get("dur", 0)
    return cpu / 1000, wall / 1000


def _fresh_page(browser: Any, tool: str, network: str) -> tuple[Any, Any, Any]:
    """A cold context (no cache, no cookies) with the banner probe and the network profile."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_init_script(PROBE % json.dumps(BANNERS[tool]))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if network != "loopback":
        cdp.send("Network.emulateNetworkConditions", NETWORKS[network])
    return context, page, cdp


def timed_load(browser: Any, url: str, tool: str, into: Samples, network: str) -> None:
    """One cold load as a visitor sees it: bytes, requests, banner time, CLS."""
    context, page, cdp = _fresh_page(browser, tool, network)
    try:
        urls: dict[str, str] = {}
        sizes: dict[str, int] = {}
        headers: dict[str, int] = {}
        cdp.on(
            "Network.requestWillBeSent",
            lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]),
        )
        cdp.on(
            "Network.responseReceived",
            lambda e: headers.__setitem__(
                e["requestId"], int(e["response"].get("encodedDataLength", 0))
            ),
        )
        cdp.on(
            "Network.loadingFinished",
            lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
        )
        page.goto(url, wait_until="load")
        page.wait_for_timeout(SETTLE_MS)
        banner = page.evaluate("window.__bannerAt")
        if banner is None:
            raise RuntimeError(f"{tool}: no banner within {SETTLE_MS} ms of load")
        page.wait_for_load_state("networkidle")
        tool_ids = [rid for rid, u in urls.items() if TOOL_PATHS.search(u)]
        into.tool_bytes.append(sum(sizes.get(rid, 0) for rid in tool_ids))
        into.tool_body.append(sum(sizes.get(rid, 0) - headers.get(rid, 0) for rid in tool_ids))
        into.tool_requests.append(len(tool_ids))
        into.page_bytes.append(sum(sizes.values()))
        into.banner_ms.append(float(banner))
        into.cls.append(float(page.evaluate("window.__cls")))
    finally:
        context.close()


def traced_load(browser: Any, url: str, tool: str, into: Samples, network: str) -> None:
    """One cold load under a Chrome trace, for script time only (tracing slows pages)."""
    context, page, _ = _fresh_page(browser, tool, network)
    try:
        browser.start_tracing(page=page, categories=["devtools.timeline"])
        page.goto(url, wait_until="load")
        # Let the tool finish without running any script of ours in the page.
        page.wait_for_timeout(SETTLE_MS)
        cpu, wall = script_ms(json.loads(browser.stop_tracing()))
        into.script_ms.append(cpu)
        into.script_wall_ms.append(wall)
    finally:
        context.close()


def load_once(browser: Any, url: str, tool: str, into: Samples, network: str) -> None:
    """A timed load and a traced load, each cold."""
    timed_load(browser, url, tool, into, network)
    traced_load(browser, url, tool, into, network)


def run(runs: int, network: str = "loopback") -> dict[str, Samples]:
    """Measure every tool ``runs`` times, round-robin."""
    from playwright.sync_api import sync_playwright

    ensure_competitors()
    base, stop = serve(build_app())
    paths = {"kakor": "/kakor/", "CookieConsent v3": "/cookieconsent/", "orejime": "/orejime/"}
    results = {tool: Samples() for tool in paths}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            try:
                for tool, path in paths.items():  # one warm-up each, not counted
                    load_once(browser, base + path, tool, Samples(), network)
                for _ in range(runs):
                    for tool, path in paths.items():
                        load_once(browser, base + path, tool, results[tool], network)
            finally:
                browser.close()
    finally:
        stop()
    return results


def table(results: dict[str, Samples], runs: int) -> str:
    """The results as a markdown table, with the banner-time comparison under it."""
    med = statistics.median
    lines = [
        "| tool | tool bytes, body (br) | tool bytes on the wire | tool requests "
        "| page bytes | banner visible (ms) | main-thread script, CPU (ms) "
        "| main-thread script, wall (ms) | CLS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, s in results.items():
        lines.append(
            f"| {tool} | {med(s.tool_body):,.0f} | {med(s.tool_bytes):,.0f} "
            f"| {med(s.tool_requests):.0f} | {med(s.page_bytes):,.0f} | {med(s.banner_ms):.1f} "
            f"| {med(s.script_ms):.1f} | {med(s.script_wall_ms):.1f} | {max(s.cls):.3f} |"
        )
    kakor = med(results["kakor"].banner_ms)
    best_tool, best = min(
        ((t, med(s.banner_ms)) for t, s in results.items() if t != "kakor"), key=lambda x: x[1]
    )
    lines += [
        "",
        f"Medians of {runs} cold loads per tool (CLS: the worst load). The banner was visible "
        f"{100 * (1 - kakor / best):.0f} % sooner with kakor than with the faster competitor "
        f"({best_tool}, {best:.1f} ms vs {kakor:.1f} ms).",
    ]
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    """Put ``body`` under the "## Widget" heading of ``path``, keeping other sections."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    section = "## Widget\n\n" + body.strip() + "\n"
    pattern = re.compile(r"^## Widget\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="cold loads per tool (default 10)")
    parser.add_argument(
        "--network",
        action="append",
        choices=sorted(NETWORKS),
        help="network profile; repeat for several (default: loopback)",
    )
    parser.add_argument("--write", type=Path, help="also write the tables into this markdown file")
    args = parser.parse_args()
    reports = []
    load_before = os.getloadavg()[0]
    for network in args.network or ["loopback"]:
        report = f"### Network: {network}\n\n" + table(run(args.runs, network), args.runs)
        print(report + "\n", flush=True)
        reports.append(report)
    loads = (load_before, os.getloadavg()[0])
    if args.write:
        write_section(args.write, _section("\n\n".join(reports), args, loads))
    return 0


def _section(report: str, args: argparse.Namespace, loads: tuple[float, float]) -> str:
    version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        "How the widget compares with orestbida's CookieConsent v3 (npm "
        "`vanilla-cookieconsent` 3.1.0) and orejime (npm `orejime` 3.2.1) on the same demo "
        "page, served by one local server, in the same run.\n\n" + report + "\n\n"
        "Command (from the repository root, after `make install`):\n\n"
        "```sh\n"
        ".venv/bin/python benchmarks/widget_bench.py "
        + f"--runs {args.runs} "
        + "".join(f"--network {n} " for n in args.network or ["loopback"])
        + "--write docs/performance.md\n"
        "```\n\n"
        f"Machine: 2 cores, {version or 'Chromium'} headless, every load in a fresh "
        "browser context (cold cache). *loopback* is the raw local network; *slow-4g* "
        "is Lighthouse's mobile profile (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up) "
        "emulated by Chrome. The machine's 1-minute load average was "
        f"{loads[0]:.1f} when the run started and {loads[1]:.1f} when it ended (other jobs "
        "share it): wall times move with that, CPU times much less.\n\n"
        "What is measured:\n\n"
        "- *tool bytes*: the encoded (brotli) bytes of the tool's own requests: for kakor "
        "`widget.js` with the site config inlined, as the real route serves it; for the "
        "others their JS, CSS and a small init file carrying the same Swedish texts and "
        "three categories. *Page bytes* is everything the first visit fetched.\n"
        "- *banner visible*: `performance.now()` at the first animation frame in which the "
        "banner element has a box and is not hidden (from navigation start).\n"
        "- *main-thread script*: from a Chrome trace of a separate cold load (tracing "
        "slows a page, so that load times nothing else): the top-level `EvaluateScript`, "
        "`FunctionCall` and `v8.compile` events of the tool's own files plus the microtask "
        "checkpoints on that thread, as CPU time (`tdur`) and as wall time (`dur`, which "
        "the other jobs on a shared machine inflate). The page runs no other script "
        "before consent.\n"
        "- *CLS*: the sum of `layout-shift` entries without recent input.\n\n"
        "The page is the same for all three; only the consent tool's tags and the gated "
        "elements' attributes differ (each tool's own syntax). The variants are served "
        "without a CSP so the competitors are not penalised; kakor's own page runs under "
        "the strict CSP in the browser tests.\n"
    )


if __name__ == "__main__":
    sys.exit(main())
