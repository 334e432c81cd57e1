"""Coarse timeouts for many short waits: one timer sweeps them all.

``asyncio.timeout`` schedules and cancels a timer for every wait it guards. On the
consent path, where nearly every body has already arrived when it is read, that timer
cost more than reading the body. A :class:`Deadlines` instead notes each wait in a
dict and runs one timer per ``tick`` while any wait is pending; a wait that overruns
is cancelled and surfaces as :class:`TimeoutError`, between ``seconds`` and
``seconds + tick`` after it began.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Deadlines:
    """Cut off awaits that take longer than ``seconds`` (checked every ``tick`` seconds)."""

    def __init__(self, seconds: float, tick: float = 0.25) -> None:
        self.seconds = seconds
        self.tick = tick
        self._pending: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` in the current task; :class:`TimeoutError` if it overruns."""
        task = asyncio.current_task()
        if task is None:  # not in a task: nothing to cancel, so no limit
            return await awaitable
        loop = task.get_loop()
        if loop is not self._loop:  # served by a new loop (tests): the old timer is gone
            self._loop, self._timer = loop, None
        self._pending[task] = loop.time() + self.seconds
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._sweep, loop)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if task in self._expired:
                raise TimeoutError from None
            raise
        finally:
            # While its entry exists the task is suspended inside ``await awaitable``
            # above, so a cancel from the sweep can only land there.
            self._pending.pop(task, None)
            if task in self._expired:
                self._expired.discard(task)
                task.uncancel()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        self._timer = None
        now = loop.time()
        for task, deadline in list(self._pending.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._pending:
            self._timer = loop.call_later(self.tick, self._sweep, loop)
