"""API fuzzing: schemathesis against the service's own ``/openapi.json``.

Every operation the document lists is fuzzed in-process (ASGI) against a fresh SQLite
database, with schema-conforming and schema-violating data. For every request:

* no 5xx (``not_a_server_error``);
* the status code, content type and body match the document;
* a request that was refused wrote no row, and a write that was answered 201 (or 200 on
  a withdrawal) wrote exactly one (C19: one record per event, nothing for a refusal).

``make test`` runs a short pass (``FUZZ_EXAMPLES``, default 12 per operation and mode);
``make fuzz`` a long one (``FUZZ_EXAMPLES=500``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from consent_service.audit.verify import verify_rows
from consent_service.cli import main as cli
from consent_service.settings import DEMO_CONFIG, Secret, Settings
from consent_service.store import open_store
from consent_service.web import openapi
from consent_service.web.app import create_app

from ..conftest import KEY, signed
from .conftest import sqlite_rows

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: Refusals schemathesis does not count as such by default (body timeout, size limits).
REFUSALS = ["408", "413", "431"]
#: (method, path) pairs whose success status means "one row was written".
_WRITES = {("POST", 201), ("DELETE", 200)}
#: Routes that are not part of the API document on purpose (static files).
_UNDOCUMENTED_PREFIXES = ("/demo/assets",)


_METHODS = ("get", "post", "put", "patch", "delete", "options", "head")


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the document, as the running app serves it."""
    doc = openapi.document()
    return [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in _METHODS
    ]


def _negatable(parameter: dict[str, Any]) -> bool:
    """True when a parameter other than the fixed site constrains its value.

    A free-form header such as ``Origin`` cannot be sent as anything but a string.
    """
    schema = parameter.get("schema", {})
    constrained = set(schema) - {"type", "description"} or schema.get("type") != "string"
    return parameter["name"] != "site" and bool(constrained)


def _fuzz_cases() -> list[Any]:
    """(method, path, mode, site): negative data only where there is something to break.

    A generated site id is almost never a configured one, so routes under a site run
    twice: with ``demo`` fixed (the route's real work is fuzzed) and with any id.
    """
    doc = openapi.document()
    cases = []
    for method, path in _operations():
        item = doc["paths"][path][method.lower()]
        sites: list[str | None] = ["demo", None] if "{site}" in path else [None]
        modes = [GenerationMode.POSITIVE]
        if item.get("requestBody") or any(map(_negatable, item.get("parameters", []))):
            modes.append(GenerationMode.NEGATIVE)
        for site in sites:
            for mode in modes:
                if site is None and "{site}" in path and mode is GenerationMode.NEGATIVE:
                    continue  # an invalid id is already covered by any generated id
                label = f"{method} {path} {mode.value}" + (f" site={site}" if site else "")
                cases.append(pytest.param(method, path, mode, site, id=label))
    return cases


def _fuzz_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "config_path": DEMO_CONFIG,
        "secret_keys": (Secret(KEY),),
        "rate_limit": 0,
        "demo": True,
    }
    values.update(overrides)
    return Settings(**values)


def _load(app: Starlette) -> Any:
    """The schema as the app serves it; a refusal may also be 408, 413 or 431 here."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, *REFUSALS]
    return schema


def _admin_token(url: str) -> str | None:
    """An officer token for ``demo`` from ``consent-service token create``, once that exists."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["token", "create", "--site", "demo", "--database", url, "--config", str(DEMO_CONFIG)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit:  # argparse: no such command in this code base
            return None
    found = re.search(r"kakor_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", out.getvalue())
    return found.group(0) if found else None


@pytest.fixture
def fuzz_app(tmp_path: Path) -> Iterator[tuple[Starlette, str, str | None]]:
    """The demo app on a fresh database (and an admin token when the admin API exists).

    The app's lifespan runs in schemathesis' ASGI loop and is shut down afterwards.
    """
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    token = _admin_token(url)
    app = create_app(_fuzz_settings(database_url=url))
    yield app, url, token
    schemathesis_asgi.shutdown_lifespans()


def test_every_route_is_documented() -> None:
    """A route the document does not list would never be fuzzed: that is a finding."""
    app = create_app(_fuzz_settings(database_url="sqlite:///:memory:"))
    operations = _operations()
    documented = {path for _, path in operations}
    missing = []
    for route in app.routes:
        if isinstance(route, Mount) and route.path.startswith(_UNDOCUMENTED_PREFIXES):
            continue
        assert isinstance(route, Route), route
        if route.path not in documented:
            missing.append(f"{route.path} is served but not in /openapi.json")
            continue
        methods = {m for m in (route.methods or ()) if m != "HEAD"}
        listed = {m for m, p in operations if p == route.path}
        if methods - listed:
            missing.append(f"{route.path}: {sorted(methods - listed)} not in /openapi.json")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize(("method", "path", "mode", "site"), _fuzz_cases())
def test_fuzz(
    method: str,
    path: str,
    mode: GenerationMode,
    site: str | None,
    fuzz_app: tuple[Starlette, str, str | None],
) -> None:
    """No 5xx, answers match the document, and rows are written only for accepted writes.

    Admin routes are called with an officer token when the admin API exists, so their
    real work is fuzzed rather than only the 401.
    """
    app, url, token = fuzz_app
    if path.startswith("/admin/v1/") and token is None:
        pytest.fail("an admin route is documented but `consent-service token create` is missing")
    auth = {"Authorization": f"Bearer {token}"} if path.startswith("/admin/v1/") else None
    schema = _load(app)
    operation = schema[path][method]
    seen: list[int] = []

    fixed = {"site": site} if site else None

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_RANDOM") != "1",
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        before = sqlite_rows(url)
        response = case.call(headers=auth)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=auth)
        written = sqlite_rows(url) - before
        expected = 1 if (method, response.status_code) in _WRITES else 0
        assert written == expected, (
            f"{method} {path} answered {response.status_code} and wrote {written} row(s)"
        )

    run()
    assert seen, "no request was sent"


def test_fuzzed_log_still_verifies(fuzz_app: tuple[Starlette, str, str | None]) -> None:
    """After a fuzz run of the consent route, the hash chain is intact (C22)."""
    app, url, _ = fuzz_app
    schema = _load(app)
    operation = schema["/v1/sites/{site}/consent"]["POST"]

    @given(case=operation.as_strategy(path_parameters={"site": "demo"}))
    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True)
    def run(case: Any) -> None:
        case.validate_response(case.call(), checks=CHECKS)

    run()
    schemathesis_asgi.shutdown_lifespans()

    async def verify() -> dict[str, Any]:
        store = signed(open_store(url))
        await store.open()
        try:
            return (await verify_rows(store.iter_rows())).to_dict()
        finally:
            await store.close()

    result = asyncio.run(verify())
    assert result["ok"], result
