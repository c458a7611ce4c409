"""Number formatting shared by the progress displays and the run report.

Kept in one place so the widget, the terminal line and the report say the same numbers the
same way.
"""

from __future__ import annotations

import math

__all__ = ["format_count", "format_duration", "format_rate"]


def format_count(n: int) -> str:
    """Format a row count with thousands separators: ``1234567`` -> ``"1,234,567"``."""
    return f"{n:,}"


def format_duration(seconds: float | None) -> str:
    """Format a duration for people: ``"4.2 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``.

    ``None`` (unknown) and non-finite values give ``"–"``.
    """
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def format_rate(rows_per_second: float | None) -> str:
    """Format a throughput: ``"8,123 rows/s"``, ``"0.5 rows/s"``; ``None`` gives ``"–"``."""
    if rows_per_second is None or not math.isfinite(rows_per_second):
        return "–"
    if rows_per_second < 10:
        return f"{rows_per_second:.1f} rows/s"
    return f"{round(rows_per_second):,} rows/s"
