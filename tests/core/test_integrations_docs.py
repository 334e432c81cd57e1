"""docs/integrations.md runs: every code example, in order, against tokens the service signed.

Each example is marked ``<!-- example: NAME -->``; the Python ones run in one namespace
(as a reader would paste them, one after another) under a fixed clock, each followed by
its check here; the JavaScript one runs under Node with ``Date.now`` fixed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory, override_settings
from starlette.testclient import TestClient

from consent_service.client import remote as remote_module
from consent_service.client.django import ConsentMiddleware
from consent_service.settings import Secret

from ..client import test_django  # configures Django for this process, once
from ..client.signed import CONFIG, NEW, NOW, OLD, SITE, STATISTICS_ONLY, sign
from ..conftest import ON_CI

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations.md"
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)```", re.S)
del test_django


def examples() -> list[tuple[str, str, str]]:
    """(name, language, code) of every marked example, in page order."""
    return EXAMPLE.findall(PAGE.read_text(encoding="utf-8"))


def test_every_python_and_node_example_is_marked() -> None:
    text = PAGE.read_text(encoding="utf-8")
    fenced = re.findall(r"^```(python|js)$", text, re.M)
    # The window.kakor block is the widget's browser API (run by the browser tests).
    assert len(examples()) == len(fenced) - 1
    assert [name for name, _, _ in examples()] == [
        "reader",
        "starlette",
        "django",
        "flask",
        "remote",
        "node",
        "format",
    ]


def _reader(ns: dict[str, Any], cookie: str) -> None:
    assert ns["consent"] is not None and ns["consent"].allows("statistics")
    assert ns["reader"].read(sign(OLD, at=NOW - 60)) is not None  # rotation
    assert ns["reader"].read(sign(NEW, site="other-site")) is None


def _starlette(ns: dict[str, Any], cookie: str) -> None:
    client = TestClient(ns["app"])
    assert client.get("/").text == "without statistics"
    client.cookies.set("consent", cookie)
    assert client.get("/").text == "with statistics"


def _django(ns: dict[str, Any], cookie: str) -> None:
    assert "consent_service.client.django.ConsentMiddleware" in ns["MIDDLEWARE"]
    with override_settings(KAKOR_CONSENT_READER=ns["reader"]):
        middleware = ConsentMiddleware(ns["home"])
    factory = RequestFactory()
    assert middleware(factory.get("/")).content == b"without statistics"
    assert middleware(factory.get("/", HTTP_COOKIE=f"consent={cookie}")).content == (
        b"with statistics"
    )


def _flask(ns: dict[str, Any], cookie: str) -> None:
    client = ns["app"].test_client()
    assert client.get("/").text == "without statistics"
    client.set_cookie("consent", cookie)
    assert client.get("/").text == "with statistics"


def _remote(ns: dict[str, Any], cookie: str) -> None:
    assert ns["consent"] is not None and ns["consent"].allows("statistics")


def _format(ns: dict[str, Any], cookie: str) -> None:
    made = ns["sign"](NEW, "demo", "consent-id-1", SITE.policy_version, STATISTICS_ONLY, int(NOW))
    assert made == sign(NEW) == cookie


CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "reader": _reader,
    "starlette": _starlette,
    "django": _django,
    "flask": _flask,
    "remote": _remote,
    "format": _format,
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the examples are not about the store."""
    return f"sqlite:///{tmp_path / 'kakor.db'}"


def test_the_python_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_client: Callable[..., TestClient]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kakor-config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    monkeypatch.setenv("CONSENT_SECRET_KEYS", f"{NEW},{OLD}")
    monkeypatch.setattr(time, "time", lambda: NOW)  # the examples' readers use the default clock
    # The remote example's service: the real app, in-process, with the same keys and clock.
    service = make_client(secret_keys=(Secret(NEW), Secret(OLD)))

    def fetch(url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        service.cookies.clear()
        answer = service.get(url.replace("https://consent.example.se", ""), headers=dict(headers))
        return answer.status_code, answer.content

    monkeypatch.setattr(remote_module, "urllib_fetch", lambda timeout: fetch)
    ns: dict[str, Any] = {"__name__": "docs_example", "cookie_value": sign(NEW)}
    ran = []
    for name, language, code in examples():
        if language != "python":
            continue
        exec(compile(code, f"{PAGE}:{name}", "exec"), ns)  # noqa: S102 (our own docs)
        CHECKS[name](ns, sign(NEW))
        ran.append(name)
    assert ran == list(CHECKS)


def test_the_node_example_runs(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if ON_CI:
            pytest.fail("node is needed to run the JavaScript example under CI")
        pytest.skip("node is not installed")
    (code,) = [code for _, language, code in examples() if language == "js"]
    shutil.copy(ROOT / "sdk" / "js" / "kakor-token.mjs", tmp_path)
    (tmp_path / "example.mjs").write_text(code, encoding="utf-8")
    (tmp_path / "kakor-config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    script = (
        f"Date.now = () => {NOW * 1000};"
        "const { consentOf } = await import('./example.mjs');"
        "const ask = (cookie) => consentOf(new Request('https://site.example/', "
        "{ headers: cookie ? { cookie } : {} }));"
        "const c = await ask(`a=1; consent=${process.argv[1]}`);"
        "console.log(JSON.stringify([c.allows('statistics'), c.allowsService('video'),"
        " await ask(null), await ask('consent=forged.x.y')]));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script, sign(OLD)],
        cwd=tmp_path,
        env={**os.environ, "CONSENT_SECRET_KEYS": f"{NEW},{OLD}"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == [True, False, None, None]
