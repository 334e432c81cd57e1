"""The shipped nginx and Caddy snippets really put the visitor's CSP on the site's pages.

Each test runs the real proxy with the snippet from ``docs/proxy/`` (only addresses
replaced), a real kakor (``consent-service serve``) and a small website upstream that
sends a permissive CSP of its own, which the proxy must replace. Needs ``nginx`` /
``caddy`` on PATH (Debian: ``apt-get install nginx-light caddy``, which ``make test``
does); skipped without them, except under ``CI=true``, where a missing proxy fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..conftest import KEY, ON_CI
from .servers import Processes, free_port, http_get
from .test_csp import NECESSARY_ONLY, VIDEO, policy

DOCS = Path(__file__).resolve().parents[2] / "docs" / "proxy"
PAGE = b"<!doctype html><title>Nyheter</title><h1>Nyheter</h1>"


class _Website(BaseHTTPRequestHandler):
    """The site's own application: it sends a permissive CSP and remembers request headers."""

    seen: list[dict[str, str]] = []  # noqa: RUF012 - the test reads what the upstream saw

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", "default-src * 'unsafe-inline'")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Callable[[str], int]]:
    """Factory: kakor + website + the named proxy with its snippet; the proxy's port."""
    procs = Processes(tmp_path)
    website = ThreadingHTTPServer(("127.0.0.1", 0), _Website)
    _Website.seen = []
    threading.Thread(target=website.serve_forever, daemon=True).start()
    web_port = website.server_address[1]

    def start(proxy: str) -> int:
        exe = shutil.which(proxy)
        if exe is None:
            message = f"{proxy} is not installed (apt-get install nginx-light caddy)"
            if ON_CI:
                pytest.fail(message)
            pytest.skip(message)
        kakor_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        env["CONSENT_SECRET_KEYS"] = KEY
        env["CONSENT_RATE_LIMIT"] = "0"
        service = shutil.which("consent-service", path=str(Path(sys.executable).parent))
        assert service
        procs.start(
            [
                service,
                "serve",
                "--port",
                str(kakor_port),
                "--database",
                f"sqlite:///{tmp_path / 'k.db'}",
            ],
            kakor_port,
            probe="/healthz",
            env=env,
        )
        port = free_port()
        if proxy == "nginx":
            _nginx(procs, tmp_path, exe, port, kakor_port, web_port)
        else:
            _caddy(procs, tmp_path, exe, port, kakor_port, web_port)
        return port

    yield start
    procs.stop()
    website.shutdown()
    website.server_close()


def _nginx(procs: Processes, tmp: Path, exe: str, port: int, kakor: int, web: int) -> None:
    snippet = (DOCS / "nginx-csp.conf").read_text()
    snippet = snippet.replace("127.0.0.1:8000", f"127.0.0.1:{kakor}").replace(
        "127.0.0.1:8080", f"127.0.0.1:{web}"
    )
    snippet = snippet.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temp = "\n".join(
        f"    {d}_temp_path {tmp}/{d};"
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.getuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}pid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n{snippet}\n}}\n"
    )
    command = [exe, "-p", str(tmp), "-c", str(conf), "-e", f"{tmp}/nginx-error.log"]
    check = procs.run_check([*command, "-t"])
    assert "syntax is ok" in check, check
    procs.start([*command, "-g", "daemon off;"], port)


def _caddy(procs: Processes, tmp: Path, exe: str, port: int, kakor: int, web: int) -> None:
    snippet = (DOCS / "Caddyfile").read_text()
    snippet = snippet.replace("127.0.0.1:8000", f"127.0.0.1:{kakor}").replace(
        "127.0.0.1:8080", f"127.0.0.1:{web}"
    )
    snippet = snippet.replace("www.example.se {", f"http://127.0.0.1:{port} {{")
    conf = tmp / "Caddyfile"
    conf.write_text("{\n\tadmin off\n\tauto_https off\n}\n\n" + snippet)
    env = {**os.environ, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
    check = procs.run_check(
        [exe, "validate", "--config", str(conf), "--adapter", "caddyfile"], env=env
    )
    assert "Valid configuration" in check, check
    procs.start([exe, "run", "--config", str(conf), "--adapter", "caddyfile"], port, env=env)


def _page_csp(port: int, cookie: str | None = None, method: str = "GET") -> list[str]:
    headers = {"Cookie": f"consent={cookie}"} if cookie else {}
    status, answer, body = http_get(
        port, "/nyheter", headers=headers, method=method, body=b"" if method == "POST" else None
    )
    assert status == 200, (status, body[:500])
    assert body == PAGE
    return answer.get_all("Content-Security-Policy") or []


def _consent(port: int, action: str) -> str:
    """Decide through the proxy, as the widget on the page would; the token it returns."""
    status, _, body = http_get(
        port,
        "/v1/sites/demo/consent",
        headers={"Content-Type": "application/json"},
        method="POST",
        body=json.dumps({"action": action}).encode(),
    )
    assert status == 201, body
    token: str = json.loads(body)["token"]
    return token


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_the_snippet_puts_the_visitors_policy_on_every_page(
    stack: Callable[[str], int], proxy: str
) -> None:
    port = stack(proxy)
    # No choice yet: necessary-only, and the website's permissive policy is gone (C1).
    assert _page_csp(port) == [NECESSARY_ONLY]
    # A visitor cannot widen their policy with the proxy's own header.
    status, answer, _ = http_get(
        port, "/nyheter", headers={"Kakor-Widget-Origin": "https://evil.example"}
    )
    assert answer.get_all("Content-Security-Policy") == [NECESSARY_ONLY]
    # A forged cookie is no consent (C22).
    assert _page_csp(port, "eyJpIjoieCJ9.AAAA.forged") == [NECESSARY_ONLY]
    accepted = _consent(port, "accept-all")
    assert _page_csp(port, accepted) == [policy(VIDEO)]
    assert _page_csp(port, accepted, method="POST") == [policy(VIDEO)]
    refused = _consent(port, "reject-all")
    assert _page_csp(port, refused) == [NECESSARY_ONLY]
    # The website never sees a policy header smuggled into its request.
    assert all("content-security-policy" not in seen for seen in _Website.seen)
    # The consent API itself is reachable through the same origin (the widget's 'self').
    status, _, _ = http_get(port, "/v1/sites/demo/config")
    assert status == 200
