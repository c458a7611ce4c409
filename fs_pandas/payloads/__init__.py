"""DataFrame rows -> validated Fullstory request objects and batch bodies. No network here.

``plan_users`` / ``plan_events`` check every row (rejected rows are reported, never sent),
show the type plan, and build ``{"requests":[...]}`` bodies lazily, one chunk at a time.
See ``docs/payloads.md`` for the type plan, the null policy and every rejection rule.
"""

from __future__ import annotations

from fs_pandas.payloads.events import plan_events
from fs_pandas.payloads.plan import Chunk, Plan
from fs_pandas.payloads.rules import Rule
from fs_pandas.payloads.users import plan_users

__all__ = ["Chunk", "Plan", "Rule", "plan_events", "plan_users"]
