"""The KPI panel: the indicator's latest month and fiscal year, per segment."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from flowlib.dashboards.page_sql import page_rows, table_exists

INDICATOR_SEGMENTS = ("domestic", "international")
INDICATOR_PERIOD_TYPES = ("month", "fiscal_year")


@dataclass(frozen=True)
class IndicatorCell:
    """One segment of marts.info_satisfaction_indicator (shares 0-1)."""

    segment: str
    respondents: int | None
    share: float | None
    ci_low: float | None
    ci_high: float | None
    too_few_answers: bool
    baseline: float | None
    target: float | None
    progress: float | None
    change_significant: bool | None
    p_value: float | None


@dataclass(frozen=True)
class IndicatorPeriod:
    period_type: str  # month | fiscal_year
    label: str  # 2026-11 | FY2026
    start: date
    end: date
    months_with_answers: int
    cells: list[IndicatorCell]

    @property
    def titles(self) -> tuple[str, str]:
        if self.period_type == "fiscal_year":
            return f"{self.start.year}年度", f"FY{self.start.year}"
        if self.period_type == "month":
            return f"{self.start.year}年{self.start.month}月", self.start.strftime("%B %Y")
        return self.label, self.label


@dataclass(frozen=True)
class Indicator:
    """The KPI panel: the latest month and fiscal year with enough answers, per segment."""

    periods: list[IndicatorPeriod]
    #: None: the definition declares no plan, so no baseline or target is drawn or named
    baseline_year: int | None = 2023
    target_year: int | None = 2027
    min_respondents: int = 30
    labels: tuple[str, str] = ("旅ナカでの情報取得満足度", "In-trip information satisfaction")

    @property
    def axis(self) -> tuple[float, float]:
        """The bars' common scale (0-1): from a round ten at least 5 points below everything
        drawn (interval, baseline, target) up to 100 %, so small gaps stay visible."""
        values = [
            value
            for period in self.periods
            for cell in period.cells
            for value in (cell.ci_low, cell.share, cell.baseline, cell.target)
            if value is not None
        ]
        low = min(values, default=0.0)
        return max(0.0, math.floor((low - 0.05) * 10) / 10), 1.0


def load_indicator(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    baseline_year: int | None = 2023,
    target_year: int | None = 2027,
    min_respondents: int = 30,
    labels: tuple[str, str] = ("旅ナカでの情報取得満足度", "In-trip information satisfaction"),
) -> Indicator | None:
    """The latest month and fiscal year starting on or before ``as_of`` (None: any) in which
    domestic or international has enough answers; when none has, the latest one at all, so
    that its cells show as 回答数不足 rather than disappear. None without the mart."""
    if not table_exists(con, "marts.info_satisfaction_indicator"):
        return None
    periods = []
    for period_type in INDICATOR_PERIOD_TYPES:
        rows = page_rows(con, "indicator_periods", period_type=period_type, as_of=as_of)
        if not rows:
            continue
        by_start: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_start[row["period_start"]].append(row)
        starts = sorted(by_start, reverse=True)
        chosen = next((s for s in starts if any(not r["too_few_answers"] for r in by_start[s])), starts[0])
        chosen_rows = {row["segment"]: row for row in by_start[chosen]}
        first = by_start[chosen][0]
        cells = []
        for segment in INDICATOR_SEGMENTS:
            row = chosen_rows.get(segment)
            if row is None:
                continue
            too_few = bool(row["too_few_answers"])
            cells.append(
                IndicatorCell(
                    segment=segment,
                    respondents=row["respondents"],
                    share=None if too_few else row["share"],
                    ci_low=None if too_few else row["ci_low"],
                    ci_high=None if too_few else row["ci_high"],
                    too_few_answers=too_few,
                    baseline=row["baseline_share"],
                    target=row["target_share"],
                    progress=None if too_few else row["progress_to_target"],
                    change_significant=None if too_few else row["change_significant"],
                    p_value=None if too_few else row["change_vs_baseline_p_value"],
                )
            )
        periods.append(
            IndicatorPeriod(
                period_type=period_type,
                label=first["period_label"],
                start=first["period_start"],
                end=first["period_end"],
                months_with_answers=int(first["months_with_answers"] or 0),
                cells=cells,
            )
        )
    if not periods:
        return None
    return Indicator(
        periods=periods, baseline_year=baseline_year, target_year=target_year, min_respondents=min_respondents, labels=labels
    )
