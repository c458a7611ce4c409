"""Render a finished run's summary as HTML (for notebooks) or one paragraph of text.

Pure functions over a :class:`RunSummary`: no I/O, no pandas, no display. Every string that
comes from the user or from Fullstory (error messages, rule names, job ids, paths) is escaped:
a message echoing a property value can hold ``<script>``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from fs_pandas._types import OUTCOMES
from fs_pandas.progress._format import format_count, format_duration, format_rate

__all__ = ["RESULT_CLASS", "RunSummary", "render_html", "render_text"]

"""The four outcomes of a row, in display order."""

RESULT_CLASS = "fs-pandas-result"
"""CSS class of the report's root element."""

_COLOURS: Mapping[str, str] = {
    "imported": "#2e7d32",
    "failed": "#c62828",
    "rejected": "#ef6c00",
    "pending": "#9e9e9e",
}
_SHOWN_JOB_IDS = 5
_SAMPLE_CHARS = 200
# Notebook front ends style tables their own way; keep ours compact and spaced the same everywhere.
_TABLE_STYLE = "margin: 0.6em 0; border-collapse: collapse"
_CELL = "padding: 0.1em 0.6em"


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did, ready to render.

    Parameters
    ----------
    kind : {"users", "events"}
        What was imported.
    outcome_counts : mapping of str to int
        Rows per outcome (``imported``, ``failed``, ``rejected``, ``pending``); missing
        outcomes count 0.
    error_codes : sequence of (code, count, sample_message)
        Fullstory's per-row error codes, most frequent first.
    rejected_rules : sequence of (rule, count, sample_message)
        Local validation rules that rejected rows.
    job_ids : sequence of str
        Batch job ids, in creation order.
    duration_seconds : float, optional
        Wall time of the run.
    ledger_path : str, optional
        Where the run's ledger lives (for ``fs_pandas.resume``).
    aborted : str, optional
        Why the run stopped before every row had an outcome (``"interrupted"``, ``"timeout"``,
        ``"cancelled"``, an error); ``None`` when it ran to the end.
    notes : sequence of str
        What else the reader must know: chunks an earlier run had already sent (nothing new
        was sent for them), rows a counts-only run could not place...

    Raises
    ------
    ValueError
        On an unknown outcome name or a negative count.
    """

    kind: Literal["users", "events"]
    outcome_counts: Mapping[str, int]
    error_codes: Sequence[tuple[str, int, str]] = field(default_factory=tuple)
    rejected_rules: Sequence[tuple[str, int, str]] = field(default_factory=tuple)
    job_ids: Sequence[str] = field(default_factory=tuple)
    duration_seconds: float | None = None
    ledger_path: str | None = None
    aborted: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Accept loose input (dicts, lists, numpy ints), normalise it once into plain values.
        given = {str(k): int(v) for k, v in self.outcome_counts.items()}  # also a pd.Series
        unknown = set(given) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcome(s) {sorted(unknown)}; expected {OUTCOMES}")
        counts = {o: given.get(o, 0) for o in OUTCOMES}
        if any(n < 0 for n in counts.values()):
            raise ValueError(f"outcome counts must not be negative: {counts}")
        object.__setattr__(self, "outcome_counts", counts)
        object.__setattr__(self, "error_codes", _triples(self.error_codes))
        object.__setattr__(self, "rejected_rules", _triples(self.rejected_rules))
        object.__setattr__(self, "job_ids", tuple(str(j) for j in self.job_ids))
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    @property
    def stopped(self) -> str | None:
        """One sentence on a run that stopped early, with how to finish it; else ``None``."""
        if self.aborted is None:
            return None
        pending = self.outcome_counts["pending"]
        text = f"Stopped early ({self.aborted})"
        if pending and self.ledger_path:
            text += (
                f": {format_count(pending)} rows pending; finish with "
                f"fs_pandas.resume({self.ledger_path!r}, df)"
            )
        return text + "."

    @property
    def total(self) -> int:
        """Rows in the run: the four outcomes add up to it."""
        return sum(self.outcome_counts.values())

    @property
    def rate(self) -> float | None:
        """Rows Fullstory answered for (imported + failed) per second, when known.

        Rejected rows never left the machine, so they do not count toward throughput.
        """
        if not self.duration_seconds or self.duration_seconds <= 0:
            return None
        sent = self.outcome_counts["imported"] + self.outcome_counts["failed"]
        return sent / self.duration_seconds


def _triples(items: Sequence[tuple[str, int, str]]) -> tuple[tuple[str, int, str], ...]:
    return tuple((str(name), int(count), str(sample)) for name, count, sample in items)


# ---------------------------------------------------------------------------------- HTML


def render_html(summary: RunSummary) -> str:
    """Render ``summary`` as a self-contained HTML fragment.

    Parameters
    ----------
    summary : RunSummary
        The finished run.

    Returns
    -------
    str
        A ``<div class="fs-pandas-result">`` with a headline, a bar chart of outcomes in
        plain HTML/CSS, a table of outcome counts, tables of error codes and rejection rules,
        and the job ids. Styles are inline so they survive front ends that strip
        ``<style>`` from outputs.
    """
    parts = [
        _html_headline(summary),
        _html_notes(summary),
        _html_bar(summary),
        _html_outcomes(summary),
        _html_named_counts(
            "Fullstory error codes", "code", summary.error_codes, "fs-pandas-errors"
        ),
        _html_named_counts(
            "Rejected before sending", "rule", summary.rejected_rules, "fs-pandas-rejected"
        ),
        _html_footer(summary),
    ]
    body = "\n".join(p for p in parts if p)
    return (
        f'<div class="{RESULT_CLASS}" style="font-family: inherit; font-size: 0.9em; '
        f'max-width: 48em">\n{body}\n</div>'
    )


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_headline(summary: RunSummary) -> str:
    timing = format_duration(summary.duration_seconds)
    rate = format_rate(summary.rate)
    return (
        f"<div><b>Fullstory {_esc(summary.kind)} import</b> · "
        f"{format_count(summary.total)} rows · {_esc(timing)} · {_esc(rate)}</div>"
    )


def _html_notes(summary: RunSummary) -> str:
    """How the run stopped (in red) and its notes (in amber), right under the headline: a
    re-run that sent nothing new must not read as a fresh import."""
    lines = []
    if summary.stopped is not None:
        lines.append(
            f'<div class="fs-pandas-stopped" style="color: #b91c1c">{_esc(summary.stopped)}</div>'
        )
    lines += [
        f'<div class="fs-pandas-result-note" style="color: #b45309">{_esc(note)}</div>'
        for note in summary.notes
    ]
    return "\n".join(lines)


def _html_bar(summary: RunSummary) -> str:
    total = summary.total
    if total == 0:
        return ""
    label = ", ".join(f"{o} {summary.outcome_counts[o]}" for o in OUTCOMES)
    segments = [
        f'<div class="fs-pandas-bar-{o}" title="{o}: {format_count(n)}" '
        f'style="width: {100 * n / total:.2f}%; background: {_COLOURS[o]}"></div>'
        for o in OUTCOMES
        if (n := summary.outcome_counts[o])
    ]
    return (
        f'<div class="fs-pandas-bar" role="img" aria-label="{_esc(label)}" '
        'style="display: flex; height: 0.9em; margin: 0.4em 0; border-radius: 3px; '
        'overflow: hidden; background: #eee">' + "".join(segments) + "</div>"
    )


def _html_outcomes(summary: RunSummary) -> str:
    total = summary.total
    rows = []
    for o in OUTCOMES:
        n = summary.outcome_counts[o]
        share = f"{n / total:.1%}" if total else "–"
        swatch = (
            f'<span style="display: inline-block; width: 0.8em; height: 0.8em; '
            f'background: {_COLOURS[o]}; margin-right: 0.4em"></span>'
        )
        rows.append(
            f'<tr class="fs-pandas-outcome-{o}">{_td(swatch + o)}'
            f"{_num(format_count(n))}{_num(share)}</tr>"
        )
    return (
        f'<table class="fs-pandas-outcomes" style="{_TABLE_STYLE}">'
        f"<thead><tr>{_th('outcome')}{_th('rows', right=True)}{_th('share', right=True)}"
        "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
        f"<tfoot><tr>{_th('total')}{_num(format_count(total))}<td></td></tr></tfoot>"
        "</table>"
    )


def _html_named_counts(
    title: str, column: str, items: Sequence[tuple[str, int, str]], css_class: str
) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr>{_td(f'<code>{_esc(name)}</code>')}"
        f"{_num(format_count(count))}"
        f"{_td(_esc(_shorten(sample)), title=sample)}</tr>"
        for name, count, sample in items
    )
    return (
        f'<table class="{css_class}" style="{_TABLE_STYLE}">'
        f'<caption style="text-align: left; font-weight: bold">{_esc(title)}</caption>'
        f"<thead><tr>{_th(column)}{_th('rows', right=True)}{_th('sample message')}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _td(html_text: str, *, title: str | None = None) -> str:
    tip = "" if title is None else f' title="{_esc(title)}"'
    return f'<td style="text-align: left; {_CELL}"{tip}>{html_text}</td>'


def _num(text: str) -> str:
    return f'<td style="text-align: right; {_CELL}">{text}</td>'


def _th(text: str, *, right: bool = False) -> str:
    align = "right" if right else "left"
    return f'<th style="text-align: {align}; {_CELL}">{text}</th>'


def _html_footer(summary: RunSummary) -> str:
    lines = []
    if summary.job_ids:
        ids = ", ".join(f"<code>{_esc(j)}</code>" for j in summary.job_ids[:_SHOWN_JOB_IDS])
        lines.append(f"Jobs ({len(summary.job_ids)}): {ids}{_more(summary.job_ids)}")
    if summary.ledger_path:
        lines.append(f"Ledger: <code>{_esc(summary.ledger_path)}</code>")
    if not lines:
        return ""
    return '<div class="fs-pandas-result-footer">' + "<br>".join(lines) + "</div>"


def _more(job_ids: Sequence[str]) -> str:
    extra = len(job_ids) - _SHOWN_JOB_IDS
    return f" and {format_count(extra)} more" if extra > 0 else ""


def _shorten(text: str) -> str:
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


# ---------------------------------------------------------------------------------- text


def render_text(summary: RunSummary) -> str:
    """Render ``summary`` as one paragraph for terminals and logs.

    Parameters
    ----------
    summary : RunSummary
        The finished run.

    Returns
    -------
    str
        The same facts as :func:`render_html`, in sentences.
    """
    counts = summary.outcome_counts
    sentences = [
        f"Fullstory {summary.kind} import of {format_count(summary.total)} rows: "
        + ", ".join(f"{format_count(counts[o])} {o}" for o in OUTCOMES)
        + f" ({_text_timing(summary)})."
    ]
    if summary.stopped is not None:
        sentences.append(summary.stopped)
    sentences += [note if note.endswith(".") else note + "." for note in summary.notes]
    if summary.error_codes:
        sentences.append("Error codes: " + _text_named(summary.error_codes) + ".")
    if summary.rejected_rules:
        sentences.append("Rejected by rule: " + _text_named(summary.rejected_rules) + ".")
    if summary.job_ids:
        ids = ", ".join(summary.job_ids[:_SHOWN_JOB_IDS])
        sentences.append(f"Jobs ({len(summary.job_ids)}): {ids}{_more(summary.job_ids)}.")
    if summary.ledger_path:
        sentences.append(f"Ledger: {summary.ledger_path}.")
    return " ".join(sentences)


def _text_timing(summary: RunSummary) -> str:
    if summary.duration_seconds is None:
        return "duration unknown"
    return f"{format_duration(summary.duration_seconds)}, {format_rate(summary.rate)}"


def _text_named(items: Sequence[tuple[str, int, str]]) -> str:
    return "; ".join(
        f"{name} × {format_count(count)} (e.g. {_shorten(sample)!r})"
        for name, count, sample in items
    )
