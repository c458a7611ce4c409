"""When batch jobs run: the §4 caps, running slots and which job is due to finish.

Owns the org's jobs in creation order and the subset still in progress; the admission caps
(``max_in_progress`` jobs, ``max_rows_in_progress`` rows: a 429 beyond them); the running slots
(``max_running``: later jobs wait QUEUED, and each freed slot goes to the oldest waiting job at
the moment it freed); and, for time-based processing, which running job is due next. It moves
jobs only through their state machine (``Job.start``); finishing a job needs the store, so
``OrgState`` does it and then calls :meth:`JobQueue.retire`. Not thread-safe on its own.
:class:`JobWorker` does the org's batch work between requests, on a thread of its own: it checks new
jobs' rows while they process and finishes jobs whose time is up.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.models import Job
from fs_pandas.emulator.replies import MSG_404, RefusedError, too_many_requests


class JobQueue:
    """Every batch job of the org, and the ones in progress (QUEUED or RUNNING)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.active: dict[str, Job] = {}  # jobs in progress, creation order

    def get(self, kind: str, job_id: str) -> Job:
        """The ``kind`` job with ``job_id``; 404 ``resource_not_found`` for any other."""
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise RefusedError(404, "resource_not_found", MSG_404)
        return job

    def running_count(self) -> int:
        """How many jobs hold a running slot."""
        return sum(1 for j in self.active.values() if j.running)

    def admit(self, rows: int, config: EmulatorConfig) -> None:
        """§4: 429 once max_in_progress jobs or max_rows_in_progress rows are in progress."""
        if len(self.active) >= config.max_in_progress or (
            sum(j.n_requests for j in self.active.values()) >= config.max_rows_in_progress
        ):
            raise too_many_requests(config.retry_after)

    def add(self, job: Job, max_running: int) -> None:
        """Register a new job; it starts at once when a running slot is free."""
        self.jobs[job.id] = job
        self.active[job.id] = job
        if self.running_count() < max_running:
            job.start(job.created)

    def next_due(self, seconds: float, now: float) -> Job | None:
        """The running job whose ``seconds`` of processing ended first by ``now``, if any."""
        due = [j for j in self.active.values() if j.running and j.deadline(seconds) <= now]
        return min(due, key=lambda j: j.deadline(seconds)) if due else None

    def start_queued(self, at: float, max_running: int) -> None:
        """Give free running slots to the oldest queued jobs, from ``at``."""
        free = max_running - self.running_count()
        for job in self.active.values():
            if free <= 0:
                return
            if not job.running:
                job.start(at)
                free -= 1

    def retire(self, job: Job) -> None:
        """A finished job is no longer in progress (its results stay)."""
        del self.active[job.id]

    def first_unapplied(self) -> Job | None:
        """The oldest job in progress with rows not applied yet: jobs apply in order."""
        return next((j for j in self.active.values() if j.applied < len(j.rows)), None)

    def seconds_to_next_due(self, seconds: float, now: float) -> float | None:
        """Seconds from ``now`` until a running job's ``seconds`` of processing end (None:
        no job is running)."""
        ends = [j.deadline(seconds) for j in self.active.values() if j.running]
        return min(ends) - now if ends else None


logger = logging.getLogger(__name__)
_NONE_YET: Any = object()  # the worker's wait ended with no job put


class JobWorker:
    """A thread doing an org's batch work between requests, as Fullstory does it in the
    background: it checks the rows of new jobs, oldest first (:meth:`Job.run_checks`; a job
    ending first checks its rows itself), then calls ``apply`` with the job and the pause to
    take between steps (which applies its rows to the store); it runs the chores given to
    :meth:`later` in turn with them; and, with nothing to do, calls ``idle`` (which finishes
    the jobs whose time is up, and says in how many seconds the next one is due, or None).
    The thread starts with the first work put and stops at :meth:`close`.

    It gives way to creates: no work starts while a create is being read
    (:meth:`giving_way`). Both share one interpreter lock, and a create answered late holds
    up the client's next upload and the start of its processing, where checks have until
    the job ends.
    """

    def __init__(
        self,
        idle: Callable[[], float | None] | None = None,
        apply: Callable[[Job, Callable[[], None]], None] | None = None,
    ) -> None:
        self._idle = idle
        self._apply = apply
        self._jobs: queue.SimpleQueue[Job | Callable[[], object] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._creates = 0  # creates being read
        self._closing = False
        self._no_creates = threading.Event()
        self._no_creates.set()

    @contextmanager
    def giving_way(self) -> Iterator[None]:
        """While a create is read: no work starts, and checks under way pause."""
        with self._lock:
            self._creates += 1
            self._no_creates.clear()
        try:
            yield
        finally:
            with self._lock:
                self._creates -= 1
                if not self._creates:
                    self._no_creates.set()

    def put(self, job: Job) -> None:
        """Check ``job``'s rows when the jobs put before it are checked."""
        self._put(job)

    def later(self, chore: Callable[[], object]) -> None:
        """Call ``chore`` (work no request waits for) after the work put before it."""
        self._put(chore)

    def _put(self, item: Job | Callable[[], object]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="fs-pandas-emulator-worker", daemon=True
                )
                self._thread.start()
        self._jobs.put(item)

    def _work(self) -> None:
        wait: float | None = None  # until the next idle call (None: until work comes)
        while True:
            try:
                item = self._jobs.get(timeout=wait)
            except queue.Empty:
                item = _NONE_YET
            if item is None:
                return
            self._give_way()
            if isinstance(item, Job):
                self._check_and_apply(item)
            elif item is not _NONE_YET:
                self._chore(item)
            if self._idle is not None and self._jobs.empty():
                due = self._idle()
                # At most a second: a clock setting may run faster than the real one.
                wait = None if due is None else min(max(due, 0.005), 1.0)

    def _check_and_apply(self, job: Job) -> None:
        pause = functools.partial(self._give_way, job)
        try:
            job.run_checks(pause=pause)
            if self._apply is not None:
                self._apply(job, pause)
        except Exception:  # an emulator bug: the job's end does this work again
            logger.exception("checking or applying the rows of job %s failed", job.id)

    @staticmethod
    def _chore(chore: Callable[[], object]) -> None:
        try:
            chore()
        except Exception:  # an emulator bug: a chore's work is redone when next needed
            logger.exception("a background chore of the emulator failed")

    def _give_way(self, job: Job | None = None) -> None:
        """Wait while a create is being read, unless closing or ``job``'s end is waiting
        for the checks this thread holds (the end runs on the thread reading creates)."""
        while not self._no_creates.wait(0.05) and not self._closing:
            if job is not None and job.wanted:
                return

    def close(self) -> None:
        """Stop the thread once the jobs put before are checked (no longer giving way)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._closing = True
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout=10)
        self._closing = False  # put() may start a new thread
