"""Signed tree heads: C2SP checkpoints in C2SP signed notes, signed with Ed25519.

A head says "the log of this site had ``size`` rows, and their Merkle tree
(:mod:`~consent_service.audit.merkle`) had this root", in the text form the
transparency-log world shares (c2sp.org/tlog-checkpoint)::

    consent.example.se/kakor/demo
    1042
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — consent.example.se/kakor/demo Az3grlgt…
    — consent.example.se/kakor/demo 8zvS1QAAAABn…

The first signature line is a plain note signature (c2sp.org/signed-note, type
``0x01``), which Go's ``sumdb/note``, Sigstore's and the witness network's tools
verify. The second is a timestamped signature (c2sp.org/tlog-cosignature, type
``0x04``) by the same key over ``cosignature/v1``, the time and the same text: it signs
*when* the log had that head, which the checkpoint text leaves out, in a form a witness
would add beside it with its own key. The two messages cannot be confused: one starts
with the origin, the other with ``cosignature/v1``, which no origin of ours is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

#: Signature type of a note signature (signed-note) and of a timestamped one (cosignature).
NOTE_SIGNATURE = 0x01
TIMESTAMPED_SIGNATURE = 0x04
#: Signature lines a note may carry before it is refused (signed-note asks for ≥ 16).
MAX_SIGNATURES = 32
_COSIGNATURE_HEADER = "cosignature/v1\n"


class HeadError(ValueError):
    """A note, head or key that does not verify or does not parse; the message says which."""


def key_id(name: str, signature_type: int, public: bytes) -> bytes:
    """signed-note's key ID: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public).digest()[:4]


def check_name(name: str) -> str:
    """A key name or origin as signed-note allows them: non-empty, no spaces, no ``+``."""
    if not name or "+" in name or any(c.isspace() or ord(c) < 0x20 for c in name):
        raise HeadError(f"not a key name or origin: {name!r}")
    return name


@dataclass(frozen=True)
class Checkpoint:
    """The three lines of a tree head: origin, tree size and root hash."""

    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        """The checkpoint's note text, newline-terminated."""
        check_name(self.origin)
        if self.size < 0 or len(self.root_hash) != 32:
            raise HeadError("a checkpoint has a size ≥ 0 and a 32-byte root")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint a note's text holds; extension lines are refused (we sign none)."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise HeadError("a checkpoint is exactly three newline-terminated lines")
        origin, size, root = lines[:3]
        if not size.isascii() or not size.isdigit() or (size != "0" and size[0] == "0"):
            raise HeadError(f"not a tree size: {size!r}")
        return cls(check_name(origin), int(size), _b64(root, 32, "root hash"))


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint with the time its log signed it, and the signed note itself."""

    checkpoint: Checkpoint
    #: When the log signed it, in seconds since the epoch (from the timestamped line).
    timestamp: int
    note: str


class LogKey:
    """The log's Ed25519 signing key, under a key name (the origin of its heads)."""

    def __init__(self, private: Ed25519PrivateKey, name: str) -> None:
        self._private = private
        self.name = check_name(name)
        self.public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls, name: str) -> LogKey:
        """A fresh key."""
        return cls(Ed25519PrivateKey.generate(), name)

    @classmethod
    def from_pem(cls, pem: bytes, name: str) -> LogKey:
        """The key in a PKCS #8 PEM file's bytes."""
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise HeadError(f"not an unencrypted PKCS #8 PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise HeadError("the log key must be an Ed25519 key")
        return cls(private, name)

    def renamed(self, name: str) -> LogKey:
        """The same key under another name (one log key signs each site under its origin)."""
        return LogKey(self._private, name)

    def to_pem(self) -> bytes:
        """The private key as PKCS #8 PEM (for the key file; never for a database)."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def vkey(self) -> str:
        """The verifier key as signed-note writes it: ``name+keyid+base64(0x01 || key)``."""
        return encode_vkey(self.name, self.public)

    def note_signature(self, text: str) -> str:
        """The signature line for ``text`` (type 0x01)."""
        signature = self._private.sign(text.encode())
        blob = key_id(self.name, NOTE_SIGNATURE, self.public) + signature
        return f"\u2014 {self.name} {base64.b64encode(blob).decode()}\n"

    def timestamped_signature(self, text: str, timestamp: int) -> str:
        """The timestamped signature line for ``text`` at ``timestamp`` (type 0x04)."""
        if not 0 <= timestamp < 2**63:
            raise HeadError("a timestamp is seconds since the epoch, below 2**63")
        signature = self._private.sign(_cosigned(text, timestamp))
        blob = (
            key_id(self.name, TIMESTAMPED_SIGNATURE, self.public)
            + struct.pack(">Q", timestamp)
            + signature
        )
        return f"\u2014 {self.name} {base64.b64encode(blob).decode()}\n"

    def sign_head(self, checkpoint: Checkpoint, timestamp: int) -> SignedHead:
        """Sign ``checkpoint`` as of ``timestamp``; its origin must be this key's name."""
        if checkpoint.origin != self.name:
            raise HeadError("a log signs its heads under its origin")
        text = checkpoint.text()
        note = text + "\n" + self.note_signature(text) + self.timestamped_signature(text, timestamp)
        return SignedHead(checkpoint, timestamp, note)


def encode_vkey(name: str, public: bytes) -> str:
    """signed-note's verifier key text for an Ed25519 ``public`` key under ``name``."""
    body = base64.b64encode(bytes([NOTE_SIGNATURE]) + public).decode()
    return f"{check_name(name)}+{key_id(name, NOTE_SIGNATURE, public).hex()}+{body}"


@dataclass(frozen=True)
class Verifier:
    """A public key a note may be signed with, under its name."""

    name: str
    public: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``name+keyid+base64(0x01 || key)``; the key ID must match."""
        name, _, rest = vkey.partition("+")
        hex_id, _, body = rest.partition("+")
        raw = _b64(body, 33, "verifier key")
        if raw[0] != NOTE_SIGNATURE:
            raise HeadError("only Ed25519 verifier keys (type 0x01) are supported")
        verifier = cls(check_name(name), raw[1:])
        if key_id(name, NOTE_SIGNATURE, verifier.public).hex() != hex_id.lower():
            raise HeadError("the verifier key's ID does not match its name and key")
        return verifier

    def _verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[str, list[tuple[str, int | None]]]:
    """The text of ``note`` and its verified signatures: ``(key name, timestamp)`` each.

    The timestamp is ``None`` for a plain note signature. As signed-note asks:
    signatures from unknown keys are ignored; one from a known key that fails rejects
    the note; a note with no verified signature is rejected.
    """
    text, lines = _split_note(note)
    known = list(verifiers)
    verified: list[tuple[str, int | None]] = []
    for name, blob in lines:
        for verifier in known:
            if verifier.name != name:
                continue
            if blob[:4] == key_id(name, NOTE_SIGNATURE, verifier.public):
                if not verifier._verify(text.encode(), blob[4:]):
                    raise HeadError(f"the signature by {name} does not verify")
                verified.append((name, None))
            elif blob[:4] == key_id(name, TIMESTAMPED_SIGNATURE, verifier.public):
                if len(blob) != 4 + 8 + 64:
                    raise HeadError(f"the timestamped signature by {name} is malformed")
                [timestamp] = struct.unpack(">Q", blob[4:12])
                if not verifier._verify(_cosigned(text, timestamp), blob[12:]):
                    raise HeadError(f"the timestamped signature by {name} does not verify")
                verified.append((name, timestamp))
    if not verified:
        raise HeadError("no signature by a known key")
    return text, verified


def verify_head(note: str, verifiers: Iterable[Verifier]) -> SignedHead:
    """The head in ``note``, signed *and* timestamped by the key named after its origin.

    Signatures by other known keys (a witness's, say) verify but do not stand in for
    the log's own.
    """
    text, verified = open_note(note, verifiers)
    checkpoint = Checkpoint.parse(text)
    by_log = [t for name, t in verified if name == checkpoint.origin]
    times = [t for t in by_log if t is not None]
    if None not in by_log or not times:
        raise HeadError(
            f"a head needs the signature and the timestamped signature of {checkpoint.origin}"
        )
    return SignedHead(checkpoint, max(times), note)


def create_key_file(path: Path, name: str) -> LogKey:
    """Generate a key into a new file only its owner can read; refuse to overwrite one."""
    key = LogKey.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.to_pem())
    return key


def load_key_file(path: Path, name: str) -> LogKey:
    """The key in ``path`` (PKCS #8 PEM), under ``name``."""
    return LogKey.from_pem(path.read_bytes(), name)


def _cosigned(text: str, timestamp: int) -> bytes:
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n{text}".encode()


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise HeadError("a note has no control characters but newlines")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise HeadError("a note is text, a blank line and signature lines")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise HeadError(f"a note carries 1 to {MAX_SIGNATURES} signatures")
    parsed: list[tuple[str, bytes]] = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            raise HeadError(f"not a signature line: {line!r}")
        _, name, blob = parts
        raw = _b64(blob, None, "signature")
        if len(raw) < 5:
            raise HeadError("a signature is a key ID and the signature bytes")
        parsed.append((check_name(name), raw))
    return text, parsed


def _b64(text: str, length: int | None, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise HeadError(f"the {what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise HeadError(f"the {what} is not canonical base64")
    if length is not None and len(raw) != length:
        raise HeadError(f"the {what} is {len(raw)} bytes, not {length}")
    return raw
