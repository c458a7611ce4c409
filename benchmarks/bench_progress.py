"""How much a progress display costs on a large run.

Replays the events of a 1,000,000-row run (1,000 chunks of 1,000 rows, each job polled five
times, two result pages per job) through ``ProgressState`` and each display, with the real
clock, and reports wall time, events per second and how many times each display redrew.
The widget is built outside a kernel (its messages go nowhere), so this measures our side of
the cost; a front end adds its own rendering time per redraw, which throttling bounds.

Run: ``python benchmarks/bench_progress.py``
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

from fs_pandas.models import JobStatus
from fs_pandas.progress import NoDisplay, ProgressState, TextDisplay, WidgetDisplay, consume
from fs_pandas.progress._base import Display
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

CHUNKS = 1_000
ROWS_PER_CHUNK = 1_000
POLLS = 5


def events() -> Iterator[ProgressEvent]:
    """The events of a run of ``CHUNKS * ROWS_PER_CHUNK`` rows, 20 jobs in flight."""
    total = CHUNKS * ROWS_PER_CHUNK
    yield RunStarted("users", total, 0, CHUNKS, None)
    in_flight = 20
    for start in range(0, CHUNKS, in_flight):
        batch = range(start, min(start + in_flight, CHUNKS))
        for c in batch:
            yield ChunkPlanned(c, ROWS_PER_CHUNK)
            yield JobCreated(c, f"job-{c}", ROWS_PER_CHUNK)
        for p in range(1, POLLS + 1):
            for c in batch:
                done = ROWS_PER_CHUNK * p // POLLS
                status = JobStatus.COMPLETED if p == POLLS else JobStatus.PROCESSING
                yield JobPolled(c, f"job-{c}", status, done, 0)
        for c in batch:
            yield PageFetched(c, f"job-{c}", "imports", ROWS_PER_CHUNK)
            yield PageFetched(c, f"job-{c}", "errors", 0)
            yield JobFinished(c, f"job-{c}", JobStatus.COMPLETED, ROWS_PER_CHUNK, 0)
    yield RunFinished(imported=total, failed=0, rejected=0, pending=0)


def bench(name: str, display: Display) -> None:
    n_events = sum(1 for _ in events())
    t0 = time.perf_counter()
    state = consume(events(), display, ProgressState())
    seconds = time.perf_counter() - t0
    draws = getattr(display, "draws", 0)
    print(
        f"{name:<22} {n_events:>7,} events in {seconds:6.3f} s "
        f"({n_events / seconds:>9,.0f} events/s), {draws:>4} redraws, "
        f"rows {state.rows_finished:,}/{state.rows_total:,}"
    )


def main() -> None:
    t0 = time.perf_counter()
    import ipywidgets  # noqa: F401  (imported once here so the widget rows time drawing only)

    print(f"importing ipywidgets: {time.perf_counter() - t0:.3f} s")
    bench("state only (no-op)", NoDisplay())
    bench("text, tty", TextDisplay(stream=io.StringIO(), tty=True))
    bench("text, not a tty", TextDisplay(stream=io.StringIO(), tty=False))
    bench("widget (no kernel)", WidgetDisplay(show=lambda _: None))
    bench("widget, unthrottled", WidgetDisplay(show=lambda _: None, interval=0.0))


if __name__ == "__main__":
    main()
