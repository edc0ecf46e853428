"""run(): drive one coroutine on an event loop of its own (aioca's helper).

``asyncio.run`` is the usual way; :func:`run` is kept for code written for
aioca.  Unlike aioca's (deprecated there), it warns about nothing and works
on every supported Python: it uses the thread's current event loop if one is
set and open, else a new one, and closes the loop when done.
"""
import asyncio
import warnings
from typing import Any, Coroutine

__all__ = ["run"]


def _loop():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loop = asyncio.get_event_loop()
    except RuntimeError:    # no current loop (Python 3.14 no longer makes one)
        loop = None
    if loop is None or loop.is_closed() or loop.is_running():
        loop = asyncio.new_event_loop()
    return loop


def run(coro: Coroutine[Any, Any, Any], forever: bool = False) -> Any:
    """Run *coro* to completion (or, with *forever*, until the loop is stopped).

    Parameters
    ----------
    coro : coroutine
    forever : bool
        Start *coro* as a task and run the loop until something calls
        ``loop.stop()``; the task is cancelled then.

    Returns
    -------
    The coroutine's result (None with *forever*).
    """
    loop = _loop()
    task = None
    try:
        if forever:
            task = loop.create_task(coro)
            loop.run_forever()
            return None
        return loop.run_until_complete(coro)
    finally:
        if task is not None:
            task.cancel()
        loop.stop()
        loop.close()
