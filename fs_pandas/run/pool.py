"""A run's requests on a few threads, their outcomes back on one queue.

The engine keeps every piece of a run's state (records, ledger, admission) on the one thread
that iterates its events; the network waits happen here, several at once, which is what a
latency of tens of milliseconds per request asks for (a million rows mean about a thousand
result pages). Threads rather than asyncio: the client is ``requests`` (blocking, with retries,
redaction and proxy rules already right), a handful of threads is all the concurrency
Fullstory's caps let a run use, and the GIL is released while a thread waits on a socket.

Requests wait their turn by priority (a create before a poll before a result page) and at most
``requests`` are under way; other work (joining a job's results, CPU-bound) runs on one thread
of its own, one task after another, in the order submitted: the jobs of a wave finish their
pages together, and joined on as many threads each would leave its temporaries in its
thread's own malloc arena, kept after (about 120 MiB more at the peak of a 1M run); one join
takes about 0.1 s. Workers never touch the run's state: each task's outcome (its value or its
exception) comes back as a :class:`Done` on the queue. Closing never waits for a worker (see
:meth:`RequestPool.close`).
"""

from __future__ import annotations

import heapq
import itertools
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["Done", "RequestPool", "Tag"]

#: What a task is and for which chunk: ("create" | "poll" | "imports" | "errors" | "join", n).
Tag = tuple[str, int]


@dataclass(frozen=True)
class Done:
    """A finished task: its ``tag`` and either its ``value`` or the ``error`` it raised."""

    tag: Tag
    value: Any = None
    error: BaseException | None = None


class RequestPool:
    """Run tasks on threads; hand back their outcomes in finishing order.

    Parameters
    ----------
    requests : int
        Requests under way at once, at most.
    """

    def __init__(self, requests: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=requests, thread_name_prefix="fs-pandas")
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fs-pandas-work")
        self._limit = requests
        self._queue: queue.Queue[Any] = queue.Queue()
        self._waiting: list[tuple[int, int, Tag, Callable[[], Any]]] = []  # a heap
        self._seq = itertools.count()
        self._requests: set[Tag] = set()  # requests under way
        self._tasks: dict[Tag, Future[None] | None] = {}  # submitted, outcome not taken back

    def __len__(self) -> int:
        """Tasks submitted whose outcome has not been taken back yet (waiting ones too)."""
        return len(self._tasks)

    def submit(self, tag: Tag, task: Callable[[], Any], *, priority: int | None = None) -> None:
        """Run ``task()``; its outcome comes back from :meth:`next` as ``tag``.

        A task with a ``priority`` is a request: it waits until fewer than ``requests`` are
        under way and none of a lower priority number waits. Without, it is work: it runs
        after the work submitted before it, on the one thread for work.
        """
        if tag in self._tasks:
            raise ValueError(f"a task {tag!r} is already running")
        if priority is None:
            self._tasks[tag] = self._start(tag, task, self._worker)
            return
        self._tasks[tag] = None
        heapq.heappush(self._waiting, (priority, next(self._seq), tag, task))
        self._dispatch()

    def post(self, item: Any) -> None:
        """Put ``item`` on the queue (a wake-up from any thread)."""
        self._queue.put(item)

    def next(self, timeout: float | None) -> Any:
        """The next item (a :class:`Done` or a posted item), or None after ``timeout`` seconds
        (None: wait for one)."""
        try:
            item = self._queue.get(timeout=None if timeout is None else max(timeout, 0.0))
        except queue.Empty:
            return None
        if isinstance(item, Done):
            self._tasks.pop(item.tag, None)
            if item.tag in self._requests:
                self._requests.discard(item.tag)
                self._dispatch()
        return item

    def started(self, tags: set[Tag]) -> set[Tag]:
        """Which of ``tags`` have started (rather than wait their turn)."""
        return {tag for tag in tags if self._tasks.get(tag) is not None}

    def drop_waiting(self) -> None:
        """Forget the requests that have not started: they never will."""
        for _, _, tag, _ in self._waiting:
            self._tasks.pop(tag, None)
        self._waiting.clear()

    def wait_for(self, tags: set[Tag]) -> list[Done]:
        """Wait until the started tasks ``tags`` have finished; their outcomes (other items
        dropped)."""
        outcomes: list[Done] = []
        while tags & self._tasks.keys():
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
        self.drop_waiting()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._tasks.clear()

    def _dispatch(self) -> None:
        while self._waiting and len(self._requests) < self._limit:
            _, _, tag, task = heapq.heappop(self._waiting)
            self._requests.add(tag)
            self._tasks[tag] = self._start(tag, task, self._executor)

    def _start(
        self, tag: Tag, task: Callable[[], Any], executor: ThreadPoolExecutor
    ) -> Future[None]:
        def run() -> None:
            try:
                self._queue.put(Done(tag, value=task()))
            except BaseException as error:  # handed to the run's thread, which decides
                self._queue.put(Done(tag, error=error))

        return executor.submit(run)
