"""Coarse body deadlines: an overrunning wait becomes TimeoutError, nothing else changes."""

from __future__ import annotations

import asyncio

import pytest

from consent_service.web.deadlines import Deadlines


def test_an_overrunning_wait_times_out_and_leaves_the_task_usable() -> None:
    async def go() -> tuple[float, int]:
        deadlines = Deadlines(0.2, tick=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await deadlines.run(asyncio.sleep(10))
        held = loop.time() - started
        await asyncio.sleep(0.01)  # the task is not left cancelled
        task = asyncio.current_task()
        assert task is not None
        return held, task.cancelling()

    held, cancelling = asyncio.run(go())
    assert 0.2 <= held < 0.2 + 0.05 + 0.2
    assert cancelling == 0


def test_waits_within_the_limit_return_their_result_and_stop_the_timer() -> None:
    async def go() -> None:
        deadlines = Deadlines(0.2, tick=0.05)
        results = await asyncio.gather(
            *(deadlines.run(asyncio.sleep(0.01 * n, result=n)) for n in range(20))
        )
        assert results == list(range(20))
        await asyncio.sleep(0.12)
        assert deadlines._timer is None and not deadlines._pending  # nothing left ticking

    asyncio.run(go())


def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    async def go() -> None:
        deadlines = Deadlines(5, tick=0.05)
        task = asyncio.create_task(deadlines.run(asyncio.sleep(10)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_one_slow_wait_does_not_cut_off_the_fast_ones() -> None:
    async def go() -> list[object]:
        deadlines = Deadlines(0.15, tick=0.02)
        return await asyncio.gather(
            deadlines.run(asyncio.sleep(1)),
            *(deadlines.run(asyncio.sleep(0.05, result="ok")) for _ in range(5)),
            return_exceptions=True,
        )

    first, *rest = asyncio.run(go())
    assert isinstance(first, TimeoutError)
    assert rest == ["ok"] * 5
