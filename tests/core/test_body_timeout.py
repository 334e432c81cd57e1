"""The body timeout (``CONSENT_BODY_TIMEOUT``): asyncio.timeout, and its cancellation rules."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message

from consent_service.web.errors import ApiError
from consent_service.web.guards import read_json


def _stalled_request() -> Request:
    """A POST whose body never arrives (the client keeps the connection open)."""

    async def receive() -> Message:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/json")],
    }
    return Request(scope, receive)


def test_a_body_slower_than_the_timeout_is_a_408_and_leaves_the_task_usable() -> None:
    async def go() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ApiError) as refused:
            await read_json(_stalled_request(), 8192, 0.2)
        assert (refused.value.status, refused.value.code) == (408, "request_timeout")
        held = loop.time() - started
        await asyncio.sleep(0.01)  # the task is not left cancelled
        task = asyncio.current_task()
        assert task is not None
        return held, task.cancelling()

    held, cancelling = asyncio.run(go())
    assert 0.2 <= held < 1.0
    assert cancelling == 0


def test_a_cancel_that_lands_with_the_timeout_stays_a_cancel() -> None:
    """Shutdown cancelling a request in the very turn its body times out: the request is
    cancelled (the server is going), not answered 408, and nothing is left pending.
    A hand-written sweep once turned exactly this into a 408 and left the task marked
    as cancelling."""

    async def go() -> tuple[BaseException | None, bool]:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(read_json(_stalled_request(), 8192, 0.1))
        await asyncio.sleep(0)  # the read is under way, its timer armed for now + 0.1
        loop.call_at(loop.time() + 0.1, task.cancel)  # the same turn as the timeout
        try:
            await task
        except BaseException as exc:
            return exc, task.cancelled()
        return None, task.cancelled()

    raised, cancelled = asyncio.run(go())
    assert isinstance(raised, asyncio.CancelledError), raised
    assert cancelled


def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    async def go() -> None:
        task = asyncio.ensure_future(read_json(_stalled_request(), 8192, 5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_one_slow_body_does_not_cut_off_the_fast_ones() -> None:
    async def fast() -> object:
        async def receive() -> Message:
            await asyncio.sleep(0.05)
            return {"type": "http.request", "body": b'{"ok": true}', "more_body": False}

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [(b"content-type", b"application/json")],
        }
        return await read_json(Request(scope, receive), 8192, 0.15)

    async def go() -> list[object]:
        return await asyncio.gather(  # type: ignore[no-any-return]
            read_json(_stalled_request(), 8192, 0.15),
            *(fast() for _ in range(5)),
            return_exceptions=True,
        )

    first, *rest = asyncio.run(go())
    assert isinstance(first, ApiError) and first.status == 408
    assert rest == [{"ok": True}] * 5
