"""The org's records: users (:class:`User`, :class:`Snapshot`), batch jobs (:class:`Job`) and
how their result rows render (§3.1, §5.1, §5.3, §11.4).

A batch job's lifecycle is a small state machine (:class:`Phase`, :data:`TRANSITIONS`): a job
is QUEUED until it has a running slot (§4), RUNNING until it finishes, then COMPLETED or FAILED
for good. :meth:`Job.start` and :meth:`Job.finish` are the only ways to move it; a move that
:data:`TRANSITIONS` does not allow raises :class:`IllegalTransitionError`. The API shows QUEUED and
RUNNING alike as PROCESSING. *When* a job moves is decided by the scheduler, not here.
"""

from __future__ import annotations

import enum
import hashlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.properties import infer_schema, merged, type_of
from fs_pandas.emulator.replies import JsonDict, RowError
from fs_pandas.emulator.rules import BATCH_USER_FIELDS, EVENT_FIELDS, flatten_schema, rfc3339

PROCESSING = "PROCESSING"  # what the API answers for a job not yet finished

# The org's people-search page, the base of every user's ``app_url`` (§3.1).
APP_URL = "https://app.fullstory.com/ui/emulator/segments/everyone/people:search:emu"

# ---------------------------------------------------------------------------------------------
# Users
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
        # Unpacked once, not read field by field: a page renders 1,000 of these.
        user_id, uid, display_name, email, properties, declared, conflicts = self
        body: JsonDict = {"id": user_id}
        if uid is not None:
            body["uid"] = uid
        if display_name is not None:
            body["display_name"] = display_name
        if email is not None:
            body["email"] = email
        body["properties"] = properties
        if include_schema:
            body["schema"] = {"properties": infer_schema(properties, declared)}
        elif nulls:
            body["schema"] = None
        if conflicts:
            body["type_conflicts"] = {"properties": conflicts}
        elif nulls:
            body["type_conflicts"] = None
        return body


# ---------------------------------------------------------------------------------------------
# Batch jobs
# ---------------------------------------------------------------------------------------------


class Phase(enum.Enum):
    """Where a batch job is in its lifecycle (QUEUED and RUNNING answer PROCESSING)."""

    QUEUED = "QUEUED"  # waiting for a running slot (§4: at most max_running run at once)
    RUNNING = "RUNNING"  # holds a slot; finishes after processing_seconds or processing_polls
    COMPLETED = "COMPLETED"  # finished, no row failed
    FAILED = "FAILED"  # finished, some rows failed (§5.1 "including partial failures")


# Every allowed move, in one place; terminal phases have none.
TRANSITIONS: Mapping[Phase, frozenset[Phase]] = MappingProxyType(
    {
        Phase.QUEUED: frozenset({Phase.RUNNING}),
        Phase.RUNNING: frozenset({Phase.COMPLETED, Phase.FAILED}),
        Phase.COMPLETED: frozenset(),
        Phase.FAILED: frozenset(),
    }
)


class IllegalTransitionError(RuntimeError):
    """A job was asked to move in a way :data:`TRANSITIONS` does not allow (an emulator bug)."""


# A batch's row checks, run once: each row's error or None, and the rows to import without
# their rejected values (by index). They call their argument now and then, between rows: a
# chance to pause.
RowChecks = Callable[[Callable[[], None]], tuple[list[RowError | None], dict[int, JsonDict]]]


def _no_pause() -> None:
    pass


def job_id(salt: str, kind: str, n: int) -> str:
    """A job id: made from the org's ``salt`` (new with every emulator and every reset, as
    Fullstory's ids are unique), the kind and the org's sequence number ``n``."""
    return hashlib.sha256(f"{salt}:{kind}:{n}".encode()).hexdigest()[:16]


@dataclass
class Job:
    """A batch import job (§5.1).

    ``rows``, ``prefailed`` (each row's error found by the checks, or ``None``) and ``cleaned``
    (rows without their rejected properties) are the request; they are dropped once the job
    finishes, leaving ``imports`` and ``errors``. ``check_rows``, when set, are the checks
    still to run before ``prefailed`` and ``cleaned`` are known (:meth:`run_checks`). Once
    checked, the rows are applied to the store in order while the job processes (``applied``
    of them so far), the rest as it ends.
    """

    kind: str  # "users" | "events"
    id: str
    created: float
    rows: list[Any]
    shared: JsonDict | None
    prefailed: list[RowError | None]
    idempotency_key: str | None
    n_requests: int = 0
    cleaned: dict[int, JsonDict] = field(default_factory=dict)  # rows with rejected properties
    phase: Phase = Phase.QUEUED
    started: float | None = None  # when it took a running slot
    polls: int = 0  # status polls seen while RUNNING
    finished: float | None = None
    imports: list[Any] = field(default_factory=list)
    errors: list[JsonDict] = field(default_factory=list)
    shuffled: dict[str, list[Any]] = field(default_factory=dict)
    check_rows: RowChecks | None = None
    applied: int = 0  # rows applied to the store so far, in order (the first ones)
    # The job's end waits for its checks: a thread checking in the background stops pausing.
    wanted: bool = False
    _checking: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def run_checks(self, pause: Callable[[], None] | None = None) -> None:
        """Run the row checks still to run, once, whichever thread asks first; another
        thread asking meanwhile waits for them to end. If they raise, they stay to run.

        ``pause`` (the background's) is called between rows, and should return at once
        once :attr:`wanted` is set; without it, the caller needs the checks now and sets it.
        """
        if pause is None:
            self.wanted = True
        with self._checking:
            if self.check_rows is not None:
                self.prefailed, self.cleaned = self.check_rows(pause or _no_pause)
                self.check_rows = None

    # -- lifecycle ------------------------------------------------------------------------------

    def _move(self, to: Phase) -> None:
        if to not in TRANSITIONS[self.phase]:
            raise IllegalTransitionError(f"job {self.id}: {self.phase.value} -> {to.value}")
        self.phase = to

    def start(self, at: float) -> None:
        """QUEUED -> RUNNING: take a running slot at ``at`` (never before it was created)."""
        self._move(Phase.RUNNING)
        self.started = max(at, self.created)

    def count_poll(self, limit: int) -> bool:
        """Count a status poll of a RUNNING job; whether it has now had more than ``limit``
        (polls of a queued or finished job do not count)."""
        if self.phase is not Phase.RUNNING:
            return False
        self.polls += 1
        return self.polls > limit

    def finish(self, at: float, *, now: float) -> None:
        """RUNNING -> COMPLETED, or FAILED if any row failed (§5.1), at ``at`` clamped to
        [created, now]. Call it once the rows are applied: the request rows are dropped."""
        self._move(Phase.FAILED if self.errors else Phase.COMPLETED)
        self.finished = min(max(at, self.created), now)
        self.rows = []  # results are kept; the request bodies are no longer needed
        self.prefailed = []
        self.cleaned = {}

    @property
    def running(self) -> bool:
        """Whether the job holds a running slot."""
        return self.phase is Phase.RUNNING

    @property
    def terminal(self) -> bool:
        """Whether the job has finished (COMPLETED or FAILED)."""
        return not TRANSITIONS[self.phase]

    def deadline(self, seconds: float) -> float:
        """When a RUNNING job is due to finish, ``seconds`` after it started."""
        return (self.started or 0.0) + seconds

    # -- as the API shows it --------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The §5.1 ``JobStatus``: PROCESSING until finished."""
        return self.phase.value if self.terminal else PROCESSING

    def public_status(self, config: EmulatorConfig) -> str:
        """The status the API answers: a FAILED job reads COMPLETED under that reading."""
        if self.phase is Phase.FAILED and config.row_error_status == "COMPLETED":
            return Phase.COMPLETED.value
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


# ---------------------------------------------------------------------------------------------
# Result rows
# ---------------------------------------------------------------------------------------------


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
