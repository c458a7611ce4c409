"""Progress displays: they consume the runner's events, the runner never imports them.

``choose_display(progress)`` picks a widget in a notebook, a text line in a terminal, or
nothing; ``consume(events, display)`` drives one from an event iterator; ``ProgressState`` is
the pure reducer both read.
"""

from __future__ import annotations

from fs_pandas.progress._base import (
    Display,
    FallbackDisplay,
    NoDisplay,
    Throttle,
    aborted_by,
    consume,
)
from fs_pandas.progress.choose import ProgressOption, choose_display, current_cell, in_kernel
from fs_pandas.progress.state import ProgressState
from fs_pandas.progress.text import TextDisplay
from fs_pandas.progress.widget import WidgetDisplay

__all__ = [
    "Display",
    "FallbackDisplay",
    "NoDisplay",
    "ProgressOption",
    "ProgressState",
    "TextDisplay",
    "Throttle",
    "WidgetDisplay",
    "aborted_by",
    "choose_display",
    "consume",
    "current_cell",
    "in_kernel",
]
