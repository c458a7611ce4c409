"""Chunks -> jobs -> joined results, under admission control. Yields progress events; no UI.

One thread drives every job in flight and owns the run's state: it admits the next chunk while
the in-flight bounds allow, polls the jobs that are due (the oldest running job every
``max_poll_interval`` seconds, younger ones less often and at once when an older one finishes),
and when a job finishes, pages through *both* its imports and its errors, whatever its status
says (FAILED is often a partial success, and a server may answer COMPLETED with ``"errors": N``,
contract §11.3), and joins them back to the source rows. The requests themselves run on a small
pool (:mod:`fs_pandas.run.pool`), several at once, creates first, then polls, then result pages;
joins run there too. A job frees its place in flight when Fullstory says it finished, so the
next chunk uploads while its results are read. Chunks are built lazily and no body is kept once
its create is answered, so memory is bounded by the jobs in flight, not by the frame.

Waiting can be stopped: :meth:`Runner.stop` (from any thread) or a ``timeout`` ends the run at
its next wait, with a final :class:`RunFinished` whose ``aborted`` says why; the jobs already
created keep running at Fullstory, journalled for a resume.

A create Fullstory answers with the job an earlier run journalled under the same key (the same
cell run again within 24 h) is a replay: nothing new was sent. The runner is told those earlier
jobs (``earlier_jobs``; it reads no files) and marks such chunks (:attr:`ChunkRecord.replayed_at`,
:attr:`JobCreated.replayed_at`); their results are read as usual.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import itertools
import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from fs_pandas._types import JobKind
from fs_pandas.errors import (
    DuplicateJobWarning,
    FullstoryError,
    RateLimitedError,
    ReconciliationWarning,
    RetryExhaustedError,
    TransportError,
)
from fs_pandas.models import ImportIds, Job, JobStatus, Page
from fs_pandas.progress.events import (
    ChunkPlanned,
    JobCreated,
    JobFinished,
    JobPolled,
    PageFetched,
    ProgressEvent,
    RunFinished,
    RunStarted,
)
from fs_pandas.run.join import JobJoin, compact_ids, join_job, join_users
from fs_pandas.run.ledger import KEY_SCHEME, Ledger
from fs_pandas.run.pool import Done, RequestPool
from fs_pandas.specs import Pacing, check_timeout

__all__ = ["ChunkRecord", "RunStopped", "Runner", "format_when", "idempotency_key"]

logger = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]

# Fullstory accepts at most 50,000 requests per batch job (contract §4).
# A finished job's results may lag its status briefly (202); this many answers is not "briefly".
_MAX_NOT_READY = 50
# Refused at Fullstory's cap with no job of ours in flight: other runs' jobs hold it; give up
# (the rows stay pending, resumable) when it has not freed in this long.
_CAP_PATIENCE = 30 * 60.0
# Requests wait their turn in this order: a job's processing starts when its create is
# answered, and a finished job is freed (its place in flight) by its poll, while a finished
# job's pages can be read any time -- and its upload would otherwise share the link, and the
# server, with a stream of page downloads.
_CREATE, _POLL, _PAGE = range(3)
# Uploads go out two at a time: sharing the link (and the server) among all the creates of a
# wave would finish them all late, together, where in turn the first jobs start at once; the
# second overlaps the round trip of the first.
_CREATES_AT_ONCE = 2
_YOUNGER_POLLS_SLOWER = 4  # see Runner._next_interval
_WAKE = object()  # put on a run's queue by stop(): the run's thread wakes and sees why


class RunStopped(Exception):  # noqa: N818 (a signal to stop, not an error)
    """Raised inside a run's waits when it must stop waiting (``reason``: "cancelled" or
    "timeout"); :meth:`Runner.events` ends the run on it. Also raised by
    :meth:`Runner.check_stop` from a client's retry listener, to cut a retry backoff short."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class ChunkLike(Protocol):
    number: int
    positions: Positions
    body: bytes

    def __len__(self) -> int: ...


class PlanLike(Protocol):
    kind: Literal["users", "events"]
    n_rows: int
    accepted_positions: Positions

    @property
    def rejected(self) -> Any: ...

    def chunks(self, size: int = ...) -> Iterator[Any]: ...

    def requests_at(self, positions: Positions) -> list[dict[str, Any]]: ...

    def identities(self, positions: Positions) -> tuple[Any, Any]: ...


class ClientLike(Protocol):
    def create_job(self, kind: JobKind, body: bytes, *, idempotency_key: str) -> Job: ...

    def job_status(self, kind: JobKind, job_id: str) -> Job: ...

    def job_page(
        self,
        kind: JobKind,
        job_id: str,
        what: Literal["imports", "errors"],
        *,
        page_token: str | None = None,
        include_schema: bool = False,
    ) -> Page: ...

    def job_import_ids(
        self, job_id: str, *, page_token: str | None = None, include_schema: bool = False
    ) -> ImportIds: ...


def idempotency_key(
    kind: JobKind,
    body: bytes,
    *,
    chunk: int,
    chunk_size: int,
    scheme: int = KEY_SCHEME,
    salt: str | None = None,
) -> str:
    """The Idempotency-Key of one chunk of a run.

    The key is a hash of what the chunk is (its body) and where it is in its run (its number
    and the run's chunk size): a retried create, a resume, or the same cell run again within
    24 h gets the same key and so the same job, while two byte-identical chunks of one run
    (anonymous users with the same properties, repeated events) each get a job of their own.

    Parameters
    ----------
    kind : {"users", "events"}
    body : bytes
        The chunk body, exactly as sent.
    chunk, chunk_size : int
        The chunk's number in its run and the run's chunk size.
    scheme : int, default KEY_SCHEME
        ``1`` is the key of ledgers written before version 3: the body alone, so that
        byte-identical chunks of one run shared a key and all but the first were answered with
        the first one's job. It is kept only to resume those runs (see :mod:`fs_pandas.run.ledger`).
    salt : str, optional
        A run sent again on purpose (``resend=True``) salts its keys with a random string, kept
        in its ledger: Fullstory then makes new jobs instead of replaying the earlier ones.
        Scheme 2 only. Without a salt the key is what it always was.
    """
    if scheme not in (1, 2):
        raise ValueError(f"unknown Idempotency-Key scheme {scheme!r}")
    if scheme == 1:
        if salt is not None:
            raise ValueError("Idempotency-Key scheme 1 takes no salt")
        return f"fs-pandas-{kind}-" + hashlib.sha256(body).hexdigest()[:48]
    place = f"{kind}:{chunk}:{chunk_size}:" + ("" if salt is None else f"{salt}:")
    digest = hashlib.sha256(place.encode())
    digest.update(body)
    return f"fs-pandas-{kind}-{chunk}-" + digest.hexdigest()[:48]


def format_when(when: dt.datetime) -> str:
    """A run's start as the displays and notes say it: ``"2026-11-30 14:05 UTC"``."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _seconds_between(start: str, end: str | None) -> float | None:
    """Seconds from one RFC 3339 time of Fullstory's to another, or None when either is
    missing or unreadable, or they do not make a duration."""
    try:
        first, last = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end or "")
        seconds = (last - first).total_seconds()
    except (ValueError, TypeError):  # unreadable, or one with a zone and one without
        return None
    return seconds if 0 <= seconds < math.inf else None


def _terminal_status(job: Job, errors: int) -> JobStatus:
    """The status a finished job is reported with: FAILED whenever it has failed rows, even
    when Fullstory says COMPLETED next to ``"errors": N`` (contract §11.3)."""
    if job.status is JobStatus.COMPLETED and (errors or job.errors):
        return JobStatus.FAILED
    return job.status


@dataclass
class ChunkRecord:
    """What became of one chunk: its rows, its key, its job and, once finished, its join."""

    number: int
    positions: Positions
    key: str
    job_id: str | None = None
    status: JobStatus | None = None
    join: JobJoin | None = None
    #: When the earlier run that made this chunk's job started ("2026-11-30 14:05 UTC"), if
    #: Fullstory answered the create with that run's job (a replay: nothing new was sent).
    replayed_at: str | None = None
    #: Counts-only runs (a Standard key): a finished job whose rows' results were not read,
    #: as (imported, failed) from its status. Its rows stay pending.
    unread_counts: tuple[int, int] | None = None

    @property
    def rows(self) -> int:
        return len(self.positions)


ResultKind = Literal["imports", "errors"]
_RESULT_KINDS: tuple[ResultKind, ResultKind] = ("errors", "imports")


@dataclass
class _Reading:
    """A finished job whose results are being read: one chain of pages per result kind
    (each page's token is the next one's address), read side by side."""

    record: ChunkRecord
    job: Job
    tokens: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(_RESULT_KINDS))
    seen: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in _RESULT_KINDS})
    not_ready: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_RESULT_KINDS, 0))
    done: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    import_ids: list[ImportIds] = field(default_factory=list)  # a users job's imports

    def keep(self, what: ResultKind, page: Page | ImportIds) -> int:
        """Keep a page's results; how many it held."""
        if isinstance(page, ImportIds):
            self.import_ids.append(page)
            return len(page)
        (self.errors if what == "errors" else self.imports).extend(page.results)
        return len(page.results)


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    chunk: int = field(compare=False)
    interval: float = field(compare=False)


class Runner:
    """Drive one run's chunks through Fullstory batch jobs.

    Iterate :meth:`events` to do the work; afterwards :attr:`records` holds every chunk's
    outcome and :attr:`aborted` the reason the run stopped early, if it did.

    ``timeout`` (seconds from the first event) is a deadline for waiting: at the first wait that
    would pass it, the run stops (:attr:`stopped` is ``"timeout"``). :meth:`stop` does the same
    from another thread (``"cancelled"``), waking the run at once. Requests under way are left
    to end on their own, except a create already sent: it is waited for, so its job is
    journalled; creates not yet sent are not sent.

    One job answers for one chunk. When Fullstory answers a chunk with a job that already
    answered another chunk of the run (an Idempotency-Key collision, a server replaying the
    wrong answer), that job holds the other chunk's requests, not these: the chunk's rows are
    reported failed with code ``duplicate_job`` and a :class:`DuplicateJobWarning` is issued;
    they are never reported imported.

    ``earlier_jobs`` maps Idempotency-Keys other runs journalled (within 24 h) to (when that
    run started, the job it got): a chunk answered with that very job was replayed, not sent.
    ``key_salt`` salts the keys of chunks that have no recorded key (``resend=True``).
    """

    def __init__(
        self,
        client: ClientLike,
        plan: PlanLike,
        *,
        options: Pacing,
        ledger: Ledger | None = None,
        known_jobs: Mapping[int, str] | None = None,
        known_keys: Mapping[int, str] | None = None,
        earlier_jobs: Mapping[str, tuple[dt.datetime, str]] | None = None,
        key_salt: str | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.plan = plan
        self.kind: JobKind = plan.kind
        self.options = options
        self.rows_per_job = options.rows_per_job(len(plan.accepted_positions))
        self.ledger = ledger
        self.known_jobs = dict(known_jobs or {})
        # Keys a resumed ledger recorded: a chunk is sent again under the key it had.
        self.known_keys = dict(known_keys or {})
        self.earlier_jobs = dict(earlier_jobs or {})
        self.key_salt = key_salt
        self.clock = clock
        self.timeout = check_timeout(timeout)
        self.records: dict[int, ChunkRecord] = {}
        self.aborted: str | None = None
        #: Why the run stopped waiting: "cancelled", "timeout", "interrupted" (set by the
        #: caller that caught a KeyboardInterrupt), or None.
        self.stopped: str | None = None
        self._stop_requested = threading.Event()
        self._stop_reason: str | None = None
        self._deadline: float | None = None
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._rows_in_flight = 0
        self._jobs_in_flight = 0
        # Fullstory refused a create at its org-wide cap (429): no chunk goes out before this
        # time (infinity: until a job of ours finishes). None: not at the cap.
        self._cap_until: float | None = None
        self._refused_since: float | None = None  # refused with nothing of ours in flight
        self._creating: dict[int, Any] = {}  # chunk number -> the chunk whose create is out
        self._readings: dict[int, _Reading] = {}  # finished jobs whose results are being read
        # Chunks planned and not sent yet, in order: refused a slot, or refused by Fullstory
        # at its cap (sent again when a job of ours finishes).
        self._waiting: list[Any] = []
        self._pool = RequestPool(1)  # replaced by events(); here so stop() always has one
        self._job_chunks: dict[str, int] = {}  # job id -> the chunk it answered first
        self._polled_since: dict[int, float] = {}  # chunk -> when its job's polling began
        # How long the last job of this run seen finished took at Fullstory (its own
        # "finished" minus "created"), or None: the likely length of the jobs still running.
        self._job_seconds: float | None = None

    # -- the loop ---------------------------------------------------------------------------

    def events(self) -> Generator[ProgressEvent, None, None]:
        """Run to the end, yielding progress events; re-raises a fatal API error after
        yielding a final :class:`RunFinished` that carries its reason."""
        chunks = iter(self.plan.chunks(self.rows_per_job))
        if self.timeout is not None:
            self._deadline = self.clock() + self.timeout
        self._pool = RequestPool(self.options.max_requests_in_flight)
        yield self._started()
        try:
            while True:
                if (yield from self._admit(chunks)):
                    # One chunk at a time: building the next one takes a while, and what
                    # came back meanwhile (creates, polls due) is dealt with first.
                    yield from self._step(block=False)
                    continue
                if not self._due and not len(self._pool):
                    if self._cap_until is not None:  # refused at the cap, nothing in flight
                        self._pause(self._cap_until - self.clock())
                        self._cap_until = None
                        continue
                    if self._waiting or self._peek(chunks):
                        continue
                    break
                yield from self._step()
        except (RetryExhaustedError, TransportError) as exc:
            self.aborted = f"stopped after repeated failures: {exc}"
            logger.warning("run stopped early: %s", exc)
        except RunStopped as stop:
            self._settle_creates()
            self.mark_stopped(stop.reason, stop.message)
        except FullstoryError as exc:
            self.aborted = str(exc)
            yield self._finished()
            raise
        finally:
            # Close the chunk builder here, on this thread, whatever ended the run: left to the
            # garbage collector it would close at an arbitrary allocation of some thread.
            self._pool.close()
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        yield self._finished()

    def _step(self, *, block: bool = True) -> Iterator[ProgressEvent]:
        """Send the polls that are due, then deal with what came back: the next outcome, or
        (``block``) wait for one, the next due poll, the deadline or a stop, whichever comes
        first; without ``block``, everything that is back already, and no wait."""
        while True:
            item = self._next(block)
            if isinstance(item, Done):
                yield from self._outcome(item)
            elif item is not None and item is not _WAKE:
                yield item  # a worker's progress event
            if block or item is None:
                return

    def _next(self, block: bool) -> Any:
        now = self.clock()
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            self._pool.submit(("poll", due.chunk), self._poller(due), priority=_POLL)
        wakes = [self._due[0].at] if self._due else []
        if self._cap_until is not None and self._cap_until < math.inf:
            wakes.append(self._cap_until)  # a chunk refused at the cap is tried again then
        wait: float | None = min(wakes) - now if wakes else None
        if self._deadline is not None:
            wait = min(wait if wait is not None else math.inf, max(self._deadline - now, 0.0))
        if not block:
            wait = 0.0
        item: Any = None
        if len(self._pool) or wait is None:
            item = self._pool.next(wait)
        elif wait > 0:  # nothing in flight: wait for the next due poll (a stop wakes it)
            self._stop_requested.wait(wait)
        self.check_stop()
        return item

    def _outcome(self, done: Done) -> Iterator[ProgressEvent]:
        what, number = done.tag
        if what == "create":
            yield from self._created(self._creating.pop(number), done)
            return
        if done.error is not None:
            raise done.error
        if what == "poll":
            yield from self._polled(number, *done.value)
        elif what == "join":
            yield self._joined(self.records[number], *done.value)
        else:
            kind: ResultKind = "imports" if what == "imports" else "errors"
            yield from self._paged(self._readings[number], kind, done.value)

    # -- stopping -----------------------------------------------------------------------------

    def stop(self, reason: str = "cancelled") -> None:
        """Ask the run to stop waiting (thread-safe); it ends at its next wait or check."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop_requested.set()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.post(_WAKE)

    def report(self, event: ProgressEvent) -> None:
        """Hand a progress event from another thread (a request's retry) to :meth:`events`,
        which yields it in turn: the thread that draws the run's progress draws it too."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.post(event)

    def mark_stopped(self, reason: str, message: str | None = None) -> None:
        """Record that the run stopped waiting (the caller's own KeyboardInterrupt included)."""
        self.stopped = reason
        self.aborted = message or reason
        # info, not warning: the display and RunInterrupted say it to the user already.
        logger.info("run stopped waiting (%s); its jobs keep running at Fullstory", reason)

    def check_stop(self, *, ahead: float = 0.0) -> None:
        """Raise :class:`RunStopped` if a stop was asked for, or if waiting ``ahead`` more
        seconds would pass the deadline (a retry backoff is cut short rather than overrun)."""
        if self._stop_requested.is_set():
            reason = self._stop_reason or "cancelled"
            raise RunStopped(reason, reason)
        if self._deadline is not None and self.clock() + ahead >= self._deadline:
            assert self.timeout is not None
            raise RunStopped("timeout", f"timed out after {self.timeout:g} s")

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the deadline or a stop comes first (then raise)."""
        if self._deadline is not None:
            seconds = min(seconds, max(self._deadline - self.clock(), 0.0))
        if seconds > 0:
            self._stop_requested.wait(seconds)
        self.check_stop()

    def _settle_creates(self) -> None:
        """A stopped run still journals the jobs whose create was under way: their answers
        come within the client's timeouts, and a job known is a job resumed, not re-sent.
        Creates that had not started are not sent."""
        self._pool.drop_waiting()
        started = self._pool.started({("create", number) for number in self._creating})
        for done in self._pool.wait_for(started):
            chunk = self._creating.pop(done.tag[1])
            if done.error is None:
                self._record_job(chunk, done.value)

    # -- admission ----------------------------------------------------------------------------

    def _peek(self, chunks: Iterator[Any]) -> bool:
        chunk = next(chunks, None)
        if chunk is None:
            return False
        self._waiting.append(chunk)
        return True

    def _admit(self, chunks: Iterator[Any]) -> Generator[ProgressEvent, None, bool]:
        """Plan the next chunks and send one if there is room; True when one was sent."""
        waiting = self._waiting
        while waiting or self._peek(chunks):
            chunk = waiting[0]
            if chunk.number not in self.records:
                self._plan(chunk)
                yield ChunkPlanned(chunk=chunk.number, rows=len(chunk))
            if chunk.number in self.known_jobs:
                waiting.pop(0)
                yield from self._reattach(chunk)
                continue
            if len(self._creating) >= _CREATES_AT_ONCE:
                return False
            if self._at_cap() or not self._has_room(len(chunk)):
                return False
            self.check_stop()  # past the deadline: leave the chunk unsent (resume sends it)
            waiting.pop(0)
            self._send(chunk)
            return True
        return False

    def _has_room(self, rows: int) -> bool:
        if not self._jobs_in_flight:
            return True  # a chunk always fits when nothing else is in flight
        return (
            self._jobs_in_flight < self.options.max_jobs_in_flight
            and self._rows_in_flight + rows <= self.options.max_rows_in_flight
        )

    def _plan(self, chunk: Any) -> None:
        key = self.known_keys.get(chunk.number) or idempotency_key(
            self.kind,
            chunk.body,
            chunk=chunk.number,
            chunk_size=self.rows_per_job,
            salt=self.key_salt,
        )
        self.records[chunk.number] = ChunkRecord(chunk.number, chunk.positions, key)
        if self.ledger is not None:
            self.ledger.chunk_planned(chunk.number, rows=len(chunk), key=key)

    def _send(self, chunk: Any) -> None:
        """Create the chunk's job on a worker; it holds a place in flight from now on."""
        key = self.records[chunk.number].key
        self._creating[chunk.number] = chunk
        self._take_slot(len(chunk))
        self._pool.submit(
            ("create", chunk.number),
            lambda: self.client.create_job(self.kind, chunk.body, idempotency_key=key),
            priority=_CREATE,
        )

    def _take_slot(self, rows: int) -> None:
        self._jobs_in_flight += 1
        self._rows_in_flight += rows

    def _free_slot(self, rows: int) -> None:
        self._jobs_in_flight -= 1
        self._rows_in_flight -= rows
        self._cap_until = None  # a job of ours finished: there is room at Fullstory again

    def _at_cap(self) -> bool:
        return self._cap_until is not None and self.clock() < self._cap_until

    def _created(self, chunk: Any, done: Done) -> Iterator[ProgressEvent]:
        if done.error is None:
            self._refused_since = None
            yield from self._record_job(chunk, done.value)
            return
        self._free_slot(len(chunk))
        error = done.error
        if not (
            isinstance(error, RetryExhaustedError)
            and isinstance(error.last_error, RateLimitedError)
        ):
            raise error
        # Fullstory is at its org-wide cap (contract §4): other jobs, ours or another run's,
        # must finish first. The chunk waits for a job of ours, or with none in flight, a
        # while; only a cap that never frees ends the run.
        self._waiting.insert(0, chunk)
        self._waiting.sort(key=lambda waiting: waiting.number)
        if self._jobs_in_flight:
            logger.info("Fullstory is at its batch cap; waiting for a job of this run to finish")
            self._cap_until = math.inf
            return
        now = self.clock()
        if self._refused_since is None:
            self._refused_since = now
        if now - self._refused_since > _CAP_PATIENCE:
            raise error
        logger.info("Fullstory is at its batch cap with other jobs; trying again shortly")
        self._cap_until = now + self.options.max_poll_interval

    def _record_job(self, chunk: Any, job: Job) -> Iterator[ProgressEvent]:
        record = self.records[chunk.number]
        record.job_id = job.id
        if self.ledger is not None:
            self.ledger.job_created(chunk.number, job_id=job.id)
        replayed_at = self._replayed(record)
        if replayed_at is not None:
            logger.info(
                "chunk %d: Fullstory answered with job %s, already sent at %s; nothing new sent",
                chunk.number,
                job.id,
                replayed_at,
            )
        created = JobCreated(chunk.number, job.id, len(chunk), replayed_at=replayed_at)
        return self._attach(chunk, created)

    def _reattach(self, chunk: Any) -> Iterator[ProgressEvent]:
        record = self.records[chunk.number]
        record.job_id = self.known_jobs[chunk.number]
        created = JobCreated(
            chunk.number,
            record.job_id,
            len(chunk),
            reattached=True,
            replayed_at=self._replayed(record),
        )
        self._take_slot(len(chunk))
        return self._attach(chunk, created)

    def _replayed(self, record: ChunkRecord) -> str | None:
        """When an earlier run got this chunk's job under its key, or None: the job is then a
        replay of that run's create (compared by job id, not by any clock)."""
        earlier = self.earlier_jobs.get(record.key)
        if earlier is None or earlier[1] != record.job_id:
            return None
        record.replayed_at = format_when(earlier[0])
        return record.replayed_at

    def _attach(self, chunk: Any, created: JobCreated) -> Iterator[ProgressEvent]:
        """Start polling the chunk's job, unless that job already answered another chunk."""
        first = self._job_chunks.setdefault(created.job_id, chunk.number)
        if first != chunk.number:
            self._free_slot(len(chunk))
            return iter([created, self._duplicate(self.records[chunk.number], first)])
        self._start_polling(chunk.number)
        return iter([created])

    def _duplicate(self, record: ChunkRecord, first: int) -> JobFinished:
        """Fail a chunk whose job holds another chunk's requests: none of its rows has a result
        of its own, and counting the other chunk's imports twice would report them imported."""
        assert record.job_id is not None
        message = (
            f"Fullstory answered chunk {record.number} with job {record.job_id}, which already "
            f"holds chunk {first} of this run: these {record.rows} rows were not imported by a "
            "job of their own and their outcome is unknown; send them again "
            "(result.retry_failed())"
        )
        record.join = JobJoin.failing(record.positions, "duplicate_job", message)
        record.status = JobStatus.FAILED
        logger.error(message)
        warnings.warn(message, DuplicateJobWarning, stacklevel=2)
        if self.ledger is not None:
            self.ledger.job_done(
                record.number,
                job_id=record.job_id,
                status="DUPLICATE",
                imported=0,
                failed=record.rows,
            )
        return JobFinished(record.number, record.job_id, JobStatus.FAILED, 0, record.rows)

    # -- polling ------------------------------------------------------------------------------

    def _start_polling(self, chunk: int) -> None:
        self._polled_since[chunk] = self.clock()
        self._schedule(chunk, self.options.poll_interval)

    def _poll_next_in_line(self, chunk: int) -> None:
        """A job was seen finished: poll at once the jobs of this run that began before it,
        and the one that began next. An org's batches run in the order they came (beyond 100
        they wait their turn, contract §4), so these are likely finished or next to finish;
        their backed-off polls would notice it seconds late."""
        since = self._polled_since.pop(chunk, math.inf)
        later = [t for t in self._polled_since.values() if t > since]
        next_in_line = min(later, default=math.inf)
        now = self.clock()
        due_now = [
            d
            for d in self._due
            if self._polled_since[d.chunk] <= max(since, next_in_line) and d.at > now
        ]
        for due in due_now:
            due.at = now
        if due_now:
            heapq.heapify(self._due)

    def _next_interval(self, chunk: int, interval: float) -> float:
        """The wait before a running job's next poll: it grows by ``poll_backoff`` up to
        ``max_poll_interval`` for the oldest job still running (the next to finish), and up
        to 4 times that for younger ones, which are polled at once when an older one ends."""
        longest = max(self.options.max_poll_interval, self.options.poll_interval)
        if self._polled_since[chunk] > min(self._polled_since.values()):
            longest *= _YOUNGER_POLLS_SLOWER
        return min(interval * self.options.poll_backoff, longest)

    def _schedule(self, chunk: int, interval: float) -> None:
        now = self.clock()
        at = min(now + interval, self._expected_end(chunk, after=now))
        heapq.heappush(self._due, _Due(at, next(self._seq), chunk, interval))

    def _expected_end(self, chunk: int, *, after: float) -> float:
        """When the chunk's job should end if it takes as long as the last job of this run
        seen finished (infinity when that is not known, or already past ``after``)."""
        if self._job_seconds is None:
            return math.inf
        end = self._polled_since.get(chunk, math.inf) + self._job_seconds
        return end if end > after else math.inf

    def _learn_job_length(self, job: Job) -> None:
        """A job was seen finished: from its own timestamps, how long jobs of this run take.
        Every running job gets a poll when that much has passed since its create was
        answered (if sooner than its next one): jobs of one run are alike, so the jobs
        after a wave's first are noticed as they end rather than up to a poll interval late.
        Only Fullstory's two timestamps are compared, so no clock needs to agree with ours."""
        seconds = _seconds_between(job.created, job.finished_at)
        if seconds is None:
            return
        self._job_seconds = seconds
        now = self.clock()
        moved = False
        for due in self._due:
            end = self._expected_end(due.chunk, after=now)
            if end < due.at:
                due.at, moved = end, True
        if moved:
            heapq.heapify(self._due)

    def _poller(self, due: _Due) -> Callable[[], tuple[Job, float]]:
        job_id = self.records[due.chunk].job_id
        assert job_id is not None
        return lambda: (self.client.job_status(self.kind, job_id), due.interval)

    def _polled(self, number: int, job: Job, interval: float) -> Iterator[ProgressEvent]:
        yield JobPolled(number, job.id, job.status, job.imports, job.errors)
        if not job.status.finished:
            self._schedule(number, self._next_interval(number, interval))
            return
        record = self.records[number]
        self._poll_next_in_line(number)
        self._learn_job_length(job)
        # Finished at Fullstory: its rows no longer count against the org's caps, so the next
        # chunk goes out while this job's results are read.
        self._free_slot(record.rows)
        if self.options.counts_only:
            yield self._counted(record, job)
            return
        self._readings[number] = reading = _Reading(record, job)
        for what in _RESULT_KINDS:
            self._request_page(reading, what)

    # -- a finished job ---------------------------------------------------------------------

    def _request_page(self, reading: _Reading, what: ResultKind) -> None:
        """Ask for the next page of one result kind of a finished job (the first, or the one
        the last page's token names); a page not readable yet (202) is asked for again."""
        job_id, token = reading.job.id, reading.tokens[what]
        delay = 0.0
        if reading.not_ready[what]:
            longest = max(self.options.max_poll_interval, self.options.poll_interval)
            delay = min(self.options.poll_interval * reading.not_ready[what], longest)

        def fetch() -> Any:
            if delay:
                self._pause(delay)
            return self._page(job_id, what, token)

        self._pool.submit((what, reading.record.number), fetch, priority=_PAGE)

    def _paged(self, reading: _Reading, what: ResultKind, page: Any) -> Iterator[ProgressEvent]:
        """A page came back: keep its results, ask for the next one, or, both kinds read,
        join them to the rows (on a worker: it is the CPU-heavy part)."""
        record = reading.record
        assert record.job_id is not None
        if not page.ready:  # 202: results not yet readable; "not yet" is not an error
            reading.not_ready[what] += 1
            if reading.not_ready[what] > _MAX_NOT_READY:
                raise FullstoryError(f"job {record.job_id}: {what} never became readable")
            self._request_page(reading, what)
            return
        rows = reading.keep(what, page)
        yield PageFetched(record.number, record.job_id, what, rows)
        token = page.next_page_token  # absent, null or "": no more pages (contract §11.2)
        if token and token in reading.seen[what]:  # a token seen before would loop for ever
            logger.warning("job %s: %s page token repeated; stopping there", record.job_id, what)
            token = None
        if token:
            reading.seen[what].add(token)
            reading.tokens[what] = token
            self._request_page(reading, what)
            return
        reading.done.add(what)
        if reading.done == set(_RESULT_KINDS):
            del self._readings[record.number]
            self._pool.submit(("join", record.number), lambda: self._join(reading))

    def _join(self, reading: _Reading) -> tuple[Job, JobJoin, int, int]:
        """On a worker: a finished job's results joined to its rows. The rows' side comes
        from the plan's columns (no body is kept); user imports were read as who was
        imported, not as whole objects."""
        positions, errors = reading.record.positions, reading.errors
        if self.kind == "users":
            uids, ids = self.plan.identities(positions)
            pages = reading.import_ids
            join = join_users(positions, uids, ids, pages, errors, self.plan.requests_at)
            return reading.job, join, sum(len(page) for page in pages), len(errors)
        requests = self.plan.requests_at(positions)
        join = join_job(self.kind, positions, requests, reading.imports, errors)
        return reading.job, join, len(reading.imports), len(errors)

    def _joined(
        self, record: ChunkRecord, job: Job, join: JobJoin, imports: int, errors: int
    ) -> JobFinished:
        assert record.job_id is not None
        record.join = join
        record.status = _terminal_status(job, errors)
        self._check(record, job, imports, errors)
        if self.ledger is not None:
            self.ledger.job_done(
                record.number,
                job_id=record.job_id,
                status=record.status.value,
                imported=len(join.imported),
                failed=len(join.failed),
            )
        return JobFinished(
            record.number,
            record.job_id,
            record.status,
            imported=len(join.imported),
            failed=len(join.failed),
        )

    def _counted(self, record: ChunkRecord, job: Job) -> JobFinished:
        """A finished job read from its status alone (``counts_only``, all a Standard key may
        read). Without failures every row was imported; otherwise which rows failed is not
        known, so they stay pending -- journalled with no ``done`` record, so a resume with an
        Admin key reads the results."""
        assert record.job_id is not None
        record.status = _terminal_status(job, job.errors)
        if record.status is not JobStatus.COMPLETED:
            record.unread_counts = (job.imports, job.errors)
            return JobFinished(record.number, record.job_id, record.status, imported=0, failed=0)
        record.join = JobJoin(imported=record.positions, fullstory_ids=[None] * record.rows)
        if self.ledger is not None:
            self.ledger.job_done(
                record.number,
                job_id=record.job_id,
                status=record.status.value,
                imported=record.rows,
                failed=0,
            )
        return JobFinished(
            record.number, record.job_id, record.status, imported=record.rows, failed=0
        )

    def _page(self, job_id: str, what: ResultKind, token: str | None) -> Any:
        schema = self.options.include_schema
        if self.kind == "users" and what == "imports":
            page = self.client.job_import_ids(job_id, page_token=token, include_schema=schema)
            return compact_ids(page)
        return self.client.job_page(
            self.kind, job_id, what, page_token=token, include_schema=schema
        )

    def _check(self, record: ChunkRecord, job: Job, imports: int, errors: int) -> None:
        """Say loudly when a job's results do not add up to the requests sent."""
        assert record.join is not None
        unmatched = record.join.unmatched_results
        missing = sum(code == "unreconciled" for code in record.join.codes)
        if imports + errors == record.rows and not unmatched and not missing:
            return
        message = (
            f"job {job.id} (chunk {record.number}): {record.rows} requests sent, Fullstory "
            f"reported {imports} imports and {errors} errors; {missing} rows have no matching "
            f"result (reported as failed, code 'unreconciled') and {unmatched} results match "
            "no row"
        )
        logger.error(message)
        warnings.warn(message, ReconciliationWarning, stacklevel=2)

    def _started(self) -> RunStarted:
        accepted = len(self.plan.accepted_positions)
        return RunStarted(
            kind=self.kind,
            total_rows=self.plan.n_rows,
            rejected_rows=len(self.plan.rejected),
            chunks=-(-accepted // self.rows_per_job),
            ledger_path=None if self.ledger is None else str(self.ledger.path),
            resumed=bool(self.known_jobs),
        )

    def summary(self) -> RunFinished:
        """The run's end as its records stand now (``aborted`` as recorded so far)."""
        return self._finished()

    def _finished(self) -> RunFinished:
        joins = [r.join for r in self.records.values() if r.join is not None]
        imported = sum(len(j.imported) for j in joins)
        failed = sum(len(j.failed) for j in joins)
        pending = len(self.plan.accepted_positions) - imported - failed
        rejected = len(self.plan.rejected)
        # From the records, not from the events a display has seen so far: a job whose
        # create answered just before an interrupt counts even if its event was not shown.
        running = sum(1 for r in self.records.values() if r.job_id is not None and r.join is None)
        return RunFinished(
            imported, failed, rejected, pending, aborted=self.aborted, jobs_running=running
        )
