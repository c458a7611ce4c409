"""A run: a frame's rows through Fullstory batch jobs, from plan to result.

=============  ===========================================================================
``launch``     :func:`start` and :func:`resume`: plan, open the journal, hand over
``handle``     :class:`RunHandle`: drives the engine, shows progress, builds the result
``engine``     the runner: chunks -> jobs -> joins under admission control; yields the
               progress events of :mod:`fs_pandas.progress.events`
``join``       a job's result pages -> the source rows they belong to
``ledger``     the run's journal on disk; :func:`runs`
``result``     :class:`BatchResult`: one outcome per source row, on the source index
=============  ===========================================================================
"""

from __future__ import annotations

from fs_pandas.run.handle import RunHandle
from fs_pandas.run.launch import resume, start
from fs_pandas.run.ledger import runs
from fs_pandas.run.result import BatchResult

__all__ = ["BatchResult", "RunHandle", "resume", "runs", "start"]
