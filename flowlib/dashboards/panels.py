"""Plain template values for the panels shared by the map pages and the index.

- the satisfaction indicator (旅ナカでの情報取得満足度): share and 95 % interval per
  segment, drawn as a bar with the 2023 baseline and the 2027 target marked on it, and the
  progress from the baseline toward the target; 回答数不足 cells show as such, never as a
  share;
- comparisons (vs the same weekday a week earlier, the previous period, the same period a
  year earlier): per facility and for the circulation rate, with the reason when there is
  no change to show.

Everything here returns dicts of strings and numbers; the Jinja templates autoescape them.
"""

from __future__ import annotations

from typing import Any

from flowlib.dashboards.comparison import Change, Comparison
from flowlib.dashboards.indicator_panel import Indicator
from flowlib.dashboards.page_data import SEGMENT_LABELS, SegmentShare


def fmt_int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def fmt_share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _signed(value: float, suffix: str) -> str:
    if round(value, 1) == 0:
        return f"±0.0{suffix}"
    return f"{'+' if value > 0 else '−'}{abs(value):.1f}{suffix}"


def segment_rows(shares: list[SegmentShare], k: int) -> list[dict[str, Any]]:
    rows = []
    for share in shares:
        ja, en = SEGMENT_LABELS[share.segment]
        rows.append(
            {
                "segment": share.segment,
                "label_ja": ja,
                "label_en": en,
                "count": {"suppressed": share.is_suppressed, "k": k, "text": fmt_int(share.count)},
                "part": {"suppressed": share.is_suppressed, "k": k, "text": fmt_int(share.part)},
                "share": {"suppressed": share.is_suppressed, "k": k, "text": fmt_share(share.share)},
            }
        )
    return rows


# ---------------------------------------------------------------- comparisons

#: What a change cell says when it has no number (ja, en).
CHANGE_STATUS_TEXT: dict[str, tuple[str, str]] = {
    "no_data": ("データなし", "no data"),
    "suppressed": ("秘匿", "suppressed"),
    "withheld": ("非公表", "withheld"),
    "reference_suppressed": ("比較不可（秘匿）", "n/a (suppressed)"),
    "not_comparable": ("比較不可", "not comparable"),
    "zero": ("—", "—"),
}

COMPARISON_TITLES: dict[str, tuple[str, str]] = {
    "previous_week": ("前週同曜日との比較", "vs the same weekday a week earlier"),
    "previous_period": ("前期間との比較", "vs the previous period"),
    "year_earlier": ("前年同期との比較", "vs the same period a year earlier"),
}


def change_cell(change: Change) -> dict[str, Any]:
    """``{status, text, direction, ja, en}``: a signed number, or the reason there is none."""
    delta = change.delta
    if change.status == "ok" and delta is not None:
        text = _signed(delta, " pt" if change.unit == "points" else "%")
        direction = "up" if round(delta, 1) > 0 else "down" if round(delta, 1) < 0 else "flat"
        return {"status": "ok", "text": text, "direction": direction, "ja": text, "en": text}
    status = "zero" if change.status == "ok" else change.status
    ja, en = CHANGE_STATUS_TEXT[status]
    return {"status": status, "text": "", "direction": "none", "ja": ja, "en": en}


def comparison_view(comparison: Comparison, k: int) -> dict[str, Any]:
    title_ja, title_en = COMPARISON_TITLES[comparison.kind]
    note_ja = note_en = ""
    if comparison.status == "no_data":
        note_ja, note_en = "比較する期間のデータがありません。", "The comparison period has no data."
    elif comparison.status == "not_comparable":
        note_ja = (
            f"データのある日が期間の一部のみ（今期 {comparison.current_days} 日、比較期間 "
            f"{comparison.reference_days}/{comparison.days_in_period} 日）のため比較しません。"
        )
        note_en = (
            f"Not compared: data covers only part of a period (this one {comparison.current_days} days, "
            f"the other {comparison.reference_days} of {comparison.days_in_period} days)."
        )
    return {
        "kind": comparison.kind,
        "title_ja": title_ja,
        "title_en": title_en,
        "reference_ja": comparison.reference_ja,
        "reference_en": comparison.reference_en,
        "reference_href": comparison.reference_href,
        "status": comparison.status,
        "note_ja": note_ja,
        "note_en": note_en,
        "k": k,
        "facilities": [
            {
                "facility_id": change.facility.facility_id,
                "name_ja": change.facility.name_ja,
                "name_en": change.facility.name_en,
                "entries": fmt_int(change.entries.current),
                "entries_change": change_cell(change.entries),
                "visitors": fmt_int(change.visitors.current),
                "visitors_change": change_cell(change.visitors),
                "suppressed": change.entries.status == "suppressed",
            }
            for change in comparison.facilities
        ],
        "circulation": [
            {
                "segment": segment,
                "label_ja": SEGMENT_LABELS[segment][0],
                "label_en": SEGMENT_LABELS[segment][1],
                "rate": fmt_share(change.current),
                "reference_rate": fmt_share(change.reference),
                "change": change_cell(change),
                "suppressed": change.status == "suppressed",
            }
            for segment, change in comparison.circulation
        ],
    }


# ---------------------------------------------------------------- indicator


def _position(value: float, axis: tuple[float, float]) -> float:
    low, high = axis
    return round(min(max((value - low) / (high - low), 0.0), 1.0) * 100, 2)


def indicator_view(indicator: Indicator | None) -> dict[str, Any] | None:
    """Bars in percent of the axis width; every number also in text for screen readers."""
    if indicator is None or not indicator.periods:
        return None
    axis = indicator.axis
    ticks = []
    step = 0.1 if axis[1] - axis[0] <= 0.6 else 0.2
    value = axis[0]
    while value <= axis[1] + 1e-9:
        ticks.append({"left": _position(value, axis), "text": f"{value * 100:.0f}%"})
        value = round(value + step, 6)
    periods = []
    for period in indicator.periods:
        title_ja, title_en = period.titles
        cells = []
        for cell in period.cells:
            ja, en = SEGMENT_LABELS[cell.segment]
            shown = not cell.too_few_answers and cell.share is not None
            progress = cell.progress
            cells.append(
                {
                    "segment": cell.segment,
                    "label_ja": ja,
                    "label_en": en,
                    "too_few": not shown,
                    "respondents": fmt_int(cell.respondents),
                    "share": fmt_share(cell.share) if shown else "",
                    "share_value": round(cell.share * 100, 1) if shown else None,
                    "ci_text": f"{cell.ci_low * 100:.1f}–{cell.ci_high * 100:.1f}%"
                    if shown and cell.ci_low is not None and cell.ci_high is not None
                    else "",
                    "ci_low_value": round(cell.ci_low * 100, 1) if shown and cell.ci_low is not None else None,
                    "ci_high_value": round(cell.ci_high * 100, 1) if shown and cell.ci_high is not None else None,
                    "ci_left": _position(cell.ci_low, axis) if shown and cell.ci_low is not None else None,
                    "ci_width": round(_position(cell.ci_high, axis) - _position(cell.ci_low, axis), 2)
                    if shown and cell.ci_low is not None and cell.ci_high is not None
                    else None,
                    "share_left": _position(cell.share, axis) if shown else None,
                    "baseline": fmt_share(cell.baseline),
                    "baseline_value": round(cell.baseline * 100, 1) if cell.baseline is not None else None,
                    "baseline_left": _position(cell.baseline, axis) if cell.baseline is not None else None,
                    "target": fmt_share(cell.target),
                    "target_value": round(cell.target * 100, 1) if cell.target is not None else None,
                    "target_left": _position(cell.target, axis) if cell.target is not None else None,
                    "progress": f"{progress * 100:.0f}%" if shown and progress is not None else "",
                    "progress_value": round(progress * 100, 1) if shown and progress is not None else None,
                    "progress_bar": round(min(max(progress, 0.0), 1.0) * 100, 1) if shown and progress is not None else None,
                    "significant": cell.change_significant if shown else None,
                    "above_baseline": shown and cell.baseline is not None and cell.share > cell.baseline,
                    "p_text": ("p<0.001" if cell.p_value < 0.001 else f"p={cell.p_value:.3f}")
                    if shown and cell.p_value is not None
                    else "",
                }
            )
        periods.append(
            {
                "period_type": period.period_type,
                "label": period.label,
                "title_ja": title_ja,
                "title_en": title_en,
                "months_with_answers": period.months_with_answers,
                "partial_year": period.period_type == "fiscal_year" and period.months_with_answers < 12,
                "cells": cells,
            }
        )
    return {
        "axis_min": round(axis[0] * 100),
        "axis_max": round(axis[1] * 100),
        "ticks": ticks,
        "baseline_year": indicator.baseline_year,
        "target_year": indicator.target_year,
        "has_plan": indicator.baseline_year is not None and indicator.target_year is not None,
        "label_ja": indicator.labels[0],
        "label_en": indicator.labels[1],
        "min_respondents": indicator.min_respondents,
        "periods": periods,
    }
