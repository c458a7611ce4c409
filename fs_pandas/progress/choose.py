"""Pick a display for ``progress=...``: a widget in a notebook, text elsewhere, or nothing."""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Literal, TextIO

from fs_pandas.progress._base import Display, FallbackDisplay, NoDisplay
from fs_pandas.progress.text import TextDisplay
from fs_pandas.progress.widget import WidgetDisplay

__all__ = ["ProgressOption", "choose_display", "in_kernel"]

logger = logging.getLogger(__name__)

ProgressOption = bool | Literal["auto", "widget", "text", "none"]


def choose_display(progress: ProgressOption = True, *, stream: TextIO | None = None) -> Display:
    """Return the display to use for ``progress``.

    Parameters
    ----------
    progress : bool or {"auto", "widget", "text", "none"}, default True
        ``False`` or ``"none"``: show nothing. ``"text"``: a text line on ``stream``.
        ``"widget"``: an ipywidgets bar. ``True`` or ``"auto"``: the widget when running in
        an IPython kernel with ipywidgets importable, text otherwise.
    stream : text stream, optional
        Where text goes (``sys.stderr`` by default).

    Returns
    -------
    Display
        A widget display is wrapped so that if it raises, the error is logged and the run
        carries on with text: a progress bar never fails a run.

    Raises
    ------
    ValueError
        If ``progress`` is not one of the values above.
    """
    mode = _normalise(progress)
    if mode == "none":
        return NoDisplay()
    if mode == "text" or (mode == "auto" and not _widgets_usable()):
        return TextDisplay(stream=stream)
    if importlib.util.find_spec("ipywidgets") is None:
        logger.warning("progress='widget' but ipywidgets is not installed; showing text")
        return TextDisplay(stream=stream)
    return FallbackDisplay(WidgetDisplay(), lambda: TextDisplay(stream=stream))


def in_kernel() -> bool:
    """True when this process is an IPython kernel (Jupyter, VS Code, Colab...).

    Best effort: a kernel says nothing about whether its front end can draw widgets.
    """
    # Only look when IPython is already loaded: a plain script must not pay for importing it.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # a half-initialised IPython must not break the run
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def current_cell() -> object | None:
    """Which notebook cell is running now: its execute request's id (``None`` outside a kernel).

    A background run uses it to tell the cell that started it (where its bar already is) from
    a later one (which gets a view of the same bar under it).
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        parent = kernel.get_parent()  # ipykernel >= 6: the request this thread works for
        cell: object = parent.get("header", {}).get("msg_id") or shell.execution_count
        return cell
    except Exception:  # best effort: an odd kernel must not break the run
        return None


def _widgets_usable() -> bool:
    return in_kernel() and importlib.util.find_spec("ipywidgets") is not None


def _normalise(progress: object) -> str:
    if progress is True:
        return "auto"
    if progress is False or progress is None:
        return "none"
    if isinstance(progress, str) and progress.lower() in {"auto", "widget", "text", "none"}:
        return progress.lower()
    raise ValueError(
        f"progress must be True, False, 'auto', 'widget', 'text' or 'none', not {progress!r}"
    )
