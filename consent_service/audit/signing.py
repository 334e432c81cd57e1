"""The log's signer: one Ed25519 key signs every site's tree heads, under each site's origin.

A site's log is named ``<log name>/<site id>`` (its checkpoint origin, and the key name
its signatures carry), so one private key serves every site while a head of one site
can never pass for another's: the key ID hashes the name. Rotation keeps the retired
public keys, so heads signed before it still verify; the private key lives in a file
(``CONSENT_LOG_KEY_FILE``), never in the database.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from consent_service.audit.heads import (
    Checkpoint,
    HeadError,
    LogKey,
    SignedHead,
    Verifier,
    create_key_file,
    encode_vkey,
    load_key_file,
    verify_head,
)
from consent_service.settings import Settings, SettingsError

log = logging.getLogger(__name__)
#: The key file used when ``CONSENT_LOG_KEY_FILE`` is not set and the store is not SQLite.
DEFAULT_LOG_KEY = Path("var/log-key.pem")


class LogSigner:
    """Signs heads for every site with the current key; verifies with it and retired ones."""

    def __init__(
        self,
        key: LogKey,
        log_name: str,
        retired: Sequence[bytes] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = key
        self.log_name = log_name.rstrip("/")
        self.public = key.public
        self.retired = tuple(retired)
        self._clock = clock
        self._keys: dict[str, LogKey] = {}

    def origin(self, site_id: str) -> str:
        """The origin of ``site_id``'s heads."""
        return f"{self.log_name}/{site_id}"

    def _key(self, site_id: str) -> LogKey:
        key = self._keys.get(site_id)
        if key is None:
            key = self._keys[site_id] = self._base.renamed(self.origin(site_id))
        return key

    def sign(self, site_id: str, size: int, root_hash: bytes) -> str:
        """The signed note of ``site_id``'s tree head at ``size``, timestamped now."""
        checkpoint = Checkpoint(self.origin(site_id), size, root_hash)
        return self._key(site_id).sign_head(checkpoint, int(self._clock())).note

    def sign_text(self, site_id: str, text: str) -> str:
        """A signed-note signature line over ``text`` by ``site_id``'s key (receipts)."""
        return self._key(site_id).note_signature(text)

    def vkeys(self, site_id: str) -> list[str]:
        """The site's verifier keys, current first: what ``/log/key`` publishes."""
        origin = self.origin(site_id)
        return [encode_vkey(origin, public) for public in (self.public, *self.retired)]

    def verifiers(self, site_id: str) -> list[Verifier]:
        """Verifiers for every key the site's heads may carry."""
        return [Verifier.from_vkey(vkey) for vkey in self.vkeys(site_id)]

    def verify(self, site_id: str, note: str) -> SignedHead:
        """The head in ``note``, if a key of this log signed it for ``site_id``.

        Every verifier is named by the site's origin, and :func:`~.heads.verify_head`
        takes only signatures by the key named as the head's origin: a head of another
        site (or log) fails there.
        """
        return verify_head(note, self.verifiers(site_id))


def parse_public_key(text: str) -> bytes:
    """A retired key as the settings give it: a vkey, or base64 of 32 raw bytes."""
    body = text.strip().rsplit("+", 1)[-1]
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise HeadError(f"not a public key: {text!r}") from None
    if len(raw) == 33 and raw[0] == 0x01:
        raw = raw[1:]
    if len(raw) != 32:
        raise HeadError(f"not an Ed25519 public key: {text!r}")
    return raw


def log_name(settings: Settings) -> str:
    """The log's name: :attr:`Settings.log_name`, else the public URL's host and path."""
    if settings.log_name:
        return settings.log_name.strip("/")
    if settings.public_url:
        return settings.public_url.split("://", 1)[1]
    return "localhost"


def key_path(settings: Settings) -> Path:
    """Where the log key is: the setting, else beside the SQLite file, else ``var/``."""
    if settings.log_key_file is not None:
        return settings.log_key_file
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :]).parent / "log-key.pem"
    return DEFAULT_LOG_KEY


def load_signer(settings: Settings, clock: Callable[[], float] = time.time) -> LogSigner:
    """The log's signer for ``settings``; a key generated on first use when none is set.

    A generated key is written (0600, never overwritten) where :func:`key_path` says,
    with a warning: production sets ``CONSENT_LOG_KEY_FILE``, the same file for every
    replica, kept apart from the database.
    """
    path = key_path(settings)
    name = log_name(settings)
    if settings.log_key_file is not None and not path.is_file():
        raise SettingsError(
            f"CONSENT_LOG_KEY_FILE: no key file at {path}; "
            "create one with `consent-service log-key create PATH`"
        )
    if not path.exists():
        try:
            create_key_file(path, name)
            log.warning(
                "generated a log signing key in %s; set CONSENT_LOG_KEY_FILE in production", path
            )
        except FileExistsError:  # another replica created it first
            pass
    key = _load(path, name)
    try:
        retired = [parse_public_key(text) for text in settings.log_old_keys]
    except HeadError as exc:
        raise SettingsError(f"CONSENT_LOG_OLD_KEYS: {exc}") from None
    return LogSigner(key, name, retired, clock)


def _load(path: Path, name: str) -> LogKey:
    for _ in range(50):  # a replica that just created the file may still be writing it
        try:
            return load_key_file(path, name)
        except HeadError:
            time.sleep(0.01)
    return load_key_file(path, name)
