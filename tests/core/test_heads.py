"""Signed tree heads: C2SP signed notes and checkpoints, Ed25519 (C22)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.audit.heads import (
    Checkpoint,
    HeadError,
    LogKey,
    Verifier,
    create_key_file,
    load_key_file,
    open_note,
    verify_head,
)
from consent_service.audit.merkle import MemoryTree, leaf_hash, root

# golang.org/x/mod/sumdb/note's published example: Ed25519 is deterministic, so a
# signer that frames notes as signed-note says reproduces it byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "consent.example.se/kakor/demo"
NOW = 1_796_342_400  # 2026-12-03 in seconds since the epoch


def go_key() -> LogKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return LogKey(Ed25519PrivateKey.from_private_bytes(seed), "PeterNeumann")


def test_c22_signatures_match_the_go_reference_byte_for_byte() -> None:
    key = go_key()
    assert key.vkey() == GO_VKEY
    assert GO_TEXT + "\n" + key.note_signature(GO_TEXT) == GO_NOTE
    text, verified = open_note(GO_NOTE, [Verifier.from_vkey(GO_VKEY)])
    assert text == GO_TEXT and verified == [("PeterNeumann", None)]


def test_c22_an_edited_note_does_not_open() -> None:
    verifier = Verifier.from_vkey(GO_VKEY)
    with pytest.raises(HeadError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [verifier])
    other = Verifier.from_vkey(LogKey.generate("PeterNeumann").vkey())
    with pytest.raises(HeadError, match="no signature by a known key"):
        open_note(GO_NOTE, [other])  # same name, other key: ignored, so nothing verifies


def _head(size: int = 5) -> tuple[LogKey, Checkpoint]:
    tree = MemoryTree([leaf_hash(bytes([i])) for i in range(size)])
    return LogKey.generate(ORIGIN), Checkpoint(ORIGIN, size, root(tree))


def test_c22_a_signed_head_round_trips_with_its_time() -> None:
    key, checkpoint = _head()
    head = key.sign_head(checkpoint, NOW)
    assert head.note.startswith(checkpoint.text() + "\n\u2014 " + ORIGIN + " ")
    assert head.note.count("\n\u2014 ") == 2
    opened = verify_head(head.note, [Verifier.from_vkey(key.vkey())])
    assert opened.checkpoint == checkpoint and opened.timestamp == NOW
    assert Checkpoint.parse(checkpoint.text()) == checkpoint


@pytest.mark.parametrize(
    "edit",
    [
        lambda n: n.replace("\n5\n", "\n6\n", 1),  # a longer log than was signed
        lambda n: n.replace(ORIGIN + "\n", "consent.example.se/kakor/other\n", 1),
    ],
)
def test_c22_a_head_whose_text_was_edited_is_refused(edit: object) -> None:
    key, checkpoint = _head()
    note = key.sign_head(checkpoint, NOW).note
    edited = edit(note)  # type: ignore[operator]
    assert edited != note
    with pytest.raises(HeadError):
        verify_head(edited, [Verifier.from_vkey(key.vkey())])


def test_c22_a_moved_timestamp_is_refused() -> None:
    key, checkpoint = _head()
    note = key.sign_head(checkpoint, NOW).note
    text, _, block = note.rpartition("\n\n")
    first, second = block.rstrip("\n").split("\n")
    prefix, _, blob = second.rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[11] ^= 1  # the timestamp's lowest byte: one second earlier or later
    moved = f"{text}\n\n{first}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(HeadError, match=r"timestamped signature .* does not verify"):
        verify_head(moved, [Verifier.from_vkey(key.vkey())])


def test_c22_a_head_needs_both_signatures_by_the_origins_key() -> None:
    key, checkpoint = _head()
    verifier = Verifier.from_vkey(key.vkey())
    untimed = checkpoint.text() + "\n" + key.note_signature(checkpoint.text())
    with pytest.raises(HeadError, match="timestamped"):
        verify_head(untimed, [verifier])
    witness = LogKey.generate("witness.example/w1")
    text = checkpoint.text()
    by_witness_only = (
        text + "\n" + witness.note_signature(text) + witness.timestamped_signature(text, NOW)
    )
    with pytest.raises(HeadError, match="signature of " + ORIGIN):
        verify_head(by_witness_only, [verifier, Verifier.from_vkey(witness.vkey())])
    stranger = LogKey.generate("witness.example/w2")
    with pytest.raises(HeadError, match="no signature by a known key"):
        verify_head(key.sign_head(checkpoint, NOW).note, [Verifier.from_vkey(stranger.vkey())])
    with pytest.raises(HeadError, match="origin"):
        key.sign_head(Checkpoint("someone.else/log", 5, checkpoint.root_hash), NOW)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no blank line\n",
        "a\n5\nAAAA\n\n\u2014 a\n",
        "text\n\n\u2014 name not-base64!\n",
        "text\n\n\u2014 name AAAA\n",  # three bytes: no room for a key ID and a signature
        "te\x00xt\n\n\u2014 name AAAAAAAA\n",
        "text\n\n" + "\u2014 n AAAAAAAA\n" * 40,
    ],
)
def test_malformed_notes_are_refused_with_a_reason(note: str) -> None:
    with pytest.raises(HeadError):
        open_note(note, [Verifier.from_vkey(GO_VKEY)])


@pytest.mark.parametrize(
    "text",
    ["a\n5\n", "a\n05\n" + "A" * 43 + "=\n", "a\n5\n" + "A" * 43 + "=\next\n", "a b\n5\nx\n"],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(HeadError):
        Checkpoint.parse(text)


def test_bad_verifier_keys_are_refused() -> None:
    name, hex_id, body = GO_VKEY.split("+")
    for vkey in (f"{name}+00000000+{body}", f"{name}+{hex_id}", f"Other+{hex_id}+{body}", "x"):
        with pytest.raises(HeadError):
            Verifier.from_vkey(vkey)


def test_the_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log-key.pem"
    key = create_key_file(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path, ORIGIN).public == key.public
    with pytest.raises(FileExistsError):
        create_key_file(path, ORIGIN)
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(HeadError):
        load_key_file(path, ORIGIN)
