"""Run either app under exactly the settings `consent-service serve` uses.

``python -m benchmarks.serve kakor|bare PORT``: the options come from
:func:`consent_service.cli.server_options`, so the baseline runs on the same server
configuration (parser, limits, proxy handling) as the service does by default.
"""

from __future__ import annotations

import sys

import uvicorn

from consent_service.cli import server_options
from consent_service.settings import Settings


def main() -> None:
    """Start the named app on the given port."""
    which, port = sys.argv[1], int(sys.argv[2])
    settings = Settings.from_env()
    options = {**server_options(settings, "127.0.0.1", port), "log_level": "warning"}
    if which == "kakor":
        from consent_service.app import create_app

        app = create_app(settings)
    else:
        from benchmarks.bare_app import create_bare_app

        app = create_bare_app()
    uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
