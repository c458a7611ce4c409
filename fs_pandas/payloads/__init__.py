"""DataFrame rows -> validated Fullstory request objects and batch bodies. No network here.

``plan_users`` / ``plan_events`` check every row (rejected rows are reported, never sent),
show the type plan, and build ``{"requests":[...]}`` bodies lazily, one chunk at a time.
See ``docs/payloads.md`` for the type plan, the null policy and every rejection rule.
"""

from __future__ import annotations

import pandas as pd

from fs_pandas.payloads.events import plan_events
from fs_pandas.payloads.plan import Chunk, Plan
from fs_pandas.payloads.rules import Rule
from fs_pandas.payloads.users import plan_users
from fs_pandas.specs import EventSpec, Spec, UserSpec

__all__ = ["Chunk", "Plan", "Rule", "plan", "plan_events", "plan_users"]


def plan(frame: pd.DataFrame, spec: Spec) -> Plan:
    """Plan ``frame`` as ``spec`` says: :func:`plan_users` for a :class:`UserSpec`,
    :func:`plan_events` for an :class:`EventSpec`."""
    if isinstance(spec, UserSpec):
        return plan_users(frame, **spec.options())
    if isinstance(spec, EventSpec):
        return plan_events(frame, **spec.options())
    raise TypeError(f"expected a UserSpec or an EventSpec, got {type(spec).__name__}")
