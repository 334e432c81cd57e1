"""A static site on ``localhost`` (another origin than the service on 127.0.0.1) for
the tests that need pages of their own: fixed pages, optional response headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from consent_service.settings import DEMO_CONFIG

from .conftest import Service, free_port, start_service, stop_service


class _Handler(SimpleHTTPRequestHandler):
    extra: ClassVar[dict[str, str]] = {}

    def end_headers(self) -> None:
        for name, value in self.extra.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site(
    root: Path,
    pages: dict[str, str],
    headers: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Serve ``pages`` (path → text) from ``root`` on ``port`` (a free one by default);
    yields the origin."""
    root.mkdir(parents=True, exist_ok=True)
    for path, text in pages.items():
        (root / path).write_text(text, encoding="utf-8")
    handler = type("Handler", (_Handler,), {"extra": dict(headers or {})})
    port = port or free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def service_for(workdir: Path, origin: str, extra: str = "") -> Iterator[Service]:
    """The demo site listing ``origin`` (and "self"), with ``extra`` TOML lines added to
    its ``[sites.demo]`` table."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace('origins = ["self"]', f'origins = ["self", "{origin}"]\n{extra}')
    config = workdir / "site.toml"
    config.write_text(text, encoding="utf-8")
    service = start_service(workdir, config)
    try:
        yield service
    finally:
        stop_service(service)
