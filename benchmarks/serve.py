"""Run either app under exactly the same uvicorn settings: ``python -m benchmarks.serve kakor|bare PORT``."""

from __future__ import annotations

import sys

import uvicorn

from consent_service.settings import Settings

#: The server settings both apps get, as `consent-service serve` uses them.
UVICORN_OPTIONS = {
    "host": "127.0.0.1",
    "proxy_headers": True,
    "forwarded_allow_ips": "127.0.0.1",
    "access_log": False,
    "server_header": False,
    "log_level": "warning",
}


def main() -> None:
    """Start the named app on the given port."""
    which, port = sys.argv[1], int(sys.argv[2])
    if which == "kakor":
        from consent_service.app import create_app

        app = create_app(Settings.from_env())
    else:
        from benchmarks.bare_app import create_bare_app

        app = create_bare_app()
    uvicorn.run(app, port=port, **UVICORN_OPTIONS)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
