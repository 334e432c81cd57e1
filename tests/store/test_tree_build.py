"""A log written before the Merkle tree existed gets its tree built once (issue 16).

The log is put back in the state the previous version left it in (rows without a leaf
index, no tiles, an unsigned head of size 0, the build not recorded), then migrated
again as a new version would be: every row gets its place, the head is signed, verify
holds the rows to it, and appends continue the same tree. Both stores.
"""

from __future__ import annotations

from consent_service.audit.integrity import verify_log
from consent_service.store import open_store
from consent_service.store.tree_build import TREE_BUILD

from ..conftest import signed
from ..rawdb import RawDb
from .test_store_contract import make_event


async def test_an_older_log_gets_its_tree_built_once_and_signed(database_url: str) -> None:
    store = signed(open_store(database_url))
    await store.open()
    try:
        await store.migrate()
        await store.append([make_event(consent_id=f"c-{n}") for n in range(300)])
        await store.append([make_event("other", consent_id="o-1")])
    finally:
        await store.close()
    db = RawDb(database_url)
    try:
        db.execute("UPDATE consent_events SET leaf_index = -1", bypass_triggers=True)
        db.execute("DELETE FROM log_tiles")
        db.execute("UPDATE chain_heads SET size = 0, frontier = ?, note = NULL", b"")
        db.execute("DELETE FROM schema_migrations WHERE version = ?", TREE_BUILD)
    finally:
        db.close()

    store = signed(open_store(database_url))
    await store.open()
    try:
        assert await store.migrate() == [TREE_BUILD]
        assert await store.migrate() == []  # once
        heads = await store.tree_heads()
        assert heads["demo"].size == 300 and heads["other"].size == 1
        assert store.signer is not None
        for site, head in heads.items():
            assert head.note is not None
            assert store.signer.verify(site, head.note).checkpoint.size == head.size
        rows = [r async for r in store.iter_rows(site_id="demo")]
        assert [r.leaf_index for r in rows] == list(range(300))
        [more] = await store.append([make_event(consent_id="after")])
        assert more.leaf_index == 300
        report = await verify_log(store)
        # (the events name texts never stored, which the texts check reports on its own)
        assert report["first_broken"] is None and report["tree"]["broken"] == []
        assert report["tree"]["roots_compared"] == 2 and report["tree"]["signed_heads"] == 2
    finally:
        await store.close()
