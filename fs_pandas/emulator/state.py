"""In-memory state of one emulated Fullstory org (no HTTP here): users, events, batch jobs.

Everything the emulator knows about the API is restated from ``fullstory-api.md`` (cited as
``§n``); nothing is imported from the client side of fs_pandas, so one misunderstanding cannot
pass on both sides. Settings live in ``config.py``, row validation in ``rules.py``, property
semantics in ``properties.py``, page tokens in ``paging.py``, idempotency keys in
``idempotency.py`` and what operations answer in ``replies.py``.

* :class:`OrgState` — users, events, batch jobs, idempotency store; one re-entrant lock.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.faults import FaultInjector
from fs_pandas.emulator.idempotency import IdempotencyStore
from fs_pandas.emulator.paging import page_of, token_scope
from fs_pandas.emulator.properties import infer_schema, merged, type_of, without_nulls
from fs_pandas.emulator.replies import (
    MSG_401,
    MSG_403,
    MSG_404,
    ApiError,
    JsonDict,
    Reply,
    RowError,
    too_many_requests,
)
from fs_pandas.emulator.rules import (
    BATCH_USER_FIELDS,
    EVENT_FIELDS,
    check_envelope,
    check_event_row,
    check_user_row,
    flatten_schema,
    parse_bool,
    rfc3339,
    without_paths,
)

PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"


# ---------------------------------------------------------------------------------------------
# Users, events, jobs
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class User:
    """A stored user. ``properties``, ``declared`` and ``conflicts`` are replaced, never
    mutated, so snapshots may share them."""

    id: str
    uid: str | None = None
    display_name: str | None = None
    email: str | None = None
    properties: JsonDict = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)

    def apply(self, row: JsonDict) -> None:
        """Merge one create/update/batch row into this user."""
        get = row.get
        if get("display_name") is not None:
            self.display_name = row["display_name"]
        if get("email") is not None:
            self.email = row["email"]
        props = get("properties")
        if props:
            if self.properties:
                self._note_conflicts(props)
            self.properties = merged(self.properties, props)
        schema = get("schema")
        if schema:
            self.declared = {**self.declared, **flatten_schema(schema.get("properties") or {})}

    def _note_conflicts(self, props: JsonDict) -> None:
        """§3.4 type_conflicts: a field that receives a second type."""
        for name, value in props.items():
            old = self.properties.get(name)
            if old is None or value is None or isinstance(old, dict) or isinstance(value, dict):
                continue
            t_old, t_new = type_of(old), type_of(value)
            if t_old != t_new and t_new is not None:
                self.conflicts = {**self.conflicts, name: t_new}

    def snapshot(self) -> Snapshot:
        """The user as this import left it (shares the copy-on-write dicts)."""
        return Snapshot(
            self.id,
            self.uid,
            self.display_name,
            self.email,
            self.properties,
            self.declared,
            self.conflicts,
        )

    def render(self, *, include_schema: bool, app_url: str) -> JsonDict:
        """GetUserResponse (§3.1)."""
        body = self.snapshot().render(include_schema=include_schema)
        body["is_being_deleted"] = False
        body["app_url"] = f"{app_url}/user/{self.id}"
        return body


class Snapshot(NamedTuple):
    """A user as one import left it (a tuple: 50,000 of them are built per big job)."""

    id: str
    uid: str | None
    display_name: str | None
    email: str | None
    properties: JsonDict
    declared: dict[str, str]
    conflicts: dict[str, str]

    def render(self, *, include_schema: bool, nulls: bool = True) -> JsonDict:
        """BatchUserImportResponse (§5.3): ``schema`` is filled only with include_schema;
        without it (and without type conflicts) the key is ``null``, or absent when
        ``nulls`` is false (the seed's imports example: ``{"id", "uid", "properties"}``)."""
        body: JsonDict = {"id": self.id}
        for key in ("uid", "display_name", "email"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        body["properties"] = self.properties
        if include_schema:
            body["schema"] = {"properties": infer_schema(self.properties, self.declared)}
        elif nulls:
            body["schema"] = None
        if self.conflicts:
            body["type_conflicts"] = {"properties": self.conflicts}
        elif nulls:
            body["type_conflicts"] = None
        return body


@dataclass
class Job:
    """A batch import job (§5.1)."""

    kind: str  # "users" | "events"
    id: str
    created: float
    rows: list[Any]
    shared: JsonDict | None
    prefailed: list[RowError | None]
    idempotency_key: str | None
    n_requests: int = 0
    status: str = PROCESSING
    started: float | None = None  # None: queued beyond max_running (§4)
    polls: int = 0
    finished: float | None = None
    imports: list[Any] = field(default_factory=list)
    errors: list[JsonDict] = field(default_factory=list)
    cleaned: dict[int, JsonDict] = field(default_factory=dict)  # rows with rejected properties
    shuffled: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status != PROCESSING

    def public_status(self, config: EmulatorConfig) -> str:
        """The status the API answers: a FAILED job reads COMPLETED under that reading."""
        if self.status == FAILED and config.row_error_status == "COMPLETED":
            return COMPLETED
        return self.status

    def metadata(self, config: EmulatorConfig) -> JsonDict:
        """JobMetadata (§5.1, §11.2): ``finished`` once terminal; while PROCESSING ``null``
        (the seed: "otherwise it is null") or absent, per ``finished_while_processing``."""
        meta: JsonDict = {
            "id": self.id,
            "status": self.public_status(config),
            "created": rfc3339(self.created),
        }
        if self.finished is not None:
            meta["finished"] = rfc3339(self.finished)
        elif config.finished_while_processing == "null":
            meta["finished"] = None
        return meta

    def ordered(self, which: str, seed: int) -> list[Any]:
        """Imports or errors in a seeded random order, the same on every page (cached)."""
        cached = self.shuffled.get(which)
        if cached is None:
            rows = list(self.imports if which == "imports" else self.errors)
            random.Random(f"{seed}:{self.id}:{which}").shuffle(rows)
            cached = self.shuffled[which] = rows
        return cached


class OrgState:
    """All state of one emulated org; every public method takes the one lock."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._initial = config
        self._lock = threading.RLock()
        self._epoch = 0
        self._reset_locked(config)

    # -- settings and lifecycle ----------------------------------------------------------------

    def _reset_locked(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, default_seed=config.seed)
        self.users: dict[str, User] = {}
        self.by_uid: dict[str, str] = {}
        self.events: list[JsonDict] = []
        self.jobs: dict[str, Job] = {}
        self.active: dict[str, Job] = {}  # PROCESSING jobs, creation order
        self.idempotency = IdempotencyStore()
        self.held = 0  # create requests waiting on create_delay_seconds / create_hold
        self._counter = 0

    def reset(self) -> None:
        """Clear users, events, jobs and idempotency keys; restore the start-up settings.
        Page tokens issued before are no longer valid."""
        with self._lock:
            self._epoch += 1
            self._reset_locked(self._initial)

    def configure(self, **settings: Any) -> EmulatorConfig:
        """Change settings at run time (``faults=`` re-seeds the fault generator)."""
        with self._lock:
            self.config = self.config.replace(**settings)
            if "faults" in settings or "seed" in settings:
                self.faults = FaultInjector(self.config.faults, default_seed=self.config.seed)
            return self.config

    def now(self) -> float:
        return self.config.clock()

    def _next_id(self, salt: str) -> str:
        self._counter += 1
        seed = f"{self.config.seed}:{salt}:{self._counter}".encode()
        return hashlib.sha256(seed).hexdigest()[:16]

    @property
    def in_flight(self) -> dict[str, int]:
        """Idempotency keys of requests still executing."""
        return self.idempotency.in_flight

    def token_scope(self, *parts: str) -> str:
        """What a page token is bound to (§11.9): the listing, the seed and the reset epoch."""
        return token_scope(self.config.seed, self._epoch, *parts)

    def _new_user(self) -> User:
        self._counter += 1
        user = User(id=str(1_000_000_000 + self._counter))
        self.users[user.id] = user
        return user

    # -- auth (§1) -----------------------------------------------------------------------------

    def authorize(self, header: str | None, *, admin_only: bool) -> None:
        """``Authorization: Basic <key>`` exactly; Standard keys cannot read or delete data."""
        cfg = self.config
        if header == f"Basic {cfg.api_key}":
            return
        if header == f"Basic {cfg.standard_key}":
            if admin_only:
                raise ApiError(403, "forbidden", MSG_403)
            return
        raise ApiError(401, "unauthorized", MSG_401)

    # -- idempotency (§6) ----------------------------------------------------------------------

    def idempotency_begin(self, key: str, fingerprint: bytes) -> Reply | None:
        """See :meth:`IdempotencyStore.begin`: the answer to replay, or ``None`` (execute)."""
        with self._lock:
            return self.idempotency.begin(key, fingerprint, self.config)

    def idempotency_end(self, key: str, fingerprint: bytes, reply: Reply | None) -> None:
        """See :meth:`IdempotencyStore.end`: the request with ``key`` finished."""
        with self._lock:
            self.idempotency.end(key, fingerprint, reply, self.config)

    # -- users (U1-U5) -------------------------------------------------------------------------

    def _fail_check(self, uid: Any) -> None:
        """Server-side row failures: ``fail_uids`` and ``row_error_rate`` (faults)."""
        if not self.config.fail_uids and not self.config.faults.row_error_rate:
            return
        if uid is not None and uid in self.config.fail_uids:
            raise RowError(self.config.faults.row_error_code, f"import of uid {uid} failed")
        if self.faults.row_fails():
            raise RowError(self.config.faults.row_error_code, "row failed at the server")

    def _upsert(self, row: JsonDict) -> User:
        """§3.1: upsert on uid; rows without uid create a new anonymous user (§9.18)."""
        uid = row.get("uid") or None
        user_id = row.get("id")
        if user_id is None and uid is not None and uid not in self.by_uid:
            user = self._new_user()  # the common case of a big import: a new identified user
            user.uid = uid
            self.by_uid[uid] = user.id
        elif user_id is not None:
            if user_id not in self.users:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            user = self.users[user_id]
            self._set_uid(user, uid)
        elif uid is not None:
            user = self.users[self.by_uid[uid]]
        else:
            user = self._new_user()
        user.apply(row)
        return user

    def _set_uid(self, user: User, uid: str | None) -> None:
        """§3.1: once set, a uid is immutable; a uid names one user only."""
        if uid is None or uid == user.uid:
            return
        if user.uid is not None:
            raise RowError("invalid_argument", "uid cannot be changed once set")
        if uid in self.by_uid:
            raise RowError("invalid_argument", f"uid {uid} already belongs to another user")
        user.uid = uid
        self.by_uid[uid] = user.id

    def create_user(self, body: Any) -> Reply:
        """U1: 200 ``{"id"}``; invalid rows answer 400."""
        with self._lock:
            try:
                body = self._checked(
                    body, lambda d: check_user_row(body, batch=False, good_names=set(), dropped=d)
                )
                self._fail_check(body.get("uid"))
                return Reply(200, {"id": self._upsert(body).id})
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None

    def update_user(self, user_id: str, body: Any) -> Reply:
        """U4: POST /v2/users/{id}; 404 unknown id; 400 when the uid would change (§9.9)."""
        with self._lock:
            user = self._user_or_404(user_id)
            try:
                body = self._checked(
                    body, lambda d: check_user_row(body, batch=False, good_names=set(), dropped=d)
                )
                self._set_uid(user, body.get("uid") or None)
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None
            user.apply(body)
            return Reply(200, {"id": user.id})

    def _dropping(self) -> list[str] | None:
        """Where check_* collect oversize paths (``drop_property``), or None (``fail_row``)."""
        return [] if self.config.oversize_value == "drop_property" else None

    def _checked(self, row: Any, check: Callable[[list[str] | None], None]) -> Any:
        """Run ``check`` on a single-create body; the body without rejected properties."""
        dropped = self._dropping()
        check(dropped)
        return without_paths(row, dropped) if dropped else row

    def _user_or_404(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(404, "resource_not_found", MSG_404)
        return user

    def get_user(self, user_id: str, *, include_schema: bool) -> Reply:
        """U2: GetUserResponse."""
        with self._lock:
            user = self._user_or_404(user_id)
            return Reply(200, user.render(include_schema=include_schema, app_url=self._app_url()))

    def list_users(
        self, filters: dict[str, str], token: str | None, *, include_schema: bool
    ) -> Reply:
        """U3: filter on uid, email, display_name, is_identified; paged."""
        with self._lock:
            matches = [u for u in self.users.values() if self._matches(u, filters)]
            app_url = self._app_url()
            # Tokens are bound to the filters (D-ulist: pass the same filters again).
            scope = self.token_scope("list-users", *(f"{k}={filters[k]}" for k in sorted(filters)))
            body = page_of(
                matches,
                token,
                self.config.page_size,
                lambda u: u.render(include_schema=include_schema, app_url=app_url),
                scope=scope,
                last_token=self.config.last_page_token,
            )
            body["app_url"] = f"{app_url}/0"
            return Reply(200, body)

    @staticmethod
    def _matches(user: User, filters: dict[str, str]) -> bool:
        for key in ("uid", "email", "display_name"):
            if key in filters and getattr(user, key) != filters[key]:
                return False
        wanted = filters.get("is_identified")
        return wanted is None or (user.uid is not None) == parse_bool("is_identified", wanted)

    def _app_url(self) -> str:
        return "https://app.fullstory.com/ui/emulator/segments/everyone/people:search:emu"

    def delete_user(self, user_id: str | None, uid: str | None) -> Reply:
        """U5a/U5b: delete by id or by ``?uid=`` (exactly one); 200 ``{}``; 404 if unknown."""
        with self._lock:
            if (user_id is None) == (uid is None):
                raise ApiError(400, "required_field", "one of id or uid is required")
            if uid is not None:
                user_id = self.by_uid.get(uid)
                if user_id is None:
                    raise ApiError(404, "resource_not_found", MSG_404)
            assert user_id is not None
            user = self._user_or_404(user_id)
            del self.users[user.id]
            if user.uid is not None:
                self.by_uid.pop(user.uid, None)
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
                self.events.append(self._store_event(body, None))
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None
            return Reply(200, {})

    def _store_event(self, row: JsonDict, shared: JsonDict | None) -> JsonDict:
        """The stored / echoed event (§5.3): user {id, uid}, session, context, name, ..."""
        user_ref = row.get("user") or {}
        session = row.get("session") or {}
        event: JsonDict = {}
        if session.get("id") and not user_ref:
            # The spec's imports example echoes both: "user": {"id": "123456789", ...},
            # "session": {"id": "123456789:1298251231"}, the user id being the session id's
            # device part (<DeviceID>:<SessionID>, D-sessid).
            event["user"] = self._session_user(session["id"])
            event["session"] = {"id": session["id"]}
        else:
            event["user"] = self._event_user(user_ref)
        context = row.get("context") or (shared or {}).get("context")
        if context:
            event["context"] = context
        event["name"] = row["name"]
        # §3.2: the server uses its own time when timestamp is absent.
        event["timestamp"] = row.get("timestamp") or rfc3339(self.now())
        event["properties"] = row.get("properties") or {}
        if row.get("schema"):
            event["_declared"] = flatten_schema(row["schema"].get("properties") or {})
        return event

    def _session_user(self, session_id: str) -> JsonDict:
        """The echoed user of a ``session.id`` event: the device part of the id (no sessions
        are recorded), with the uid of a stored user of that id."""
        user_id = session_id.partition(":")[0]
        found = self.users.get(user_id)
        return {"id": user_id, "uid": found.uid} if found and found.uid else {"id": user_id}

    def _event_user(self, ref: JsonDict) -> JsonDict:
        """Resolve the event's user: by uid (created if new), by id, or a new anonymous user."""
        uid, user_id = ref.get("uid"), ref.get("id")
        if uid:
            known = self.by_uid.get(uid)
            user = self.users[known] if known else self._new_user()
            self._set_uid(user, uid)
            return {"id": user.id, "uid": uid}
        if user_id:
            found = self.users.get(user_id)
            if found is None:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            return {"id": found.id, "uid": found.uid} if found.uid else {"id": found.id}
        return {"id": self._new_user().id}

    # -- batch jobs (UB1-UB4, EB1-EB4) ---------------------------------------------------------

    def create_job(self, kind: str, body: Any, idempotency_key: str | None) -> Reply:
        """UB1/EB1: validate the envelope (400) and rows (row errors), admit (429), create."""
        requests, shared = check_envelope(kind, body, self.config.max_batch_requests)
        good: set[str] = set()
        dropped = self._dropping()
        cleaned: dict[int, JsonDict] = {}
        has_ctx = bool(shared and shared.get("context"))
        prefailed: list[RowError | None] = []
        for i, row in enumerate(requests):
            if kind == "users":
                prefailed.append(self._precheck_user(row, good, dropped))
            else:
                prefailed.append(self._precheck_event(row, has_ctx, good, dropped))
            if dropped:  # rare: a value over 8192 bytes was rejected, not the row
                if prefailed[-1] is None:
                    cleaned[i] = without_paths(row, dropped)
                dropped.clear()
        with self._lock:
            self._advance()
            self._admit(len(requests))
            now = self.now()
            job = Job(
                kind,
                self._next_id(kind),
                now,
                requests,
                shared,
                prefailed,
                idempotency_key,
                n_requests=len(requests),
                cleaned=cleaned,
            )
            self.jobs[job.id] = job
            self.active[job.id] = job
            if self._running_count() < self.config.max_running:
                job.started = now
            self._advance()
            # §5.1: a new job is always reported PROCESSING; the seed's create example has
            # no "finished" (id, status, created).
            meta = {"id": job.id, "status": PROCESSING, "created": rfc3339(job.created)}
            return Reply(200, {"job": meta})

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

    def _running_count(self) -> int:
        return sum(1 for j in self.active.values() if j.started is not None)

    def _admit(self, rows: int) -> None:
        """§4: 429 once max_in_progress jobs or max_rows_in_progress rows are in progress."""
        cfg = self.config
        if len(self.active) >= cfg.max_in_progress or (
            sum(j.n_requests for j in self.active.values()) >= cfg.max_rows_in_progress
        ):
            raise too_many_requests(cfg.retry_after)

    def _advance(self) -> None:
        """Bring jobs up to ``now``: time-based jobs finish in deadline order and each freed
        slot starts the oldest queued job at the moment it freed (§4 queueing)."""
        seconds = self.config.processing_seconds
        now = self.now()
        if self.config.processing_polls is None:
            while True:
                due = [
                    j
                    for j in self.active.values()
                    if j.started is not None and j.started + seconds <= now
                ]
                if not due:
                    break
                job = min(due, key=lambda j: (j.started or 0.0) + seconds)
                freed_at = (job.started or 0.0) + seconds
                self._finish(job, freed_at)
                self._start_queued(freed_at)
        self._start_queued(now)

    def _start_queued(self, at: float) -> None:
        free = self.config.max_running - self._running_count()
        for job in self.active.values():
            if free <= 0:
                return
            if job.started is None:
                job.started = max(at, job.created)
                free -= 1

    def _finish(self, job: Job, at: float) -> None:
        """Apply the job's rows to the store; COMPLETED iff no row failed (§5.1)."""
        if job.kind == "users":
            self._finish_users(job)
        else:
            self._finish_events(job)
        job.status = FAILED if job.errors else COMPLETED
        del self.active[job.id]
        job.finished = min(max(at, job.created), self.now())
        job.rows = []  # results are kept; the request bodies are no longer needed
        job.prefailed = []
        job.cleaned = {}

    def _finish_users(self, job: Job) -> None:
        by_uid, imports, cleaned = self.by_uid, job.imports, job.cleaned
        for i, (sent, err) in enumerate(zip(job.rows, job.prefailed, strict=True)):
            row = cleaned.get(i, sent) if cleaned else sent
            if err is None:
                uid = row.get("uid")
                if uid and uid not in by_uid and "id" not in row:
                    # Fast path, the bulk of a big import: a brand-new identified user.
                    imports.append(self._insert_new(uid, row))
                    continue
                try:
                    imports.append(self._upsert(row).snapshot())
                    continue
                except RowError as late:
                    err = late
            job.errors.append({"message": err.message, "code": err.code, "user": sent})

    def _insert_new(self, uid: str, row: JsonDict) -> Snapshot:
        """Store a new user with ``uid`` from a valid row (same result as ``_upsert``)."""
        self._counter += 1
        user_id = str(1_000_000_000 + self._counter)
        props, schema = row.get("properties"), row.get("schema")
        user = User(
            user_id,
            uid,
            row.get("display_name"),
            row.get("email"),
            without_nulls(props) if props else {},
            flatten_schema(schema.get("properties") or {}) if schema else {},
        )
        self.users[user_id] = user
        self.by_uid[uid] = user_id
        return Snapshot(
            user_id,
            uid,
            user.display_name,
            user.email,
            user.properties,
            user.declared,
            user.conflicts,
        )

    def _finish_events(self, job: Job) -> None:
        cleaned = job.cleaned
        for i, (row, err) in enumerate(zip(job.rows, job.prefailed, strict=True)):
            if err is None:
                try:
                    event = self._store_event(cleaned.get(i, row), job.shared)
                    self.events.append(event)
                    job.imports.append(event)
                    continue
                except RowError as late:
                    err = late
            entry: JsonDict = {"message": err.message, "code": err.code, "event": row}
            if job.shared is not None:
                entry["shared"] = job.shared
            job.errors.append(entry)

    def _job_or_404(self, kind: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise ApiError(404, "resource_not_found", MSG_404)
        return job

    def job_status(self, kind: str, job_id: str) -> Reply:
        """UB2/EB2: a status poll; counts toward ``processing_polls`` once the job runs."""
        with self._lock:
            self._advance()
            job = self._job_or_404(kind, job_id)
            polls = self.config.processing_polls
            if not job.terminal and job.started is not None and polls is not None:
                job.polls += 1
                if job.polls > polls:
                    self._finish(job, self.now())
                    self._start_queued(self.now())
            body: JsonDict = {
                "imports": len(job.imports),
                "errors": len(job.errors),
                "job": job.metadata(self.config),
            }
            return Reply(200, body)

    def job_results(
        self, kind: str, job_id: str, which: str, token: str | None, *, include_schema: bool
    ) -> Reply:
        """UB3/UB4/EB3/EB4: 202 with an empty body while PROCESSING, else one page."""
        with self._lock:
            self._advance()
            job = self._job_or_404(kind, job_id)
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
                for j in self.jobs.values()
            ]

    def list_users_raw(self) -> list[JsonDict]:
        """Every stored user (as Get User renders it, with schema)."""
        with self._lock:
            self._advance()
            return [
                u.render(include_schema=True, app_url=self._app_url()) for u in self.users.values()
            ]

    def list_events_raw(self) -> list[JsonDict]:
        """Every stored event, in the order they were stored."""
        with self._lock:
            self._advance()
            return [render_event(e, include_schema=False) for e in self.events]


def render_event(event: JsonDict, *, include_schema: bool) -> JsonDict:
    """BatchCreateEventsResponse (§5.3); ``schema`` only with include_schema."""
    body = {k: v for k, v in event.items() if k != "_declared"}
    if include_schema:
        body["schema"] = {
            "properties": infer_schema(event["properties"], event.get("_declared") or {})
        }
    return body


def _renumber(value: Any) -> Any:
    """Numbers as a protobuf ``Struct`` re-renders them: an integral float loses its ``.0``."""
    kind = type(value)
    if kind is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if kind is dict:
        return {k: _renumber(v) for k, v in value.items()}
    if kind is list:
        return [_renumber(v) for v in value]
    return value


def rerender_error(entry: JsonDict) -> JsonDict:
    """An error row whose echo is re-rendered the way the spec's ``FailedUserImport``
    example shows it (§11.4): the request parsed into the API's message and printed again,
    so unknown fields are gone, ``1.0`` prints as ``1`` and a user carries ``"schema": null,
    "type_conflicts": null`` when it had none."""
    out = dict(entry)
    if "user" in entry and type(entry["user"]) is dict:
        row = entry["user"]
        user: JsonDict = {k: _renumber(row[k]) for k in row if k in BATCH_USER_FIELDS}
        user.setdefault("schema", None)
        user["type_conflicts"] = None
        out["user"] = user
    if "event" in entry and type(entry["event"]) is dict:
        row = entry["event"]
        out["event"] = {k: _renumber(row[k]) for k in row if k in EVENT_FIELDS}
    if "shared" in entry:
        out["shared"] = _renumber(entry["shared"])
    return out
