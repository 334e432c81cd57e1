"""The store contract, run unchanged against SQLite and PostgreSQL.

``database_url`` is parametrised over both stores (tests/conftest.py), so every test
here runs twice. Requirements: C19 (append-only audit log), C22 (hash chain shows
any edit, deletion or reordering).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from consent_service.audit.chain import GENESIS, row_hash
from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.verify import verify_rows
from consent_service.store import Store, TextsSnapshot, open_store

from ..conftest import signed
from . import raw

T0 = datetime(2026, 11, 17, 9, 30, 0, 123456, tzinfo=UTC)


def make_event(
    site_id: str = "demo", consent_id: str = "c-1", at: datetime = T0, **fields: object
) -> ConsentEvent:
    values: dict[str, object] = {
        "site_id": site_id,
        "consent_id": consent_id,
        "action": "save",
        "choices": {"necessary": True, "statistics": False, "third-party": True},
        "policy_version": "2026-11-01",
        "texts_hash": "ab" * 32,
        "language": "sv",
        "widget_version": "1.0.0",
        "page": "https://www.example.se/nyheter",
        "ip": "192.0.2.0",
        "browser": "Firefox/Linux",
        "gpc": False,
        "created_at": at,
    }
    values.update(fields)
    return ConsentEvent(**values)  # type: ignore[arg-type]


@pytest.fixture
async def make_store(database_url: str) -> AsyncIterator[Callable[[], object]]:
    """Factory of opened, migrated stores on the test database (several = several replicas)."""
    opened: list[Store] = []

    async def factory() -> Store:
        store = signed(open_store(database_url))
        await store.open()
        opened.append(store)
        await store.migrate()
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: Callable[[], object]) -> Store:
    made: Store = await make_store()  # type: ignore[misc]
    return made


async def all_rows(store: Store, **filters: object) -> list[AuditRow]:
    return [row async for row in store.iter_rows(**filters)]  # type: ignore[arg-type]


async def test_migrate_is_idempotent(store: Store) -> None:
    assert await store.migrate() == []
    await store.ping()


async def test_empty_append_writes_nothing(store: Store) -> None:
    assert await store.append([]) == []
    assert await store.row_count() == 0


async def test_append_links_each_row_to_the_previous_C22(store: Store) -> None:
    rows = await store.append([make_event(), make_event(consent_id="c-2")])
    rows += await store.append([make_event(consent_id="c-3")])
    assert [r.seq for r in rows] == sorted({r.seq for r in rows})
    assert rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash
    for row in rows:
        assert row.hash == row_hash(row.seq, row.prev_hash, row)


async def test_a_failing_batch_writes_none_of_its_rows_C19_C22(store: Store) -> None:
    """A batch is one transaction: a row that breaks a constraint undoes the whole batch."""
    first = await store.append([make_event(consent_id="c-1")])
    clash = make_event(consent_id="c-3", event_id=first[0].event_id)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.append([make_event(consent_id="c-2"), clash])
    assert await store.row_count() == 1
    after = await store.append([make_event(consent_id="c-4")])
    assert after[0].prev_hash == first[0].hash
    assert (await verify_rows(store.iter_rows())).ok


async def test_rows_read_back_exactly_as_appended_C19(store: Store) -> None:
    written = await store.append(
        [make_event(gpc=True, action="gpc", choices={"necessary": True, "statistics": False})]
    )
    assert await all_rows(store) == written
    assert written[0].created_at == T0
    assert written[0].to_dict()["created_at"] == "2026-11-17T09:30:00.123456Z"


async def test_each_site_has_its_own_chain_C22(store: Store) -> None:
    rows = await store.append([make_event("a"), make_event("b"), make_event("a"), make_event("b")])
    a1, b1, a2, b2 = rows
    assert (a1.prev_hash, b1.prev_hash) == (GENESIS, GENESIS)
    assert (a2.prev_hash, b2.prev_hash) == (a1.hash, b1.hash)
    assert (await verify_rows(store.iter_rows())).ok


async def test_iter_rows_filters_and_pages(store: Store) -> None:
    hour = timedelta(hours=1)
    rows = []
    for i in range(7):
        rows += await store.append(
            [make_event("a", f"c{i}", T0 + i * hour), make_event("b", f"c{i}", T0 + i * hour)]
        )
    assert await all_rows(store, batch_size=3) == rows
    assert await all_rows(store, site_id="a", batch_size=2) == [r for r in rows if r.site_id == "a"]
    window = await all_rows(store, site_id="b", since=T0 + 2 * hour, until=T0 + 5 * hour)
    assert [r.consent_id for r in window] == ["c2", "c3", "c4"]
    assert await all_rows(store, after_seq=rows[9].seq) == rows[10:]


async def test_consent_history_is_one_consent_oldest_first(store: Store) -> None:
    first = await store.append([make_event(consent_id="me"), make_event(consent_id="other")])
    later = await store.append([make_event(consent_id="me", action="withdraw")])
    history = await store.consent_history("demo", "me")
    assert history == [first[0], later[0]]
    assert await store.consent_history("elsewhere", "me") == []


async def test_texts_are_kept_once_per_hash(store: Store) -> None:
    snap = TextsSnapshot("ab" * 32, "demo", "sv", "2026-11-01", {"title": "Godkänn kakor"})
    await store.append([make_event()], [snap])
    await store.append([make_event()], [snap])  # the same texts again: no error, one copy
    assert await store.texts("ab" * 32) == snap
    assert await store.texts("cd" * 32) is None


async def test_row_count(store: Store) -> None:
    await store.append([make_event() for _ in range(5)])
    assert await store.row_count() == 5


async def test_rows_cannot_be_updated_C19(store: Store, database_url: str) -> None:
    await store.append([make_event()])
    with pytest.raises(Exception, match="append-only"):
        await raw.execute(database_url, "UPDATE consent_events SET action = 'accept-all'")


async def test_verify_finds_an_edited_row_C22(store: Store, database_url: str) -> None:
    rows = await store.append([make_event(consent_id=f"c{i}") for i in range(5)])
    assert (await verify_rows(store.iter_rows())).ok
    await raw.tamper(
        database_url,
        'UPDATE consent_events SET choices = \'{"necessary":true,"statistics":true,'
        f'"third-party":true}}\' WHERE seq = {rows[2].seq}',
    )
    result = await verify_rows(store.iter_rows())
    assert not result.ok
    assert result.first_broken_seq == rows[2].seq
    assert result.reason == "row content does not match its hash"


async def test_verify_finds_a_deleted_row_C22(store: Store, database_url: str) -> None:
    rows = await store.append([make_event(consent_id=f"c{i}") for i in range(4)])
    await raw.execute(database_url, f"DELETE FROM consent_events WHERE seq = {rows[1].seq}")
    result = await verify_rows(store.iter_rows())
    assert (result.ok, result.first_broken_seq) == (False, rows[2].seq)


async def test_concurrent_writers_never_fork_a_chain_C22(
    make_store: Callable[[], object],
) -> None:
    """Four store instances (four replicas) append batches to three sites at once."""
    replicas: list[Store] = [await make_store() for _ in range(4)]  # type: ignore[misc]

    async def writer(store: Store, name: str) -> int:
        written = 0
        for i in range(15):
            batch = [make_event(site, f"{name}-{i}") for site in ("a", "b", "c")[: 1 + i % 3]]
            written += len(await store.append(batch))
        return written

    counts = await asyncio.gather(*(writer(s, f"r{n}") for n, s in enumerate(replicas)))
    result = await verify_rows(replicas[0].iter_rows())
    assert result.ok, result
    assert result.rows_checked == sum(counts) == await replicas[1].row_count()
    for site in ("a", "b", "c"):
        chain = await all_rows(replicas[1], site_id=site)
        assert chain[0].prev_hash == GENESIS
        assert all(n.prev_hash == p.hash for p, n in itertools.pairwise(chain))
