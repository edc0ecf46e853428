"""Start a coroutine eagerly: run it up to its first suspension right now.

Most request handlers never suspend (a ``read`` of a plain value returns at
once), so creating a task for each one would only cost an event-loop
iteration and a task object per request.  :func:`start_eager` runs the
coroutine synchronously; only when it really waits for something is the rest
handed to a task, which continues it exactly where it stopped (Python 3.12's
``asyncio.eager_task_factory`` does the same for every task).
"""
from __future__ import annotations

import asyncio
from typing import Any, Coroutine, Optional


class _Resume:
    """Awaitable that continues a started coroutine from its first yield."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine, yielded: Any):
        self.coro = coro
        self.yielded = yielded

    def __await__(self):
        coro, yielded = self.coro, self.yielded
        self.coro = self.yielded = None
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as ex:  # cancellation, or a failed future
                try:
                    yielded = coro.throw(ex)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _resume(coro: Coroutine, yielded: Any) -> Any:
    return await _Resume(coro, yielded)


def start_eager(coro: Coroutine) -> Optional[asyncio.Task]:
    """Run ``coro`` until it finishes or first suspends.

    Returns ``None`` when it finished (its result is dropped; exceptions
    propagate to the caller), otherwise the task that runs the rest.
    """
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, yielded))
