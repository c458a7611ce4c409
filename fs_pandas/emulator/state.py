"""One emulated Fullstory org: :class:`OrgState`, its store and its one lock (no HTTP here).

Everything the emulator knows about the API is restated from the contract,
``docs/dev/contract.md`` (cited as ``§n``); nothing is imported from the client side of
fs_pandas, so one misunderstanding cannot pass on both sides. The emulator's modules, each
depending only on those listed before it:

* ``faults.py`` — seeded fault rates and decisions.
* ``replies.py`` — :class:`Reply`, :class:`RefusedError`, :class:`RowError`, the §7 messages.
* ``config.py`` — :class:`EmulatorConfig`: every setting and reading, validated.
* ``rules.py`` — what a request may contain: row, field and envelope validation.
* ``properties.py`` — merging, nulls and types of stored properties.
* ``paging.py`` — page tokens and pages.
* ``idempotency.py`` — ``Idempotency-Key`` records and keys in flight.
* ``models.py`` — users, the batch job and its lifecycle state machine, result rows.
* ``store.py`` — the org's users and events and how rows change them.
* ``scheduling.py`` — jobs in progress: caps, running slots, which job is due.
* ``state.py`` (this module) — :class:`OrgState`: the operations of contract §2, each under the
  one re-entrant lock, delegating to the modules above.

``app.py`` turns HTTP into calls on :class:`OrgState` and :class:`Reply` back into HTTP.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.faults import FaultInjector
from fs_pandas.emulator.idempotency import Fingerprint, IdempotencyStore
from fs_pandas.emulator.models import (
    APP_URL,
    PROCESSING,
    Job,
    RowChecks,
    job_id,
    render_event,
    rerender_error,
)
from fs_pandas.emulator.paging import page_of, token_scope
from fs_pandas.emulator.replies import MSG_401, MSG_403, JsonDict, RefusedError, Reply, RowError
from fs_pandas.emulator.rules import (
    check_envelope,
    check_event_row,
    check_user_row,
    rfc3339,
    without_paths,
)
from fs_pandas.emulator.scheduling import JobQueue, JobWorker
from fs_pandas.emulator.store import OrgStore

# Rows checked between two chances to pause (a few milliseconds' work): checks in the
# background give way to a create within that.
_PAUSE_EVERY = 2048


class OrgState:
    """All state of one emulated org; every public method takes the one lock.

    Parameters
    ----------
    config : EmulatorConfig
        The start-up settings; :meth:`reset` restores them.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self._initial = config
        self._lock = threading.RLock()
        self._worker = JobWorker(idle=self._finish_due, apply=self._apply_while_running)
        self._epoch = 0  # bumped by reset(), so earlier page tokens no longer match
        self._reset_locked(config)

    # -- settings and lifecycle ----------------------------------------------------------------

    def _reset_locked(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, default_seed=config.seed)
        self.store = OrgStore()
        # Fullstory's job ids never repeat; a fresh emulator (or a reset one) counting jobs from
        # 1 again must not hand out the ids of an earlier one, or a client that journalled them
        # would take its new jobs for replays of the old ones.
        self._ids_from = secrets.token_hex(8)
        self.queue = JobQueue()
        self.idempotency = IdempotencyStore()
        self.held = 0  # create requests waiting on create_delay_seconds / create_hold

    def reset(self) -> None:
        """Clear users, events, jobs and idempotency keys; restore the start-up settings.
        Page tokens issued before are no longer valid."""
        with self._lock:
            self._epoch += 1
            self._reset_locked(self._initial)

    def reading_create(self) -> AbstractContextManager[None]:
        """Mark a batch create being read and created: rows of earlier jobs wait to be
        checked (see :class:`JobWorker`)."""
        return self._worker.giving_way()

    def close(self) -> None:
        """Stop the worker thread (jobs in progress then check their rows as they end)."""
        self._worker.close()

    def configure(self, **settings: Any) -> EmulatorConfig:
        """Change settings at run time (``faults=`` re-seeds the fault generator)."""
        with self._lock:
            self.config = self.config.replace(**settings)
            if "faults" in settings or "seed" in settings:
                self.faults = FaultInjector(self.config.faults, default_seed=self.config.seed)
            return self.config

    def now(self) -> float:
        """The emulator's clock (the ``clock`` setting), in epoch seconds."""
        return self.config.clock()

    @property
    def by_uid(self) -> dict[str, str]:
        """Stored users' ids by uid (read by benchmarks to count what was stored)."""
        return self.store.by_uid

    @property
    def in_flight(self) -> dict[str, int]:
        """Idempotency keys of requests still executing."""
        return self.idempotency.in_flight

    def token_scope(self, *parts: str) -> str:
        """What a page token is bound to (§11.9): the listing, the seed and the reset epoch."""
        return token_scope(self.config.seed, self._epoch, *parts)

    # -- auth (§1) -----------------------------------------------------------------------------

    def authorize(self, header: str | None, *, admin_only: bool) -> None:
        """``Authorization: Basic <key>`` exactly; Standard keys cannot read or delete data."""
        cfg = self.config
        if header == f"Basic {cfg.api_key}":
            return
        if header == f"Basic {cfg.standard_key}":
            if admin_only:
                raise RefusedError(403, "forbidden", MSG_403)
            return
        raise RefusedError(401, "unauthorized", MSG_401)

    # -- idempotency (§6) ----------------------------------------------------------------------

    def idempotency_begin(self, key: str, fingerprint: Fingerprint) -> Reply | None:
        """See :meth:`IdempotencyStore.begin`: the answer to replay, or ``None`` (execute)."""
        with self._lock:
            return self.idempotency.begin(key, fingerprint, self.config)

    def idempotency_end(self, key: str, fingerprint: Fingerprint, reply: Reply | None) -> None:
        """See :meth:`IdempotencyStore.end`: the request with ``key`` finished. Its
        fingerprint is settled in the background, after the answer."""
        with self._lock:
            self.idempotency.end(key, fingerprint, reply, self.config)
        self._worker.later(fingerprint.settle)

    # -- row checks shared by single creates and batches ---------------------------------------

    def _fail_check(self, uid: Any) -> None:
        """Server-side row failures: ``fail_uids`` and ``row_error_rate`` (faults)."""
        cfg = self.config
        if not cfg.fail_uids and not cfg.faults.row_error_rate:
            return
        if uid is not None and uid in cfg.fail_uids:
            raise RowError(cfg.faults.row_error_code, f"import of uid {uid} failed")
        if self.faults.row_fails():
            raise RowError(cfg.faults.row_error_code, "row failed at the server")

    def _dropping(self) -> list[str] | None:
        """Where check_* collect oversize paths (``drop_property``), or None (``fail_row``)."""
        return [] if self.config.oversize_value == "drop_property" else None

    def _checked(self, row: Any, check: Callable[[list[str] | None], None]) -> Any:
        """Run ``check`` on a single-create body; the body without rejected properties."""
        dropped = self._dropping()
        check(dropped)
        return without_paths(row, dropped) if dropped else row

    def _checked_user(self, body: Any) -> Any:
        """A single create/update user body, validated (RowError), without rejected values."""
        return self._checked(
            body, lambda d: check_user_row(body, batch=False, good_names=set(), dropped=d)
        )

    # -- users (U1-U5) -------------------------------------------------------------------------

    def create_user(self, body: Any) -> Reply:
        """U1: 200 ``{"id"}``; invalid rows answer 400."""
        with self._lock:
            try:
                body = self._checked_user(body)
                self._fail_check(body.get("uid"))
                return Reply(200, {"id": self.store.upsert(body).id})
            except RowError as err:
                raise err.as_refused() from None

    def update_user(self, user_id: str, body: Any) -> Reply:
        """U4: POST /v2/users/{id}; 404 unknown id; 400 when the uid would change (§9.9)."""
        with self._lock:
            user = self.store.user_or_404(user_id)
            try:
                body = self._checked_user(body)
                self.store.set_uid(user, body.get("uid") or None)
            except RowError as err:
                raise err.as_refused() from None
            user.apply(body)
            return Reply(200, {"id": user.id})

    def get_user(self, user_id: str, *, include_schema: bool) -> Reply:
        """U2: GetUserResponse."""
        with self._lock:
            user = self.store.user_or_404(user_id)
            return Reply(200, user.render(include_schema=include_schema, app_url=APP_URL))

    def list_users(
        self, filters: dict[str, str], token: str | None, *, include_schema: bool
    ) -> Reply:
        """U3: filter on uid, email, display_name, is_identified; paged."""
        with self._lock:
            matches = self.store.find(filters)
            # Tokens are bound to the filters (D-ulist: pass the same filters again).
            scope = self.token_scope("list-users", *(f"{k}={filters[k]}" for k in sorted(filters)))
            body = page_of(
                matches,
                token,
                self.config.page_size,
                lambda u: u.render(include_schema=include_schema, app_url=APP_URL),
                scope=scope,
                last_token=self.config.last_page_token,
            )
            body["app_url"] = f"{APP_URL}/0"
            return Reply(200, body)

    def delete_user(self, user_id: str | None, uid: str | None) -> Reply:
        """U5a/U5b: delete by id or by ``?uid=`` (exactly one); 200 ``{}``; 404 if unknown."""
        with self._lock:
            self.store.delete(user_id, uid)
            return Reply(200, {})

    # -- events (E1) ---------------------------------------------------------------------------

    def create_event(self, body: Any) -> Reply:
        """E1: 200 ``{}``; invalid events answer 400."""
        with self._lock:
            try:
                body = self._checked(
                    body,
                    lambda d: check_event_row(
                        body, shared_context=False, good_names=set(), dropped=d
                    ),
                )
                self._fail_check((body.get("user") or {}).get("uid"))
                self.store.events.append(self.store.make_event(body, None, self.now))
            except RowError as err:
                raise err.as_refused() from None
            return Reply(200, {})

    # -- batch jobs (UB1-UB4, EB1-EB4) ---------------------------------------------------------

    def create_job(self, kind: str, body: Any, idempotency_key: str | None) -> Reply:
        """UB1/EB1: validate the envelope (400), admit (429), create; the rows are checked
        while the job processes (see :meth:`_check_later`)."""
        requests, shared = check_envelope(kind, body, self.config.max_batch_requests)
        prefailed: list[RowError | None] = []
        cleaned: dict[int, JsonDict] = {}
        later = self._check_later(kind, requests, shared)
        if later is None:
            prefailed, cleaned = self._precheck_rows(kind, requests, shared)
        with self._lock:
            self._advance()
            self.queue.admit(len(requests), self.config)
            now = self.now()
            job = Job(
                kind,
                job_id(self._ids_from, kind, self.store.next_number()),
                now,
                requests,
                shared,
                prefailed,
                idempotency_key,
                n_requests=len(requests),
                cleaned=cleaned,
            )
            job.check_rows = later
            self.queue.add(job, self.config.max_running)
            self._advance()
            if later is not None and not job.terminal:
                self._worker.put(job)
            # §5.1: a new job is always reported PROCESSING; the seed's create example has
            # no "finished" (id, status, created).
            meta = {"id": job.id, "status": PROCESSING, "created": rfc3339(job.created)}
            return Reply(200, {"job": meta})

    def _check_later(
        self, kind: str, requests: list[Any], shared: JsonDict | None
    ) -> RowChecks | None:
        """The row checks of a new batch, to run while it processes, as Fullstory does: a
        create is answered once its envelope is read, and the 0.2 s per 50,000 rows of
        checking no longer holds up the requests behind it. ``None`` when they must run now:
        server-side failures (``fail_uids``, ``row_error_rate``) draw from the seeded fault
        generator, in the order the requests came, so a seed fails the same rows."""
        cfg = self.config
        if cfg.fail_uids or cfg.faults.row_error_rate:
            return None
        dropping = cfg.oversize_value == "drop_property"  # the reading at create time
        return lambda pause: self._precheck_rows(
            kind, requests, shared, dropping=dropping, pause=pause
        )

    def _precheck_rows(
        self,
        kind: str,
        requests: list[Any],
        shared: JsonDict | None,
        *,
        dropping: bool | None = None,
        pause: Callable[[], None] | None = None,
    ) -> tuple[list[RowError | None], dict[int, JsonDict]]:
        """Validate a batch's rows outside the lock (the slow part of a batch): each row's
        error or ``None``, and the rows to import without their rejected values.
        ``dropping``: the ``oversize_value`` reading, when not the current one; ``pause`` is
        called every ``_PAUSE_EVERY`` rows."""
        good: set[str] = set()  # property paths already found valid in this batch
        dropped = self._dropping() if dropping is None else ([] if dropping else None)
        cleaned: dict[int, JsonDict] = {}
        has_ctx = bool(shared and shared.get("context"))
        prefailed: list[RowError | None] = []
        for i, row in enumerate(requests):
            if pause is not None and not i % _PAUSE_EVERY:
                pause()
            if kind == "users":
                prefailed.append(self._precheck_user(row, good, dropped))
            else:
                prefailed.append(self._precheck_event(row, has_ctx, good, dropped))
            if dropped:  # rare: a value over 8192 bytes was rejected, not the row
                if prefailed[-1] is None:
                    cleaned[i] = without_paths(row, dropped)
                dropped.clear()
        return prefailed, cleaned

    def _precheck_user(
        self, row: Any, good: set[str], dropped: list[str] | None
    ) -> RowError | None:
        try:
            check_user_row(row, batch=True, good_names=good, dropped=dropped)
            self._fail_check(row.get("uid"))
        except RowError as err:
            return err
        return None

    def _precheck_event(
        self, row: Any, has_ctx: bool, good: set[str], dropped: list[str] | None
    ) -> RowError | None:
        try:
            check_event_row(row, shared_context=has_ctx, good_names=good, dropped=dropped)
            self._fail_check((row.get("user") or {}).get("uid"))
        except RowError as err:
            return err
        return None

    def _advance(self) -> None:
        """Bring jobs up to ``now``: time-based jobs finish in deadline order and each freed
        slot starts the oldest queued job at the moment it freed (§4 queueing)."""
        cfg = self.config
        now = self.now()
        if cfg.processing_polls is None:
            while (job := self.queue.next_due(cfg.processing_seconds, now)) is not None:
                freed_at = job.deadline(cfg.processing_seconds)
                self._finish(job, freed_at)
                self.queue.start_queued(freed_at, cfg.max_running)
        self.queue.start_queued(now, cfg.max_running)

    def _finish_due(self) -> float | None:
        """Finish the jobs whose processing time is up, without waiting for a request to
        (on the worker's thread: a poll then finds them finished, not finishing 50,000 rows
        each); the seconds until the next is due, or None."""
        with self._lock:
            self._advance()
            cfg = self.config
            if cfg.processing_polls is not None:
                return None
            return self.queue.seconds_to_next_due(cfg.processing_seconds, self.now())

    def _finish(self, job: Job, at: float) -> None:
        """Apply the job's rows not applied yet to the store, then finish it (COMPLETED iff
        no row failed). Rows not checked yet are checked first (or their checking, under way
        on the worker's thread, is waited for)."""
        job.run_checks()
        self._apply(job)
        self.queue.retire(job)
        job.finish(at, now=self.now())

    def _apply(self, job: Job, stop: int | None = None) -> None:
        """Apply the job's next rows, up to ``stop`` (default: all), to the store."""
        if job.kind == "users":
            self.store.import_users(job, stop)
        else:
            self.store.import_events(job, self.now, stop)

    def _apply_while_running(self, job: Job, pause: Callable[[], None]) -> None:
        """On the worker's thread, once the job's rows are checked: apply them while it runs,
        ``_PAUSE_EVERY`` rows at a time under the lock, pausing between. Applying 50,000
        rows takes 0.15-0.4 s; done at the job's end, under the lock, it held up every
        request (the polls and pages of other jobs) that long. Stops unless the job is
        running and the oldest in progress with rows to apply (jobs apply in order; a job
        finished or from before a reset is not in progress)."""
        while True:
            pause()
            with self._lock:
                if not (job.running and self.queue.first_unapplied() is job):
                    return
                self._apply(job, job.applied + _PAUSE_EVERY)

    def job_status(self, kind: str, job_id: str) -> Reply:
        """UB2/EB2: a status poll; counts toward ``processing_polls`` once the job runs."""
        with self._lock:
            self._advance()
            job = self.queue.get(kind, job_id)
            polls = self.config.processing_polls
            if polls is not None and job.count_poll(polls):
                self._finish(job, self.now())
                self.queue.start_queued(self.now(), self.config.max_running)
            body: JsonDict = {
                # Counted once finished (rows applied while it runs are not shown).
                "imports": len(job.imports) if job.terminal else 0,
                "errors": len(job.errors) if job.terminal else 0,
                "job": job.metadata(self.config),
            }
            return Reply(200, body)

    def job_results(
        self, kind: str, job_id: str, which: str, token: str | None, *, include_schema: bool
    ) -> Reply:
        """UB3/UB4/EB3/EB4: 202 with an empty body while PROCESSING, else one page."""
        with self._lock:
            self._advance()
            job = self.queue.get(kind, job_id)
            if not job.terminal:
                return Reply(202, None)
            cfg = self.config
            if cfg.shuffle_results:
                rows = job.ordered(which, cfg.seed)
            else:
                rows = job.imports if which == "imports" else job.errors
            render = self._renderer(kind, which, include_schema)
            # §11.9: a token is bound to the job, the result kind and the endpoint (kind).
            scope = self.token_scope(kind, job.id, which)
            page = page_of(
                rows, token, cfg.page_size, render, scope=scope, last_token=cfg.last_page_token
            )
            return Reply(200, page)

    def _renderer(self, kind: str, which: str, include_schema: bool) -> Callable[[Any], JsonDict]:
        """How one result row of ``kind``/``which`` renders under the current readings."""
        if which == "errors":
            if self.config.error_echo == "rerendered":
                return rerender_error
            return lambda e: e
        if kind == "users":
            nulls = self.config.import_nulls == "null"
            return lambda s: s.render(include_schema=include_schema, nulls=nulls)
        return lambda e: render_event(e, include_schema=include_schema)

    # -- inspection ----------------------------------------------------------------------------

    def list_jobs(self) -> list[JsonDict]:
        """Every job in creation order: kind, id, status, requests, idempotency_key."""
        with self._lock:
            self._advance()
            return [
                {
                    "kind": j.kind,
                    "id": j.id,
                    "status": j.public_status(self.config),
                    "requests": j.n_requests,
                    "idempotency_key": j.idempotency_key,
                }
                for j in self.queue.jobs.values()
            ]

    def list_users_raw(self) -> list[JsonDict]:
        """Every stored user (as Get User renders it, with schema)."""
        with self._lock:
            self._advance()
            return [
                u.render(include_schema=True, app_url=APP_URL) for u in self.store.users.values()
            ]

    def list_events_raw(self) -> list[JsonDict]:
        """Every stored event, in the order they were stored."""
        with self._lock:
            self._advance()
            return [render_event(e, include_schema=False) for e in self.store.events]
