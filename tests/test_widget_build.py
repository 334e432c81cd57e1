"""The built widget: committed output matches a fresh build, and it stays small.

The widget is built with Node.js (``make widget``), but the service only reads
the committed ``consent_service/widget/static/widget.js``; these tests keep the two
honest. Without Node.js they skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import brotli
import pytest

from consent_service.consent.rules import decode_mask
from consent_service.consent.tokens import TokenSigner
from consent_service.settings import DEMO_CONFIG, Secret
from consent_service.sites import load_sites
from consent_service.widget.route import PLACEHOLDER, WIDGET_FILE, render

ROOT = Path(__file__).resolve().parent.parent
WIDGET_DIR = ROOT / "widget"
ON_CI = os.environ.get("CI", "").lower() == "true"
BUDGET = 6 * 1024  # bytes of brotli for widget.js with the demo config: JS and CSS together


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if ON_CI:
            pytest.fail("node is needed to check the widget build under CI")
        pytest.skip("node is not installed")
    if not (WIDGET_DIR / "node_modules" / "esbuild").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=WIDGET_DIR, check=True, timeout=300
        )
    return node


def demo_widget() -> bytes:
    """widget.js as the service serves it for the demo site."""
    site = load_sites(DEMO_CONFIG).get("demo")
    return render(
        WIDGET_FILE.read_text(encoding="utf-8"), site.public_config("http://127.0.0.1:8000")
    )


def test_committed_widget_is_a_fresh_build(tmp_path: Path) -> None:
    out = tmp_path / "widget.js"
    subprocess.run(
        [_node(), "build.mjs", "--out", str(out)], cwd=WIDGET_DIR, check=True, timeout=120
    )
    assert out.read_bytes() == WIDGET_FILE.read_bytes(), "run `make widget` and commit the result"


def test_placeholder_occurs_once() -> None:
    assert WIDGET_FILE.read_text(encoding="utf-8").count(PLACEHOLDER) == 1


def test_widget_with_demo_config_fits_the_budget() -> None:
    size = len(brotli.compress(demo_widget(), quality=11))
    assert size <= BUDGET, f"widget.js with config is {size} B brotli, budget {BUDGET} B"


def test_no_eval_or_html_parsing_in_the_bundle() -> None:
    """Strict CSP: no eval/new Function; no innerHTML anywhere (text is set as text)."""
    code = WIDGET_FILE.read_text(encoding="utf-8")
    for banned in (
        "eval(",
        "new Function",
        "Function(",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ):
        assert banned not in code, banned


def test_rendered_widget_parses_as_javascript(tmp_path: Path) -> None:
    """The inlined config leaves valid JS (node --check parses without running)."""
    node = _node()
    path = tmp_path / "served.js"
    path.write_bytes(demo_widget())
    subprocess.run([node, "--check", str(path)], check=True, timeout=60)


def test_widget_unit_tests_pass() -> None:
    """The pure modules' own tests (widget/test, node:test)."""
    subprocess.run([_node(), "--test", "test/"], cwd=WIDGET_DIR, check=True, timeout=120)


@pytest.mark.parametrize("mask", [0, 1, 2, 3])
def test_widget_reads_the_tokens_the_service_signs(mask: int) -> None:
    """The cookie contract across languages: what tokens.py signs, token.js and
    state.js read back as the same consent ID, policy version, time and choices."""
    site = load_sites(DEMO_CONFIG).get("demo")
    signer = TokenSigner([Secret("k" * 32)], clock=lambda: 1_795_000_123.0)
    token = signer.sign("demo", "consent-id-1", site.policy_version, mask)
    script = (
        "import { parseToken } from './src/token.js';"
        "import { restore } from './src/state.js';"
        "const [config, token] = [JSON.parse(process.argv[1]), process.argv[2]];"
        "const t = parseToken(token);"
        "console.log(JSON.stringify({ t, c: restore(config, t, 1795000200 * 1000) }));"
    )
    config = site.public_config("http://127.0.0.1:8000")
    out = subprocess.run(
        [_node(), "--input-type=module", "-e", script, json.dumps(config), token],
        cwd=WIDGET_DIR,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    read = json.loads(out)
    assert read["t"] == {
        "id": "consent-id-1",
        "version": site.policy_version,
        "bits": mask,
        "given": 1_795_000_123,
    }
    assert read["c"]["decided"] is True
    assert read["c"]["choices"] == {"necessary": True, **(decode_mask(site, mask) or {})}


def test_the_js_sdk_verifies_as_the_python_reader_does() -> None:
    """sdk/js/kakor-token.mjs against tokens the service's signer made (fixed clock): the
    same answer as consent_service.client for every case, rotation, expiry, another
    site's, forged and old-policy tokens among them (C22)."""
    from .client.signed import BY_NAME, CONFIG, NEW, NOW, OLD, described, reader

    cookies = [case.cookie for case in BY_NAME.values()]
    script = (
        "import { createReader, cookieValue } from './sdk/js/kakor-token.mjs';"
        "const [config, keys, cookies] = process.argv.slice(1).map(JSON.parse);"
        f"const reader = createReader(config, keys, {{ now: () => {NOW} }});"
        "const out = [];"
        "for (const c of cookies) {"
        "  const v = cookieValue(c === null ? '' : `a=b; ${reader.cookieName}=${c}`, 'consent');"
        "  const k = await reader.read(v);"
        "  out.push(k && { consent_id: k.consentId, statistics: k.allows('statistics'),"
        "    'third-party': k.allows('third-party'), matomo: k.allowsService('matomo'),"
        "    video: k.allowsService('video') });"
        "}"
        "console.log(JSON.stringify(out));"
    )
    out = subprocess.run(
        [_node(), "--input-type=module", "-e", script]
        + [json.dumps(v) for v in (CONFIG, [NEW, OLD], cookies)],
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out) == [described(reader().read(c)) for c in cookies]
    assert sum(answer is not None for answer in json.loads(out)) == 3  # the cases that verify
