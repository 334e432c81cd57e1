"""``consent-service receipt verify``: offline with a key, against a real server's log,
and every way a receipt or its input can be wrong (issue 16).

One real ``serve`` process for the module: the command reaches the log over HTTP as a
visitor's would, with the standard library's client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consent_service.audit.canonical import canonical_json
from consent_service.audit.heads import LogKey
from consent_service.audit.merkle import leaf_hash
from consent_service.cli.main import main

from ..reliability.server import Server, running

DECISION = {"action": "accept-all", "language": "sv", "widget_version": "1.0.0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    where = tmp_path_factory.mktemp("receipt-cli")
    with running(f"sqlite:///{where / 'k.db'}", where / "server.log") as live:
        yield live


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    """A receipt of a visitor's second decision, with another visitor's row after it."""
    with httpx.Client(base_url=server.base_url) as visitor:
        url = "/v1/sites/demo/consent"
        assert visitor.post(url, json=DECISION).status_code == 201
        assert visitor.post(url, json={**DECISION, "action": "reject-all"}).status_code == 201
        answer = visitor.get("/v1/sites/demo/receipt")
        assert answer.status_code == 200, answer.text
    httpx.post(server.base_url + url, json=DECISION).raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
def vkey(server: Server) -> str:
    keys = httpx.get(server.base_url + "/v1/sites/demo/log/key").json()["keys"]
    value: str = keys[0]["vkey"]
    return value


def _file(tmp_path: Path, content: Any, name: str = "kvitto.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["receipt", "verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_offline_with_the_log_key_verifies(
    tmp_path: Path, document: dict[str, Any], vkey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _verify(capsys, str(_file(tmp_path, document)), "--key", vkey)
    assert code == 0, out
    assert "action: reject-all" in out
    assert "signature: verified" in out and "key from --key" in out
    assert "log: not checked" in out
    assert out.rstrip().endswith("verified")


def test_with_the_log_the_row_is_under_its_newest_signed_head(
    tmp_path: Path, server: Server, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_file(tmp_path, document))
    code, out, _ = _verify(capsys, path, "--log", server.base_url, "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["ok"] is True
    assert result["checks"]["signature"].startswith("verified")
    assert "key from the log" in result["checks"]["signature"]
    # A decision came after the receipt's: the head checked is later than its row.
    assert result["head"]["size"] > document["receipt"]["leaf_index"] + 1
    assert result["checks"]["inclusion"].startswith("verified")


def test_without_a_key_only_the_leaf_is_checked_and_it_says_so(
    tmp_path: Path, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _verify(capsys, str(_file(tmp_path, document)))
    assert code == 1
    assert "leaf: ok" in out
    assert "signature: NOT CHECKED" in out
    assert "not verified: the signature was not checked" in out


def test_a_key_that_did_not_sign_it_fails(
    tmp_path: Path, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    other = LogKey.generate("localhost/demo").vkey()
    code, out, _ = _verify(capsys, str(_file(tmp_path, document)), "--key", other)
    assert code == 1
    assert "not verified: the signature does not verify" in out


def test_an_edited_row_fails_with_or_without_a_key(
    tmp_path: Path,
    server: Server,
    document: dict[str, Any],
    vkey: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {**document["receipt"], "row": {**document["receipt"]["row"], "action": "accept-all"}}
    path = str(_file(tmp_path, {**document, "receipt": body}))
    for extra in ([], ["--key", vkey], ["--log", server.base_url]):
        code, out, _ = _verify(capsys, path, *extra)
        assert code == 1, extra
        assert "the row was edited" in out
    # The row and its leaf hash edited together: only the signature shows it.
    leaf = base64.b64encode(leaf_hash(canonical_json(body["row"]))).decode()
    forged = {**document, "receipt": {**body, "leaf_hash": leaf}}
    code, out, _ = _verify(capsys, str(_file(tmp_path, forged)), "--key", vkey)
    assert code == 1
    assert "the signature does not verify" in out


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (None, 2, "cannot read"),
        ("{not json", 2, "is not JSON"),
        ("\xff\xfe", 2, "is not JSON"),
        ([1, 2], 1, "not a receipt"),
        ({"receipt": {"row": {}}, "signature": ""}, 1, "not a receipt"),
    ],
)
def test_bad_files_get_a_clear_message_and_no_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: Any,
    code: int,
    message: str,
) -> None:
    path = tmp_path / "missing.json" if content is None else _file(tmp_path, content)
    got, out, err = _verify(capsys, str(path))
    assert got == code
    assert message in out + err
    assert "Traceback" not in out + err


def test_usage_errors_exit_2(
    tmp_path: Path, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_file(tmp_path, document))
    code, _, err = _verify(capsys, path, "--key", "not-a-vkey")
    assert code == 2 and "--key" in err
    code, _, err = _verify(capsys, path, "--log", "file:///etc")
    assert code == 2 and "not an http(s) URL" in err
    code, _, err = _verify(capsys, path, "--log", "http://127.0.0.1:9")
    assert code == 2 and "cannot reach the log" in err
