"""The org's data: users (by id and by uid) and events, and how rows change them (§3.1, §3.2).

Owns the upsert rules (a uid names one user and, once set, never changes; rows without a uid
make anonymous users), how an event's user is resolved, and applying a finished batch job's
rows (:meth:`OrgStore.import_users`, :meth:`OrgStore.import_events`). It also owns the org's
one sequence number, from which both user ids and job ids are drawn, so both are deterministic
per seed. Rows reaching it are already valid (``rules.py``). Not thread-safe on its own:
``OrgState`` calls it under the org's lock.
"""

from __future__ import annotations

from collections.abc import Callable

from fs_pandas.emulator.models import Job, Snapshot, User
from fs_pandas.emulator.properties import without_nulls
from fs_pandas.emulator.replies import MSG_404, JsonDict, RefusedError, RowError
from fs_pandas.emulator.rules import flatten_schema, parse_bool, rfc3339

# User ids are numbers after this one, as long as Fullstory's.
_USER_ID_BASE = 1_000_000_000


class OrgStore:
    """Users and events of one org."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.by_uid: dict[str, str] = {}
        self.events: list[JsonDict] = []
        self._counter = 0

    def next_number(self) -> int:
        """The next number of the org's one sequence (user ids and job ids)."""
        self._counter += 1
        return self._counter

    # -- users ---------------------------------------------------------------------------------

    def new_user(self) -> User:
        """Store a new user with no fields yet."""
        user = User(id=str(_USER_ID_BASE + self.next_number()))
        self.users[user.id] = user
        return user

    def user_or_404(self, user_id: str) -> User:
        """The user with ``user_id``; 404 ``resource_not_found`` when there is none."""
        user = self.users.get(user_id)
        if user is None:
            raise RefusedError(404, "resource_not_found", MSG_404)
        return user

    def set_uid(self, user: User, uid: str | None) -> None:
        """§3.1: once set, a uid is immutable; a uid names one user only."""
        if uid is None or uid == user.uid:
            return
        if user.uid is not None:
            raise RowError("invalid_argument", "uid cannot be changed once set")
        if uid in self.by_uid:
            raise RowError("invalid_argument", f"uid {uid} already belongs to another user")
        user.uid = uid
        self.by_uid[uid] = user.id

    def upsert(self, row: JsonDict) -> User:
        """§3.1: upsert on uid; rows without uid create a new anonymous user (§9.18)."""
        uid = row.get("uid") or None
        user_id = row.get("id")
        if user_id is None and uid is not None and uid not in self.by_uid:
            user = self.new_user()  # the common case of a big import: a new identified user
            user.uid = uid
            self.by_uid[uid] = user.id
        elif user_id is not None:
            if user_id not in self.users:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            user = self.users[user_id]
            self.set_uid(user, uid)
        elif uid is not None:
            user = self.users[self.by_uid[uid]]
        else:
            user = self.new_user()
        user.apply(row)
        return user

    def insert_new(self, uid: str, row: JsonDict) -> Snapshot:
        """Store a new user with ``uid`` from a valid row (same result as :meth:`upsert`,
        without its look-ups and merges: the bulk of a big import)."""
        self._counter += 1
        user_id = str(_USER_ID_BASE + self._counter)
        get = row.get
        props, schema = get("properties"), get("schema")
        name, email = get("display_name"), get("email")
        props = without_nulls(props) if props else {}
        declared = flatten_schema(schema.get("properties") or {}) if schema else {}
        user = User(user_id, uid, name, email, props, declared)
        self.users[user_id] = user
        self.by_uid[uid] = user_id
        # What user.snapshot() gives, without its call and attribute reads (50,000 a job).
        return Snapshot(user_id, uid, name, email, props, declared, user.conflicts)

    def find(self, filters: dict[str, str]) -> list[User]:
        """U3: users matching every filter (uid, email, display_name, is_identified)."""
        return [u for u in self.users.values() if _matches(u, filters)]

    def delete(self, user_id: str | None, uid: str | None) -> None:
        """U5a/U5b: delete by id or by uid (exactly one); 400 for neither or both, 404 if
        unknown."""
        if (user_id is None) == (uid is None):
            raise RefusedError(400, "required_field", "one of id or uid is required")
        if uid is not None:
            user_id = self.by_uid.get(uid)
            if user_id is None:
                raise RefusedError(404, "resource_not_found", MSG_404)
        assert user_id is not None
        user = self.user_or_404(user_id)
        del self.users[user.id]
        if user.uid is not None:
            self.by_uid.pop(user.uid, None)

    # -- events --------------------------------------------------------------------------------

    def make_event(
        self, row: JsonDict, shared: JsonDict | None, clock: Callable[[], float]
    ) -> JsonDict:
        """The stored / echoed event (§5.3): user {id, uid}, session, context, name, ...
        Resolving its user may create one; the event itself is not stored here."""
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
        event["timestamp"] = row.get("timestamp") or rfc3339(clock())
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
            user = self.users[known] if known else self.new_user()
            self.set_uid(user, uid)
            return {"id": user.id, "uid": uid}
        if user_id:
            found = self.users.get(user_id)
            if found is None:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            return {"id": found.id, "uid": found.uid} if found.uid else {"id": found.id}
        return {"id": self.new_user().id}

    # -- batch jobs ----------------------------------------------------------------------------

    def import_users(self, job: Job, stop: int | None = None) -> None:
        """Apply a users job's rows in order, from the first not applied yet to ``stop``
        (default: the last): each becomes an import (a snapshot) or, when it failed at
        create time or fails now, an error echoing the row as sent."""
        by_uid, imports, cleaned = self.by_uid, job.imports, job.cleaned
        start, stop = _next_rows(job, stop)
        rows = zip(job.rows[start:stop], job.prefailed[start:stop], strict=True)
        for i, (sent, err) in enumerate(rows, start):
            row = cleaned.get(i, sent) if cleaned else sent
            if err is None:
                uid = row.get("uid")
                if uid and uid not in by_uid and "id" not in row:
                    # Fast path, the bulk of a big import: a brand-new identified user.
                    imports.append(self.insert_new(uid, row))
                    continue
                try:
                    imports.append(self.upsert(row).snapshot())
                    continue
                except RowError as late:
                    err = late
            job.errors.append({"message": err.message, "code": err.code, "user": sent})
        job.applied = stop

    def import_events(self, job: Job, clock: Callable[[], float], stop: int | None = None) -> None:
        """Apply an events job's rows in order, from the first not applied yet to ``stop``
        (default: the last): each is stored and imported, or becomes an error echoing the
        row as sent (and the batch's ``shared``)."""
        cleaned = job.cleaned
        start, stop = _next_rows(job, stop)
        rows = zip(job.rows[start:stop], job.prefailed[start:stop], strict=True)
        for i, (row, err) in enumerate(rows, start):
            if err is None:
                try:
                    event = self.make_event(cleaned.get(i, row), job.shared, clock)
                    self.events.append(event)
                    job.imports.append(event)
                    continue
                except RowError as late:
                    err = late
            entry: JsonDict = {"message": err.message, "code": err.code, "event": row}
            if job.shared is not None:
                entry["shared"] = job.shared
            job.errors.append(entry)
        job.applied = stop


def _next_rows(job: Job, stop: int | None) -> tuple[int, int]:
    """The rows of ``job`` to apply next: from the first not applied yet to ``stop`` (at
    most the last)."""
    last = len(job.rows)
    return job.applied, last if stop is None else max(job.applied, min(stop, last))


def _matches(user: User, filters: dict[str, str]) -> bool:
    """Whether ``user`` passes every list-users filter (a bad is_identified is a 400)."""
    for key in ("uid", "email", "display_name"):
        if key in filters and getattr(user, key) != filters[key]:
            return False
    wanted = filters.get("is_identified")
    return wanted is None or (user.uid is not None) == parse_bool("is_identified", wanted)
