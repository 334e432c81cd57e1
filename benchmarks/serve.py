"""Run one of the benchmark's servers: ``python -m benchmarks.serve APP PORT``.

``kakor`` is the service exactly as ``consent-service serve`` runs it
(:func:`consent_service.cli.main.server_options`: its protocol class with the header
limits, proxy headers, no access log), under ``CONSENT_HTTP_PARSER``. ``bare`` is
the baseline a user would reach for: a bare Starlette app under uvicorn's defaults
(httptools and uvloop when installed, as ``uvicorn[standard]`` has them), with the
access log off as the service's is (logging every request would only slow the
baseline). ``bare-h11`` is the same app on uvicorn's h11 parser, for the figures
reported beside the headline.
"""

from __future__ import annotations

import sys

import uvicorn

from consent_service.cli.serve import server_options
from consent_service.settings import Settings


def main() -> None:
    """Start the named app on the given port."""
    which, port = sys.argv[1], int(sys.argv[2])
    if which == "kakor":
        from consent_service.web.app import create_app

        settings = Settings.from_env()
        options = {**server_options(settings, "127.0.0.1", port), "log_level": "warning"}
        uvicorn.run(create_app(settings), **options)
        return
    from benchmarks.bare_app import create_bare_app

    app = create_bare_app()
    if which == "bare":  # uvicorn's defaults: http="auto" picks httptools
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    elif which == "bare-h11":
        uvicorn.run(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="h11"
        )
    else:
        sys.exit(f"no app {which!r}: kakor, bare or bare-h11")


if __name__ == "__main__":
    main()
