"""Several stateless replicas over one PostgreSQL, as real ``consent-service serve``
processes: concurrent writes through both are all stored on one unforked chain (C19,
C22), each verifies the other's cookies, and keys rotate across them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from consent_service.audit.events import AuditRow
from consent_service.consent.tokens import TokenSigner
from consent_service.settings import DEMO_CONFIG, Secret
from consent_service.store import open_store

from .. import pg
from ..conftest import signed
from . import replicas as rp

pytestmark = pytest.mark.postgres

KEY = "replica-key-0123456789abcdef"
OLD = "old-key-0123456789abcdef"
NEW = "new-key-0123456789abcdef"
CONSENT = "/v1/sites/demo/consent"
YEAR = 365 * 86400
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def replica_database() -> Iterator[str]:
    """A database of its own for this module's two replicas (started once: they are slow)."""
    yield from pg.session_database()


@pytest.fixture(scope="module")
def two_replicas(
    replica_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[rp.Replica]]:
    """Two replicas serving two sites (the demo site and a copy named ``other``)."""
    config = tmp_path_factory.mktemp("sites") / "sites.toml"
    demo = DEMO_CONFIG.read_text()
    config.write_text(demo + "\n" + demo.replace("[sites.demo", "[sites.other"))
    yield from rp.running(replica_database, [KEY], [KEY], config=config)


async def stored_rows(database_url: str) -> list[AuditRow]:
    store = signed(open_store(database_url))
    await store.open()
    try:
        return [row async for row in store.iter_rows()]
    finally:
        await store.close()


async def post_many(urls: list[str], total: int, concurrency: int) -> list[httpx.Response]:
    """``total`` consents, spread round-robin over ``urls`` and over both sites,
    ``concurrency`` at a time."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(i: int) -> httpx.Response:
            async with limit:
                body = {"action": "save", "choices": {"statistics": i % 3 == 0}, "language": "sv"}
                site = ("demo", "other")[i // len(urls) % 2]
                return await client.post(
                    f"{urls[i % len(urls)]}/v1/sites/{site}/consent", json=body
                )

        return await asyncio.gather(*(one(i) for i in range(total)))


def batches_and_writes(metrics_text: str) -> tuple[int, int]:
    """(committed batches, events in them) from a replica's ``/metrics``."""
    count = re.search(r"^kakor_store_batch_size_count (\d+)", metrics_text, re.M)
    total = re.search(r"^kakor_store_batch_size_sum (\S+)", metrics_text, re.M)
    assert count, metrics_text
    assert total, metrics_text
    return int(count.group(1)), int(float(total.group(1)))


def test_concurrent_writes_through_two_replicas_all_land_on_one_chain_C19_C22(
    two_replicas: list[rp.Replica], replica_database: str
) -> None:
    total = 160
    before = len(asyncio.run(stored_rows(replica_database)))
    metrics_before = [batches_and_writes(httpx.get(r.url + "/metrics").text) for r in two_replicas]
    answers = asyncio.run(post_many([r.url for r in two_replicas], total, concurrency=32))
    assert [a.status_code for a in answers] == [201] * total
    rows = asyncio.run(stored_rows(replica_database))
    assert len(rows) - before == total
    assert {r.site_id for r in rows[before:]} == {"demo", "other"}
    assert {a.json()["consent_id"] for a in answers} <= {r.consent_id for r in rows}

    verify = subprocess.run(
        [sys.executable, "-m", "consent_service", "verify", "--database", replica_database],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f'"rows_checked": {len(rows)}' in verify.stdout
    # One tree per site, whichever replica appended: each site's rows make the tree of
    # its newest signed head (issue 16), and every row has its own place in it.
    tree = json.loads(verify.stdout)["tree"]
    assert tree["broken"] == [] and tree["signatures_unchecked"] == []
    assert tree["signed_heads"] == tree["roots_compared"] == 2
    for site in ("demo", "other"):
        places = [r.leaf_index for r in rows if r.site_id == site]
        assert places == list(range(len(places)))

    batches = writes = 0
    for replica, (b0, w0) in zip(two_replicas, metrics_before, strict=True):
        b, w = batches_and_writes(httpx.get(replica.url + "/metrics").text)
        assert w > w0  # both replicas wrote
        batches, writes = batches + b - b0, writes + w - w0
    assert writes == total
    assert batches < total  # group commit still groups: fewer transactions than consents


def test_each_replica_verifies_the_cookies_the_other_signed(two_replicas: list[rp.Replica]) -> None:
    a, b = two_replicas
    given = httpx.post(a.url + CONSENT, json={"action": "accept-all"})
    assert given.status_code == 201
    cookie = given.cookies["consent"]
    read = httpx.get(b.url + CONSENT, cookies={"consent": cookie})
    assert read.status_code == 200
    assert read.json()["consent_id"] == given.json()["consent_id"]
    assert read.json()["choices"]["statistics"] is True
    # An update through B keeps the visitor's consent ID from A's cookie.
    changed = httpx.post(
        b.url + CONSENT, json={"action": "reject-all"}, cookies={"consent": cookie}
    )
    assert changed.json()["consent_id"] == given.json()["consent_id"]


def test_key_rotation_across_replicas(postgres_url: str) -> None:
    """The first key signs, every listed key verifies; removing a key retires its tokens."""
    for old_only, rotated, new_only in rp.running(postgres_url, [OLD], [NEW, OLD], [NEW]):
        old_token = httpx.post(old_only.url + CONSENT, json={"action": "accept-all"}).json()[
            "token"
        ]
        # A replica with the new key first still accepts the old key's tokens...
        assert (
            httpx.get(rotated.url + CONSENT, headers={"kakor-token": old_token}).status_code == 200
        )
        # ...and signs new ones with the new key only.
        new_token = httpx.post(rotated.url + CONSENT, json={"action": "reject-all"}).json()["token"]
        assert TokenSigner((Secret(NEW),)).verify("demo", new_token, YEAR) is not None
        assert TokenSigner((Secret(OLD),)).verify("demo", new_token, YEAR) is None
        # Once the old key is removed, its tokens mean "no consent", never an error.
        gone = httpx.get(new_only.url + CONSENT, headers={"kakor-token": old_token})
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "no_consent")
        assert (
            httpx.get(new_only.url + CONSENT, headers={"kakor-token": new_token}).status_code == 200
        )
        # A replica that never learnt the new key cannot read its tokens: roll the new key
        # out as a second key everywhere before any replica signs with it (docs/deploy.md).
        assert (
            httpx.get(old_only.url + CONSENT, headers={"kakor-token": new_token}).status_code == 404
        )


@pytest.fixture
def proxy(two_replicas: list[rp.Replica], tmp_path: Path) -> Iterator[str]:
    """deploy/nginx.conf itself, in front of the two replicas (hosts and ports rewritten)."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed")
    port = rp.free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, replica in zip(("app1", "app2"), two_replicas, strict=True):
        site = site.replace(f"server {name}:8000", f"server 127.0.0.1:{replica.port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    temp = "".join(
        f"{kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log warn;\n"
        + "events {}\n"
        + f"http {{\n{temp}access_log off;\ninclude {tmp_path}/site.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        rp.wait_ready([rp.Replica(process, port)])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_the_compose_proxy_config_balances_and_keeps_addresses_honest(
    proxy: str, two_replicas: list[rp.Replica], replica_database: str
) -> None:
    """deploy/nginx.conf balances over both replicas, hides /metrics, and replaces a
    forged X-Forwarded-For, so the minimised address in the row is the real one (C20)."""
    before = [batches_and_writes(httpx.get(r.url + "/metrics").text)[1] for r in two_replicas]
    forged = {"X-Forwarded-For": "203.0.113.9"}
    answers = [
        httpx.post(proxy + CONSENT, json={"action": "accept-all"}, headers=forged) for _ in range(8)
    ]
    assert [a.status_code for a in answers] == [201] * 8
    back = httpx.get(proxy + CONSENT, cookies={"consent": answers[0].cookies["consent"]})
    assert back.json()["consent_id"] == answers[0].json()["consent_id"]
    assert httpx.get(proxy + "/metrics").status_code == 404
    after = [batches_and_writes(httpx.get(r.url + "/metrics").text)[1] for r in two_replicas]
    assert all(a > b for a, b in zip(after, before, strict=True))  # both replicas served
    mine = {a.json()["consent_id"] for a in answers}
    rows = asyncio.run(stored_rows(replica_database))
    assert {row.ip for row in rows if row.consent_id in mine} == {"127.0.0.0/24"}
