"""``consent-service witness`` against real servers over HTTP (issue 16).

A witness keeps the heads of one log; pointed at another log signed with the same key
(a rewritten history, as a key holder could serve), it refuses and exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from consent_service.cli.main import main

from ..reliability.server import Server, running


@pytest.fixture
def two_logs(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with (
        running(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a.log") as first,
        running(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "b.log") as second,
    ):
        yield first, second


def _decide(server: Server, action: str) -> None:
    answer = httpx.post(server.base_url + "/v1/sites/demo/consent", json={"action": action})
    assert answer.status_code == 201


def _witness(server: Server, heads: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["witness", "--url", server.base_url, "--site", "demo", "--store", str(heads)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_witness_keeps_growing_heads_and_refuses_a_rewritten_history(
    two_logs: tuple[Server, Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    honest, rewritten = two_logs
    heads = tmp_path / "heads.jsonl"
    _decide(honest, "reject-all")
    assert _witness(honest, heads, capsys) == (0, "first: localhost/demo size 1\n")
    _decide(honest, "save")
    _decide(honest, "reject-all")
    code, said = _witness(honest, heads, capsys)
    assert (code, said) == (0, "new: localhost/demo size 3\n")
    assert _witness(honest, heads, capsys)[1].startswith("same:")  # nothing new to keep
    kept = [json.loads(line) for line in heads.read_text().splitlines()]
    assert [k["tree_size"] for k in kept] == [1, 3]
    assert {k["vkey"] for k in kept} == {kept[0]["vkey"]}  # pinned on first use
    # The same key signs another history: three accept-alls, then one more.
    for _ in range(4):
        _decide(rewritten, "accept-all")
    code, said = _witness(rewritten, heads, capsys)
    assert code == 1
    assert "INCONSISTENT" in said and "rewrote its history" in said
    assert len(heads.read_text().splitlines()) == 2  # nothing kept from the forgery


def test_a_witness_says_clearly_when_it_cannot_reach_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = tmp_path / "heads.jsonl"
    code = main(["witness", "--url", "http://127.0.0.1:9", "--site", "demo", "--store", str(heads)])
    assert code == 2
    assert "error:" in capsys.readouterr().err
    assert not heads.exists()
