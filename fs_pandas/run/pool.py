"""A run's requests on a few threads, their outcomes back on one queue.

The engine keeps every piece of a run's state (records, ledger, admission) on the one thread
that iterates its events; the network waits happen here, several at once, which is what a
latency of tens of milliseconds per request asks for (a million rows mean about a thousand
result pages). Threads rather than asyncio: the client is ``requests`` (blocking, with retries,
redaction and proxy rules already right), a handful of threads is all the concurrency
Fullstory's caps let a run use, and the GIL is released while a thread waits on a socket.

Workers never touch the run's state: each task's outcome (its value or its exception) comes
back as a :class:`Done` on the queue, and a task may :meth:`~RequestPool.post` progress events
on the way. Closing never waits for a worker (see :meth:`RequestPool.close`).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["Done", "RequestPool", "Tag"]

#: What a task is and for which chunk: ("create" | "poll" | "results", chunk number).
Tag = tuple[str, int]


@dataclass(frozen=True)
class Done:
    """A finished task: its ``tag`` and either its ``value`` or the ``error`` it raised."""

    tag: Tag
    value: Any = None
    error: BaseException | None = None


class RequestPool:
    """Run tasks on at most ``workers`` threads; hand back their outcomes in finishing order.

    Parameters
    ----------
    workers : int
        Threads, hence requests in flight at most.
    """

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fs-pandas")
        self._queue: queue.Queue[Any] = queue.Queue()
        self._running: dict[Tag, Future[None]] = {}

    def __len__(self) -> int:
        """Tasks submitted whose outcome has not been taken back yet."""
        return len(self._running)

    def running(self, tag: Tag) -> bool:
        return tag in self._running

    def submit(self, tag: Tag, task: Callable[[], Any]) -> None:
        """Run ``task()`` on a worker; its outcome comes back from :meth:`next` as ``tag``."""
        if tag in self._running:
            raise ValueError(f"a task {tag!r} is already running")

        def run() -> None:
            try:
                self._queue.put(Done(tag, value=task()))
            except BaseException as error:  # handed to the run's thread, which decides
                self._queue.put(Done(tag, error=error))

        self._running[tag] = self._executor.submit(run)

    def post(self, item: Any) -> None:
        """Put ``item`` on the queue (a worker's progress event, or a wake-up from any thread)."""
        self._queue.put(item)

    def next(self, timeout: float | None) -> Any:
        """The next item (a :class:`Done` or a posted item), or None after ``timeout`` seconds
        (None: wait for one)."""
        try:
            item = self._queue.get(timeout=None if timeout is None else max(timeout, 0.0))
        except queue.Empty:
            return None
        if isinstance(item, Done):
            self._running.pop(item.tag, None)
        return item

    def wait_for(self, tags: set[Tag]) -> list[Done]:
        """Wait until the tasks ``tags`` have finished; their outcomes (other items dropped)."""
        outcomes: list[Done] = []
        while tags & self._running.keys():
            item = self.next(None)
            if isinstance(item, Done) and item.tag in tags:
                outcomes.append(item)
        return outcomes

    def close(self) -> None:
        """Cancel the tasks not started; never wait for running ones.

        This may run when a run is abandoned or interrupted, even inside the garbage collector
        (a generator's ``finally``): a request under way ends on its own, bounded by the
        client's timeouts, and its outcome is dropped.
        """
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._running.clear()
