"""The log's signing key: generated once, never overwritten, rotated without losing the
heads it signed (issue 16)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from consent_service.audit.heads import HeadError, LogKey, create_key_file
from consent_service.audit.integrity import verify_log
from consent_service.audit.signing import LogSigner, key_path, load_signer
from consent_service.cli.main import main
from consent_service.settings import Settings, SettingsError
from consent_service.store import open_store
from consent_service.store.tree import UnsignedTree

from ..store.test_store_contract import make_event


def test_without_a_setting_a_key_is_generated_once_beside_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/db/kakor.db")
    assert key_path(settings) == tmp_path / "db" / "log-key.pem"
    first = load_signer(settings)
    mode = stat.S_IMODE((tmp_path / "db" / "log-key.pem").stat().st_mode)
    assert mode == 0o600
    again = load_signer(settings)
    assert again.public == first.public  # loaded, not generated anew
    assert first.origin("demo") == "localhost/demo"


def test_a_configured_key_file_must_exist_and_old_keys_must_parse(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CONSENT_LOG_KEY_FILE"):
        load_signer(Settings(log_key_file=tmp_path / "missing.pem"))
    create_key_file(tmp_path / "k.pem", "x")
    with pytest.raises(SettingsError, match="CONSENT_LOG_OLD_KEYS"):
        load_signer(Settings(log_key_file=tmp_path / "k.pem", log_old_keys=("not-a-key",)))
    with pytest.raises(FileExistsError):
        create_key_file(tmp_path / "k.pem", "x")  # never overwritten


async def test_after_a_rotation_old_heads_verify_and_the_log_goes_on(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/kakor.db"
    old, new = LogKey.generate("localhost"), LogKey.generate("localhost")
    store = open_store(url)
    store.signer = LogSigner(old, "consent.example.se")
    await store.open()
    await store.migrate()
    await store.append([make_event(consent_id="before")])
    await store.close()

    # The new key alone does not accept a head the old one signed: it refuses to sign on.
    store = open_store(url)
    store.signer = LogSigner(new, "consent.example.se")
    await store.open()
    with pytest.raises(UnsignedTree):
        await store.append([make_event(consent_id="refused")])
    await store.close()

    store = open_store(url)
    store.signer = LogSigner(new, "consent.example.se", retired=[old.public])
    await store.open()
    try:
        [row] = await store.append([make_event(consent_id="after")])
        assert row.leaf_index == 1
        report = await verify_log(store)
        assert report["tree"]["broken"] == [] and report["tree"]["signed_heads"] == 1
        assert len(store.signer.vkeys("demo")) == 2  # /log/key keeps the retired one
    finally:
        await store.close()


def test_log_key_rotate_prints_the_settings_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = create_key_file(tmp_path / "old.pem", "localhost")
    monkeypatch.setenv("CONSENT_LOG_KEY_FILE", str(tmp_path / "old.pem"))
    monkeypatch.setenv("CONSENT_LOG_OLD_KEYS", "")
    assert main(["log-key", "rotate", str(tmp_path / "new.pem")]) == 0
    said = capsys.readouterr().out
    assert f"CONSENT_LOG_KEY_FILE={tmp_path / 'new.pem'}" in said
    assert f"CONSENT_LOG_OLD_KEYS={base64.b64encode(key.public).decode()}" in said
    assert main(["log-key", "rotate", str(tmp_path / "new.pem")]) == 2  # never overwrites
    assert main(["log-key", "show", "--site", "demo"]) == 0
    assert capsys.readouterr().out.startswith("localhost/demo+")


def test_a_head_of_one_site_never_verifies_as_another_sites() -> None:
    signer = LogSigner(LogKey.generate("localhost"), "consent.example.se")
    note = signer.sign("a", 1, bytes(32))
    assert signer.verify("a", note).checkpoint.origin == "consent.example.se/a"
    with pytest.raises(HeadError):
        signer.verify("b", note)
