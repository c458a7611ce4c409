"""The run report: HTML for notebooks, one paragraph of text for terminals."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from fs_pandas.report import RunSummary, render_html, render_text


def _summary(**overrides: object) -> RunSummary:
    fields: dict[str, object] = {
        "kind": "users",
        "outcome_counts": {"imported": 900, "failed": 60, "rejected": 40},
        "error_codes": [("invalid_argument", 60, "bad value for property 'plan_str'")],
        "rejected_rules": [("uid_too_long", 40, "uid longer than 256 characters")],
        "job_ids": [f"job-{i}" for i in range(8)],
        "duration_seconds": 12.0,
        "ledger_path": "/tmp/run.ledger",
    }
    fields.update(overrides)
    return RunSummary(**fields)  # type: ignore[arg-type]


class _Collector(HTMLParser):
    """Collects tags, classes and text: enough to check the fragment's structure."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.classes += [v or "" for k, v in attrs if k == "class"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


# ------------------------------------------------------------------ RunSummary


def test_missing_outcomes_count_zero() -> None:
    assert _summary().outcome_counts == {
        "imported": 900,
        "failed": 60,
        "rejected": 40,
        "pending": 0,
    }


def test_total_is_the_sum_of_outcomes() -> None:
    assert _summary().total == 1000


def test_rate_counts_rows_sent_per_second() -> None:
    assert _summary().rate == pytest.approx(960 / 12)


def test_rate_is_unknown_without_a_duration() -> None:
    assert _summary(duration_seconds=None).rate is None


def test_outcome_counts_may_be_a_value_counts_series() -> None:
    import pandas as pd

    counts = pd.Series(["imported", "imported", "failed"]).value_counts()
    assert _summary(outcome_counts=counts).outcome_counts == {
        "imported": 2,
        "failed": 1,
        "rejected": 0,
        "pending": 0,
    }


def test_unknown_outcome_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        _summary(outcome_counts={"imported": 1, "skipped": 2})


def test_negative_count_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        _summary(outcome_counts={"imported": -1})


def test_summary_is_frozen() -> None:
    summary = _summary()
    with pytest.raises(AttributeError):
        summary.kind = "events"  # type: ignore[misc]


# ------------------------------------------------------------------ HTML


def test_html_root_has_the_result_class_and_a_table() -> None:
    parsed = _parse(render_html(_summary()))
    assert parsed.classes[0] == "fs-pandas-result"
    assert "table" in parsed.tags


def test_html_shows_the_count_of_every_outcome() -> None:
    html = render_html(_summary(outcome_counts={"imported": 1234, "failed": 5, "pending": 7}))
    for outcome, shown in [
        ("imported", "1,234"),
        ("failed", "5"),
        ("rejected", "0"),
        ("pending", "7"),
    ]:
        row = re.search(rf'<tr class="fs-pandas-outcome-{outcome}">(.*?)</tr>', html)
        assert row is not None
        assert f">{shown}</td>" in row.group(1)


def test_html_shows_error_codes_with_counts_and_sample_messages() -> None:
    text = " ".join(_parse(render_html(_summary())).text)
    assert "invalid_argument" in text
    assert "bad value for property 'plan_str'" in text


def test_html_shows_rejected_rules_with_counts() -> None:
    html = render_html(_summary())
    assert "uid_too_long" in html
    assert re.search(r"uid_too_long</code></td><td[^>]*>40</td>", html)


def test_html_escapes_messages_rule_names_job_ids_and_paths() -> None:
    evil = "<script>alert(1)</script>"
    html = render_html(
        _summary(
            error_codes=[(evil, 1, evil)],
            rejected_rules=[(evil, 1, f'"{evil}')],
            job_ids=[evil],
            ledger_path=evil,
        )
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_lists_the_first_job_ids_and_how_many_more() -> None:
    html = render_html(_summary())
    assert "job-4" in html
    assert "job-5" not in html
    assert "and 3 more" in html


def test_html_shows_duration_and_rate() -> None:
    html = render_html(_summary())
    assert "12.0 s" in html
    assert "80 rows/s" in html


def test_html_bar_chart_widths_follow_the_outcome_shares() -> None:
    html = render_html(_summary())
    assert re.search(r'class="fs-pandas-bar-imported"[^>]*width: 90\.00%', html)
    assert re.search(r'class="fs-pandas-bar-failed"[^>]*width: 6\.00%', html)
    assert "fs-pandas-bar-pending" not in html  # zero-width segments are left out


def test_html_of_an_empty_run_has_no_bar_but_a_table() -> None:
    parsed = _parse(render_html(_summary(outcome_counts={})))
    assert "fs-pandas-bar" not in parsed.classes
    assert "table" in parsed.tags


def test_html_without_errors_has_no_error_table() -> None:
    html = render_html(_summary(error_codes=[], rejected_rules=[]))
    assert "fs-pandas-errors" not in html
    assert "fs-pandas-rejected" not in html


def test_html_shortens_very_long_sample_messages() -> None:
    html = render_html(_summary(error_codes=[("x", 1, "a" * 5000)]))
    assert "a" * 199 + "…" in html
    assert "a" * 201 not in html.split("title=")[0]


# ------------------------------------------------------------------ text


def test_text_is_one_paragraph() -> None:
    assert "\n" not in render_text(_summary())


def test_text_gives_every_outcome_count() -> None:
    text = render_text(_summary())
    assert "900 imported, 60 failed, 40 rejected, 0 pending" in text


def test_text_gives_error_codes_rules_jobs_and_ledger() -> None:
    text = render_text(_summary())
    assert "invalid_argument × 60" in text
    assert "uid_too_long × 40" in text
    assert "Jobs (8): job-0, job-1, job-2, job-3, job-4 and 3 more." in text
    assert "Ledger: /tmp/run.ledger." in text


def test_text_gives_duration_and_rate() -> None:
    assert "(12.0 s, 80 rows/s)" in render_text(_summary())


def test_text_says_when_duration_is_unknown() -> None:
    assert "duration unknown" in render_text(_summary(duration_seconds=None))


def test_a_stopped_run_says_so_with_how_to_finish_in_text_and_html() -> None:
    summary = RunSummary(
        kind="users",
        outcome_counts={"imported": 10, "pending": 90},
        aborted="interrupted",
        ledger_path="/runs/r.jsonl",
    )
    said = "Stopped early (interrupted): 90 rows pending; finish with "
    said += "fs_pandas.resume('/runs/r.jsonl', df)."
    assert said in render_text(summary)
    html_ = render_html(summary)
    assert 'class="fs-pandas-stopped"' in html_
    assert html.escape(said, quote=True) in html_


def test_notes_come_right_after_the_counts_so_a_replay_does_not_read_as_a_fresh_import() -> None:
    note = "3 of 3 chunks were already sent by the run of 2026-11-30 10:00 UTC: nothing new"
    summary = RunSummary(kind="users", outcome_counts={"imported": 30}, notes=[note])
    text = render_text(summary)
    assert text.startswith("Fullstory users import of 30 rows: 30 imported")
    assert f"). {note}." in text  # the sentence right after the counts
    assert f'class="fs-pandas-result-note" style="color: #b45309">{html.escape(note)}' in (
        render_html(summary)
    )


def test_a_run_that_ended_normally_has_no_stopped_line() -> None:
    summary = RunSummary(kind="users", outcome_counts={"imported": 3})
    assert summary.stopped is None
    assert "Stopped" not in render_text(summary)
    assert "fs-pandas-stopped" not in render_html(summary)
