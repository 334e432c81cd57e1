"""The migration runner both stores share: apply, in order, what is not applied yet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from pathlib import Path

from consent_service.store.base import StoreError


async def run_migrations(
    files: Iterable[Path],
    done: Collection[str],
    apply: Callable[[Path], Awaitable[None]],
    errors: tuple[type[Exception], ...],
) -> list[str]:
    """Apply, in order, each of ``files`` not yet ``done``; the names applied.

    ``apply`` runs one file and records it in ``schema_migrations`` in one transaction;
    any of ``errors`` it raises becomes a :class:`StoreError` naming the file.
    """
    applied = []
    for path in files:
        if path.stem in done:
            continue
        try:
            await apply(path)
        except errors as exc:
            raise StoreError(f"migration {path.name} failed: {exc}") from exc
        applied.append(path.stem)
    return applied
