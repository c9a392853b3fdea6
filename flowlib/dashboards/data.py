"""What the dashboards read from the warehouse, already aggregated for drawing.

Everything is aggregated here (per facility, per flow, per H3 cell and hour), so a page
draws at most a few thousand things however many raw rows stood behind them. Suppressed
cells (``is_suppressed``) are kept as "suppressed" so the page can say so; their counts
are never used, and never enter a comparison.

A page shows one service day (the daily marts) or one ISO week / calendar month (the
``*_by_period`` marts, cut "all day types, all visitors, card taps"). Both load into the
same :class:`DayData`, so one page builder draws both. A period cell whose additive
counts were withheld because one of its days is suppressed (``suppression = 'partial'``)
keeps its distinct visitors; its entries / transitions are ``None`` ("withheld").
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import h3

from flowlib.calendar import period_bounds

if TYPE_CHECKING:
    from flowlib.dashboards.feeds import PageFeeds

log = logging.getLogger(__name__)

#: Heat maps never carry more distinct cells than this; finer data is merged into
#: parent H3 cells. 2,000 cells x 24 hours keeps the hourly series near 1 MB.
MAX_HEAT_CELLS = 2_000
#: Flows drawn at most (the largest by visitors); more would be unreadable anyway.
MAX_FLOWS = 200
#: Routes listed in the side panel.
TOP_ROUTES = 15
#: Next destinations listed in a facility popup.
TOP_NEXT_DESTINATIONS = 3
#: Loads within this window before the latest one count as "last night's run".
LAST_RUN_WINDOW = timedelta(hours=12)
#: The source kind the pages count facilities and circulation by: cashless admissions (card
#: taps). Wi-Fi sensor counts of the same marts are exported, not drawn (a facility would
#: otherwise count twice).
PAGE_SOURCE_KIND = "entry_log"
#: Flows and routes measured by Wi-Fi sensors (free sights without gates) are drawn beside the
#: card-tap ones, each saying which kind measured it (issue 14): a move to a sight with no gate
#: exists only in this kind, so leaving it out would leave those sights out of every flow.
SENSOR_SOURCE_KIND = "wifi_sensor"
#: Which kind measured an edge or a route, as the pages say it.
SOURCE_KIND_LABELS: dict[str, tuple[str, str]] = {
    PAGE_SOURCE_KIND: ("カード入場記録", "card admissions"),
    SENSOR_SOURCE_KIND: ("Wi-Fiセンサー", "Wi-Fi sensors"),
}
#: Period pages: one per ISO week and per calendar month that has data.
PAGE_GRAINS = ("iso_week", "month")

SEGMENT_LABELS: dict[str, tuple[str, str]] = {
    "all": ("全体", "All"),
    "domestic": ("国内", "Domestic"),
    "international": ("海外", "International"),
    "unknown": ("不明", "Unknown"),
}
SHOWN_SEGMENTS = ("all", "domestic", "international")
INDICATOR_SEGMENTS = ("domestic", "international")
INDICATOR_PERIOD_TYPES = ("month", "fiscal_year")

# marts.* and ref.* tables that every daily page reads; facility_entries_hourly and
# wifi_area_hourly are not drawn (the H3 heat map is finer than the area one).
DATE_SOURCES = (
    "marts.facility_daily",
    "marts.transitions_daily",
    "marts.routes_daily",
    "marts.circulation_daily",
    "marts.wifi_h3_hourly",
    "marts.survey_satisfaction_daily",
)
PERIOD_SOURCES = (
    "marts.facility_visits_by_period",
    "marts.transitions_by_period",
    "marts.routes_by_period",
    "marts.circulation_by_period",
)
#: The headline cut of a period mart: every day type, every visitor, card taps.
PERIOD_CUT = "period_grain = ? and period_start = ? and day_type = 'all' and source_kind = 'entry_log'"

WEEKDAYS_JA = "月火水木金土日"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    schema, table = qualified_name.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def table_columns(con: duckdb.DuckDBPyConnection, qualified_name: str) -> list[str]:
    schema, table = qualified_name.split(".")
    return [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def _kind_filter(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """`` and source_kind = 'entry_log'`` when the daily mart has a source kind (it does since
    the period roll-ups; older warehouses and hand-made test warehouses may not)."""
    return f" and source_kind = '{PAGE_SOURCE_KIND}'" if "source_kind" in table_columns(con, table) else ""


# ---------------------------------------------------------------- periods


def date_labels(day: date) -> tuple[str, str]:
    """'2025-11-24（月）' and 'Mon 24 Nov 2025'."""
    return f"{day.isoformat()}（{WEEKDAYS_JA[day.weekday()]}）", day.strftime("%a %d %b %Y")


@dataclass(frozen=True, order=True)
class Period:
    """An ISO week (Monday-Sunday) or a calendar month, named like the marts name it."""

    grain: str
    start: date

    def __post_init__(self) -> None:
        if self.grain not in PAGE_GRAINS:
            raise ValueError(f"no page for period grain {self.grain!r}; use one of {PAGE_GRAINS}.")
        if period_bounds(self.grain, self.start)[0] != self.start:
            raise ValueError(f"{self.start} does not start a {self.grain}.")

    @classmethod
    def containing(cls, grain: str, day: date) -> Period:
        return cls(grain, period_bounds(grain, day)[0])

    @property
    def end(self) -> date:
        return period_bounds(self.grain, self.start)[1]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """'2026-W45' or '2026-11' (also the page's file name without .html)."""
        if self.grain == "iso_week":
            iso_year, week, _ = self.start.isocalendar()
            return f"{iso_year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def folder(self) -> str:
        return "weekly" if self.grain == "iso_week" else "monthly"

    @property
    def file_name(self) -> str:
        return f"{self.label}.html"

    def titles(self) -> tuple[str, str]:
        """'2026-W45（11月2日〜11月8日）' / 'Week 2026-W45 (2 Nov – 8 Nov 2026)'; '2026年11月' / 'November 2026'."""
        if self.grain == "iso_week":
            end = self.end
            return (
                f"{self.label}（{self.start.month}月{self.start.day}日〜{end.month}月{end.day}日）",
                f"Week {self.label} ({self.start.day} {self.start:%b} – {end.day} {end:%b %Y})",
            )
        return f"{self.start.year}年{self.start.month}月", self.start.strftime("%B %Y")

    def previous(self) -> Period:
        return Period.containing(self.grain, self.start - timedelta(days=1))

    def next(self) -> Period:
        return Period.containing(self.grain, self.end + timedelta(days=1))

    def year_earlier(self) -> Period | None:
        """The same ISO week number / the same month one year earlier (None: no week 53 then)."""
        if self.grain == "iso_week":
            iso_year, week, _ = self.start.isocalendar()
            try:
                return Period(self.grain, date.fromisocalendar(iso_year - 1, week, 1))
            except ValueError:
                return None
        return Period(self.grain, self.start.replace(year=self.start.year - 1))


def periods_in_marts(con: duckdb.DuckDBPyConnection, grain: str) -> list[Period]:
    """Every ISO week or month that a drawn period mart has card-tap rows for, oldest first."""
    tables = [table for table in PERIOD_SOURCES if table_exists(con, table)]
    if not tables:
        return []
    union = " union ".join(
        f"select distinct period_start from {table} where period_grain = ? and source_kind = ?" for table in tables
    )
    params: list[Any] = []
    for _ in tables:
        params += [grain, PAGE_SOURCE_KIND]
    starts = [row[0] for row in con.execute(f"select period_start from ({union}) order by 1", params).fetchall()]
    periods = []
    for start in starts:
        try:
            periods.append(Period(grain, start))
        except ValueError:
            log.warning("%s period starting %s does not start a calendar %s; no page drawn", grain, start, grain)
    return periods


# ---------------------------------------------------------------- page data


@dataclass(frozen=True)
class Facility:
    facility_id: str
    name_ja: str
    name_en: str
    lat: float | None
    lon: float | None

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class FacilityDay:
    facility: Facility
    entries: int | None
    visitors: int | None
    domestic_visitors: int | None
    international_visitors: int | None
    unknown_visitors: int | None
    is_suppressed: bool


@dataclass(frozen=True)
class Flow:
    from_id: str
    to_id: str
    transitions: int | None
    visitors: int | None
    next_probability: float | None
    median_minutes: float | None
    is_suppressed: bool
    source_kind: str = PAGE_SOURCE_KIND


@dataclass(frozen=True)
class Route:
    rank: int
    facility_ids: tuple[str, ...]
    visitors: int
    source_kind: str = PAGE_SOURCE_KIND


@dataclass(frozen=True)
class SegmentShare:
    """A count, the part of it that qualifies, and the share (circulation or satisfaction)."""

    segment: str
    count: int | None
    part: int | None
    share: float | None
    is_suppressed: bool


@dataclass
class HeatSeries:
    """Wi-Fi connections per cell: whole day and by hour (service-day order), weights 0-1."""

    hour_labels: list[str] = field(default_factory=list)
    by_hour: list[list[list[float]]] = field(default_factory=list)
    whole_day: list[list[float]] = field(default_factory=list)
    h3_resolution: int | None = None

    @property
    def is_empty(self) -> bool:
        return not self.whole_day


# ---------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Change:
    """One value against the same value in a comparison day or period.

    ``status``: ``ok``; ``no_data`` (nothing to compare with); ``suppressed`` /
    ``withheld`` (the current value is not published); ``reference_suppressed`` (the
    comparison value is suppressed or withheld, so no change is computed);
    ``not_comparable`` (one of the two periods is only partly covered by data).
    ``unit``: ``percent`` (relative change of a count) or ``points`` (change of a rate in
    percentage points).
    """

    current: float | None
    reference: float | None
    status: str
    unit: str = "percent"

    @property
    def delta(self) -> float | None:
        if self.status != "ok" or self.current is None or self.reference is None:
            return None
        if self.unit == "points":
            return (self.current - self.reference) * 100
        if self.reference == 0:
            return None
        return (self.current - self.reference) / self.reference * 100


@dataclass(frozen=True)
class FacilityChange:
    facility: Facility
    entries: Change
    visitors: Change


@dataclass(frozen=True)
class Comparison:
    """The page's figures against a comparison day or period.

    ``kind``: ``previous_week`` (daily page: the same weekday a week earlier),
    ``previous_period`` or ``year_earlier`` (period pages). ``status``: ``ok``,
    ``no_data`` (the comparison day/period has no data) or ``not_comparable`` (one of the
    two periods has days without data, so totals would compare unlike spans).
    """

    kind: str
    reference_ja: str
    reference_en: str
    status: str
    facilities: list[FacilityChange] = field(default_factory=list)
    circulation: list[tuple[str, Change]] = field(default_factory=list)
    reference_href: str | None = None
    current_days: int | None = None
    reference_days: int | None = None
    days_in_period: int | None = None


def _value_change(
    current: float | None,
    current_suppressed: bool,
    reference_present: bool,
    reference: float | None,
    reference_suppressed: bool,
    overall: str,
    unit: str = "percent",
) -> Change:
    if current_suppressed:
        return Change(None, None, "suppressed", unit)
    if current is None:
        return Change(None, None, "withheld", unit)
    if overall != "ok":
        return Change(current, None, overall, unit)
    if not reference_present:
        return Change(current, None, "no_data", unit)
    if reference_suppressed or reference is None:
        return Change(current, None, "reference_suppressed", unit)
    return Change(current, reference, "ok", unit)


def compare(
    kind: str,
    reference_labels: tuple[str, str],
    current_facilities: list[FacilityDay],
    current_circulation: list[SegmentShare],
    reference_facilities: list[FacilityDay],
    reference_circulation: list[SegmentShare],
    status: str,
    reference_href: str | None = None,
    current_days: int | None = None,
    reference_days: int | None = None,
    days_in_period: int | None = None,
) -> Comparison:
    """Cell-by-cell changes; a suppressed or withheld cell on either side gives no change."""
    by_id = {fd.facility.facility_id: fd for fd in reference_facilities}
    changes = []
    ordered = sorted(
        current_facilities,
        key=lambda fd: (fd.is_suppressed, -(fd.entries if fd.entries is not None else fd.visitors or 0), fd.facility.facility_id),
    )
    for fd in ordered:
        ref = by_id.get(fd.facility.facility_id)
        changes.append(
            FacilityChange(
                facility=fd.facility,
                entries=_value_change(fd.entries, fd.is_suppressed, ref is not None, ref.entries if ref else None,
                                      bool(ref and ref.is_suppressed), status),
                visitors=_value_change(fd.visitors, fd.is_suppressed, ref is not None, ref.visitors if ref else None,
                                       bool(ref and ref.is_suppressed), status),
            )
        )
    ref_circulation = {share.segment: share for share in reference_circulation}
    circulation = []
    for share in current_circulation:
        ref_share = ref_circulation.get(share.segment)
        circulation.append(
            (
                share.segment,
                _value_change(share.share, share.is_suppressed, ref_share is not None,
                              ref_share.share if ref_share else None, bool(ref_share and ref_share.is_suppressed),
                              status, unit="points"),
            )
        )
    return Comparison(
        kind=kind,
        reference_ja=reference_labels[0],
        reference_en=reference_labels[1],
        status=status,
        facilities=changes,
        circulation=circulation,
        reference_href=reference_href,
        current_days=current_days,
        reference_days=reference_days,
        days_in_period=days_in_period,
    )


# ---------------------------------------------------------------- indicator


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
        rows = _rows(
            con,
            "select period_type, period_label, period_start, period_end, months_with_answers, segment, "
            "respondents, share, ci_low, ci_high, too_few_answers, baseline_share, target_share, "
            "progress_to_target, change_significant, change_vs_baseline_p_value "
            "from marts.info_satisfaction_indicator "
            "where period_type = ? and segment in ('domestic', 'international') "
            "and (cast(? as date) is null or period_start <= cast(? as date)) "
            "order by period_start desc",
            [period_type, as_of, as_of],
        )
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
    return Indicator(periods=periods, baseline_year=baseline_year, target_year=target_year,
                     min_respondents=min_respondents, labels=labels)


# ---------------------------------------------------------------- the page's data


@dataclass
class DayData:
    """Everything one map page shows: a service day, or a period when ``period`` is set."""

    service_date: date
    facilities: dict[str, Facility]
    facility_days: list[FacilityDay]
    flows: list[Flow]
    routes: list[Route]
    suppressed_routes: int
    circulation: list[SegmentShare]
    satisfaction: list[SegmentShare] | None
    heat: HeatSeries
    #: set on period pages (ISO week / month); service_date is then the period's first day
    period: Period | None = None
    #: days of the page's span that have data (facility_daily rows)
    days_with_data: int | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    indicator: Indicator | None = None
    #: what the facility circles are sized by: entries (daily) or visitors (periods,
    #: whose entries may be withheld while distinct visitors are published)
    size_by: str = "entries"
    #: deliveries behind the figures and the gaps they leave (flowlib.dashboards.feeds)
    feeds: PageFeeds | None = None
    #: facility -> [(facility to promote to its visitors, tier)] from flowlib.opportunities
    promote: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: flows and routes measured by Wi-Fi sensors at sights without gates (drawn dashed)
    sensor_flows: list[Flow] = field(default_factory=list)
    sensor_routes: list[Route] = field(default_factory=list)
    suppressed_sensor_routes: int = 0

    @property
    def span_days(self) -> int:
        return self.period.length if self.period else 1

    def titles(self) -> tuple[str, str]:
        return self.period.titles() if self.period else date_labels(self.service_date)

    def facility(self, facility_id: str) -> Facility:
        """The reference facility, or a placeholder named by its id when ref lacks it."""
        return self.facilities.get(facility_id) or Facility(facility_id, facility_id, facility_id, None, None)

    @property
    def drawable_flows(self) -> list[Flow]:
        """Unsuppressed card-tap flows between two located facilities, largest first, capped."""
        return self._drawable(self.flows)

    @property
    def drawable_sensor_flows(self) -> list[Flow]:
        """The same for the flows Wi-Fi sensors measured (suppressed cells are never drawn)."""
        return self._drawable(self.sensor_flows)

    def _drawable(self, flows: list[Flow]) -> list[Flow]:
        drawable = [
            flow
            for flow in flows
            if not flow.is_suppressed
            and flow.visitors
            and flow.from_id != flow.to_id
            and self.facility(flow.from_id).has_location
            and self.facility(flow.to_id).has_location
        ]
        drawable.sort(key=lambda flow: (-(flow.visitors or 0), flow.from_id, flow.to_id))
        return drawable[:MAX_FLOWS]

    @property
    def suppressed_flow_count(self) -> int:
        return sum(1 for flow in [*self.flows, *self.sensor_flows] if flow.is_suppressed)

    def next_destinations(self, facility_id: str) -> list[Flow]:
        """The most likely next stops after a facility (unsuppressed only)."""
        leaving = [
            flow
            for flow in self.flows
            if flow.from_id == facility_id and not flow.is_suppressed and flow.next_probability is not None
        ]
        leaving.sort(key=lambda flow: (-(flow.next_probability or 0.0), -(flow.visitors or 0), flow.to_id))
        return leaving[:TOP_NEXT_DESTINATIONS]


def service_dates_in_marts(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every service date any drawn mart has rows for, oldest first."""
    union = " union ".join(f"select distinct service_date from {table}" for table in DATE_SOURCES)
    return [row[0] for row in con.execute(f"select service_date from ({union}) order by 1").fetchall()]


def load_facilities(con: duckdb.DuckDBPyConnection) -> dict[str, Facility]:
    rows = _rows(con, "select facility_id, name_ja, name_en, lat, lon from ref.facilities order by facility_id")
    return {
        row["facility_id"]: Facility(
            facility_id=row["facility_id"],
            name_ja=row["name_ja"] or row["facility_id"],
            name_en=row["name_en"] or row["name_ja"] or row["facility_id"],
            lat=row["lat"],
            lon=row["lon"],
        )
        for row in rows
    }


def _facility(facilities: dict[str, Facility], facility_id: str) -> Facility:
    return facilities.get(facility_id) or Facility(facility_id, facility_id, facility_id, None, None)


def _segment_shares(rows: list[dict[str, Any]], count: str, part: str, share: str) -> list[SegmentShare]:
    by_segment = {row["segment"]: row for row in rows}
    return [
        SegmentShare(
            segment=segment,
            count=None if row["is_suppressed"] else row[count],
            part=None if row["is_suppressed"] else row[part],
            share=None if row["is_suppressed"] else row[share],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for segment in SHOWN_SEGMENTS
        if (row := by_segment.get(segment)) is not None
    ]


def load_satisfaction(con: duckdb.DuckDBPyConnection, service_date: date, k: int | None = None) -> list[SegmentShare]:
    """One day's answers per segment, as the mart protected them (flowlib.privacy rules in
    sql/marts/survey_satisfaction_daily.sql); ``k`` is kept for callers and not used."""
    rows = _rows(
        con,
        "select segment, respondents, satisfied, satisfied_share, is_suppressed "
        "from marts.survey_satisfaction_daily where service_date = ?",
        [service_date],
    )
    return _segment_shares(rows, "respondents", "satisfied", "satisfied_share")


def service_hours(service_day_start_hour: int) -> list[int]:
    """Clock hours in service-day order, e.g. 4, 5, ... 23, 0, ... 3."""
    return [(service_day_start_hour + offset) % 24 for offset in range(24)]


def _coarsen(cells: dict[str, dict[int, float]], resolution: int) -> tuple[dict[str, dict[int, float]], int]:
    """Merge cells into parent H3 cells until at most MAX_HEAT_CELLS remain."""
    while len(cells) > MAX_HEAT_CELLS and resolution > 0:
        resolution -= 1
        merged: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for cell, hours in cells.items():
            parent = h3.cell_to_parent(cell, resolution)
            for hour, connections in hours.items():
                merged[parent][hour] += connections
        cells = merged
    return cells, resolution


def _weight(value: float, maximum: float) -> float:
    return round(max(value / maximum, 0.001), 3) if maximum > 0 else 0.0


def load_heat(
    con: duckdb.DuckDBPyConnection,
    service_date: date,
    service_day_start_hour: int,
    last_date: date | None = None,
) -> HeatSeries:
    """Unsuppressed Wi-Fi connections per H3 cell and hour, normalised to 0-1 weights.

    With ``last_date`` the days ``service_date``..``last_date`` are summed per cell and
    clock hour (connections add up; only published cells enter the sum).
    """
    rows = _rows(
        con,
        "select h3_cell, hour_of_day, avg(lat) as lat, avg(lon) as lon, sum(connections) as connections "
        "from marts.wifi_h3_hourly "
        "where service_date between ? and ? and not is_suppressed and connections > 0 "
        "group by h3_cell, hour_of_day",
        [service_date, last_date or service_date],
    )
    hours_order = service_hours(service_day_start_hour)
    series = HeatSeries(hour_labels=[f"{hour:02d}:00" for hour in hours_order])
    if not rows:
        series.by_hour = [[] for _ in hours_order]
        return series

    cells: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    centres: dict[str, tuple[float, float]] = {}
    for row in rows:
        cells[row["h3_cell"]][row["hour_of_day"]] += float(row["connections"])
        centres[row["h3_cell"]] = (row["lat"], row["lon"])
    resolution = h3.get_resolution(next(iter(cells)))
    coarse, series.h3_resolution = _coarsen(cells, resolution)
    if series.h3_resolution != resolution:
        log.info("heat map: %d cells merged to %d at H3 resolution %d", len(cells), len(coarse), series.h3_resolution)
        centres = {cell: h3.cell_to_latlng(cell) for cell in coarse}

    def point(cell: str, weight: float) -> list[float]:
        lat, lon = centres[cell]
        return [round(lat, 5), round(lon, 5), weight]

    hourly_max = max(value for hours in coarse.values() for value in hours.values())
    series.by_hour = [
        [point(cell, _weight(hours[hour], hourly_max)) for cell, hours in sorted(coarse.items()) if hours.get(hour)]
        for hour in hours_order
    ]
    day_totals = {cell: sum(hours.values()) for cell, hours in coarse.items()}
    day_max = max(day_totals.values())
    series.whole_day = [point(cell, _weight(total, day_max)) for cell, total in sorted(day_totals.items())]
    return series


# ---------------------------------------------------------------- daily loaders


def load_facility_days(
    con: duckdb.DuckDBPyConnection, service_date: date, facilities: dict[str, Facility]
) -> list[FacilityDay]:
    table = "marts.facility_daily"
    return [
        FacilityDay(
            facility=_facility(facilities, row["facility_id"]),
            entries=None if row["is_suppressed"] else row["entries"],
            visitors=None if row["is_suppressed"] else row["visitors"],
            domestic_visitors=None if row["is_suppressed"] else row["domestic_visitors"],
            international_visitors=None if row["is_suppressed"] else row["international_visitors"],
            unknown_visitors=None if row["is_suppressed"] else row["unknown_visitors"],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for row in _rows(
            con,
            "select facility_id, entries, visitors, domestic_visitors, international_visitors, "
            f"unknown_visitors, is_suppressed from {table} where service_date = ?{_kind_filter(con, table)} "
            "order by facility_id",
            [service_date],
        )
    ]


def load_circulation(con: duckdb.DuckDBPyConnection, service_date: date) -> list[SegmentShare]:
    table = "marts.circulation_daily"
    return _segment_shares(
        _rows(
            con,
            "select segment, visitors, multi_facility_visitors, circulation_rate, is_suppressed "
            f"from {table} where service_date = ?{_kind_filter(con, table)}",
            [service_date],
        ),
        "visitors",
        "multi_facility_visitors",
        "circulation_rate",
    )


def days_with_data(con: duckdb.DuckDBPyConnection, first: date, last: date) -> int:
    """Service days in first..last with card-tap facility rows (published or suppressed), from
    facility_daily and the day rows of facility_visits_by_period (the same days, normally)."""
    daily = "marts.facility_daily"
    sources = [f"select service_date from {daily} where service_date between ? and ?{_kind_filter(con, daily)}"]
    params: list[Any] = [first, last]
    if table_exists(con, "marts.facility_visits_by_period"):
        sources.append(
            "select period_start from marts.facility_visits_by_period where period_grain = 'day' "
            "and period_start between ? and ? and source_kind = 'entry_log'"
        )
        params += [first, last]
    found = con.execute(f"select count(*) from ({' union '.join(sources)})", params).fetchone()
    return int(found[0]) if found else 0


def _flow(row: dict[str, Any], source_kind: str = PAGE_SOURCE_KIND) -> Flow:
    suppressed = bool(row["is_suppressed"])
    return Flow(
        from_id=row["from_facility_id"],
        to_id=row["to_facility_id"],
        transitions=None if suppressed else row["transitions"],
        visitors=None if suppressed else row["visitors"],
        next_probability=None if suppressed else row["next_probability"],
        median_minutes=None if suppressed else row["transfer_minutes_median"],
        is_suppressed=suppressed,
        source_kind=source_kind,
    )


def _routes(route_rows: list[dict[str, Any]], source_kind: str = PAGE_SOURCE_KIND) -> list[Route]:
    return [
        Route(rank=row["route_rank"], facility_ids=tuple(part.strip() for part in row["route"].split(">")),
              visitors=row["visitors"], source_kind=source_kind)
        for row in route_rows
        if not row["is_suppressed"] and row["route_rank"] is not None and row["visitors"] is not None
    ][:TOP_ROUTES]


def load_day(
    con: duckdb.DuckDBPyConnection,
    service_date: date,
    facilities: dict[str, Facility],
    service_day_start_hour: int,
    k: int | None = None,
) -> DayData:
    """Everything one daily page shows, aggregated (comparison and indicator: see below)."""
    transitions, routes = "marts.transitions_daily", "marts.routes_daily"
    flows = [
        _flow(row)
        for row in _rows(
            con,
            "select from_facility_id, to_facility_id, transitions, visitors, next_probability, "
            f"transfer_minutes_median, is_suppressed from {transitions} where service_date = ?"
            f"{_kind_filter(con, transitions)}",
            [service_date],
        )
    ]
    route_rows = _rows(
        con,
        f"select route_rank, route, visitors, is_suppressed from {routes} where service_date = ?"
        f"{_kind_filter(con, routes)} order by is_suppressed, route_rank nulls last, route",
        [service_date],
    )
    facility_days = load_facility_days(con, service_date, facilities)
    sensor_flows, sensor_route_rows = _sensor_day(con, service_date)
    return DayData(
        service_date=service_date,
        facilities=facilities,
        facility_days=facility_days,
        flows=flows,
        routes=_routes(route_rows),
        suppressed_routes=sum(1 for row in route_rows if row["is_suppressed"]),
        circulation=load_circulation(con, service_date),
        satisfaction=load_satisfaction(con, service_date, k),
        heat=load_heat(con, service_date, service_day_start_hour),
        days_with_data=1 if facility_days else 0,
        sensor_flows=sensor_flows,
        sensor_routes=_routes(sensor_route_rows, SENSOR_SOURCE_KIND),
        suppressed_sensor_routes=sum(1 for row in sensor_route_rows if row["is_suppressed"]),
    )


def _sensor_day(con: duckdb.DuckDBPyConnection, service_date: date) -> tuple[list[Flow], list[dict[str, Any]]]:
    """A day's Wi-Fi sensor flows and route rows; none from a warehouse without source kinds."""
    transitions, routes = "marts.transitions_daily", "marts.routes_daily"
    if "source_kind" not in table_columns(con, transitions):
        return [], []
    flows = [
        _flow(row, SENSOR_SOURCE_KIND)
        for row in _rows(
            con,
            "select from_facility_id, to_facility_id, transitions, visitors, next_probability, "
            f"transfer_minutes_median, is_suppressed from {transitions} where service_date = ? and source_kind = ?",
            [service_date, SENSOR_SOURCE_KIND],
        )
    ]
    route_rows = []
    if "source_kind" in table_columns(con, routes):
        route_rows = _rows(
            con,
            f"select route_rank, route, visitors, is_suppressed from {routes} where service_date = ? and source_kind = ? "
            "order by is_suppressed, route_rank nulls last, route",
            [service_date, SENSOR_SOURCE_KIND],
        )
    return flows, route_rows


def day_comparison(con: duckdb.DuckDBPyConnection, day: DayData, reference_href: str | None = None) -> Comparison:
    """The daily page against the same weekday one week earlier."""
    earlier = day.service_date - timedelta(days=7)
    reference_facilities = load_facility_days(con, earlier, day.facilities)
    reference_circulation = load_circulation(con, earlier)
    has_reference = bool(reference_facilities or reference_circulation)
    return compare(
        "previous_week",
        date_labels(earlier),
        day.facility_days,
        day.circulation,
        reference_facilities,
        reference_circulation,
        "ok" if has_reference else "no_data",
        reference_href=reference_href if has_reference else None,
    )


# ---------------------------------------------------------------- period loaders


def load_period_facilities(
    con: duckdb.DuckDBPyConnection, period: Period, facilities: dict[str, Facility]
) -> list[FacilityDay]:
    """Per facility: entries and distinct visitors of the period, with the residence split."""
    rows = _rows(
        con,
        "select facility_id, segment_kind, segment, entries, visitors, is_suppressed "
        f"from marts.facility_visits_by_period where {PERIOD_CUT} "
        "and hour_of_day is null and segment_kind in ('all', 'residence') order by facility_id",
        [period.grain, period.start],
    )
    totals = {row["facility_id"]: row for row in rows if row["segment_kind"] == "all"}
    split: dict[str, dict[str, int | None]] = defaultdict(dict)
    for row in rows:
        if row["segment_kind"] == "residence":
            split[row["facility_id"]][row["segment"]] = None if row["is_suppressed"] else row["visitors"]
    result = []
    for facility_id, row in totals.items():
        suppressed = bool(row["is_suppressed"])
        parts = split.get(facility_id, {})

        def part(segment: str, parts: dict[str, int | None] = parts) -> int | None:
            # a segment without a row had no visitors; a hidden one stays unknown (None)
            if suppressed:
                return None
            return parts[segment] if segment in parts else 0

        result.append(
            FacilityDay(
                facility=_facility(facilities, facility_id),
                entries=None if suppressed else row["entries"],
                visitors=None if suppressed else row["visitors"],
                domestic_visitors=part("domestic"),
                international_visitors=part("international"),
                unknown_visitors=part("unknown"),
                is_suppressed=suppressed,
            )
        )
    return result


def load_period_circulation(con: duckdb.DuckDBPyConnection, period: Period) -> list[SegmentShare]:
    rows = _rows(
        con,
        "select segment, visitors, multi_facility_visitors, circulation_rate, is_suppressed "
        f"from marts.circulation_by_period where {PERIOD_CUT} "
        "and facility_role = 'all' and segment_kind in ('all', 'residence')",
        [period.grain, period.start],
    )
    return _segment_shares(rows, "visitors", "multi_facility_visitors", "circulation_rate")


def load_period(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    facilities: dict[str, Facility],
    service_day_start_hour: int,
) -> DayData:
    """Everything one ISO-week or month page shows, from the *_by_period marts."""
    flows = [
        _flow(row)
        for row in _rows(
            con,
            "select from_facility_id, to_facility_id, transitions, visitors, next_probability, "
            f"transfer_minutes_median, is_suppressed from marts.transitions_by_period where {PERIOD_CUT} "
            "and segment_kind = 'all'",
            [period.grain, period.start],
        )
    ]
    route_rows = _rows(
        con,
        f"select route_rank, route, visitors, is_suppressed from marts.routes_by_period where {PERIOD_CUT} "
        "and segment_kind = 'all' and route is not null order by is_suppressed, route_rank nulls last, route",
        [period.grain, period.start],
    )
    sensor_cut = PERIOD_CUT.replace(f"source_kind = '{PAGE_SOURCE_KIND}'", f"source_kind = '{SENSOR_SOURCE_KIND}'")
    sensor_flows = [
        _flow(row, SENSOR_SOURCE_KIND)
        for row in _rows(
            con,
            "select from_facility_id, to_facility_id, transitions, visitors, next_probability, "
            f"transfer_minutes_median, is_suppressed from marts.transitions_by_period where {sensor_cut} "
            "and segment_kind = 'all'",
            [period.grain, period.start],
        )
    ]
    sensor_route_rows = _rows(
        con,
        f"select route_rank, route, visitors, is_suppressed from marts.routes_by_period where {sensor_cut} "
        "and segment_kind = 'all' and route is not null order by is_suppressed, route_rank nulls last, route",
        [period.grain, period.start],
    )
    return DayData(
        service_date=period.start,
        facilities=facilities,
        facility_days=load_period_facilities(con, period, facilities),
        flows=flows,
        routes=_routes(route_rows),
        suppressed_routes=sum(1 for row in route_rows if row["is_suppressed"]),
        circulation=load_period_circulation(con, period),
        satisfaction=None,  # daily answers are not summed: the indicator panel covers periods
        heat=load_heat(con, period.start, service_day_start_hour, last_date=period.end),
        period=period,
        days_with_data=days_with_data(con, period.start, period.end),
        size_by="visitors",
        sensor_flows=sensor_flows,
        sensor_routes=_routes(sensor_route_rows, SENSOR_SOURCE_KIND),
        suppressed_sensor_routes=sum(1 for row in sensor_route_rows if row["is_suppressed"]),
    )


def period_comparison(
    con: duckdb.DuckDBPyConnection,
    data: DayData,
    kind: str,
    reference: Period | None,
    reference_href: str | None = None,
) -> Comparison:
    """A period page against another period of the same grain (previous / a year earlier).

    Counts of periods that are not fully covered by data are not compared (a week with one
    day of data would show as a 600 % rise).
    """
    assert data.period is not None
    if reference is None:
        return compare(kind, ("—", "—"), data.facility_days, data.circulation, [], [], "no_data")
    reference_days = days_with_data(con, reference.start, reference.end)
    reference_facilities = load_period_facilities(con, reference, data.facilities)
    reference_circulation = load_period_circulation(con, reference)
    if not (reference_facilities or reference_circulation):
        status = "no_data"
    elif reference_days < reference.length or (data.days_with_data or 0) < data.period.length:
        status = "not_comparable"
    else:
        status = "ok"
    return compare(
        kind,
        reference.titles(),
        data.facility_days,
        data.circulation,
        reference_facilities,
        reference_circulation,
        status,
        reference_href=reference_href if status != "no_data" else None,
        current_days=data.days_with_data,
        reference_days=reference_days,
        days_in_period=reference.length,
    )


# ---------------------------------------------------------------- index


@dataclass(frozen=True)
class SourceLoad:
    """One source's part of the latest nightly load run."""

    source: str
    service_dates: tuple[date, ...]
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    outcomes: dict[str, int]

    @property
    def missing(self) -> bool:
        return self.files == 0

    @property
    def needs_attention(self) -> bool:
        bad_outcome = any(word in outcome.lower() for outcome in self.outcomes for word in ("fail", "error", "reject"))
        return self.missing or self.rows_quarantined > 0 or bad_outcome


def load_last_night(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, list[SourceLoad]]:
    """What the latest run loaded per source; sources seen before but absent are listed as missing."""
    if not table_exists(con, "ops.load_log"):
        return None, []
    latest = con.execute("select max(loaded_at) from ops.load_log").fetchone()
    latest_at = latest[0] if latest else None
    if latest_at is None:
        return None, []
    rows = _rows(
        con,
        "select source, service_date, outcome, count(*) as files, "
        "coalesce(sum(rows_read), 0) as rows_read, coalesce(sum(rows_loaded), 0) as rows_loaded, "
        "coalesce(sum(rows_quarantined), 0) as rows_quarantined "
        "from ops.load_log where loaded_at > ? group by source, service_date, outcome",
        [latest_at - LAST_RUN_WINDOW],
    )
    known_sources = [row[0] for row in con.execute("select distinct source from ops.load_log order by 1").fetchall()]
    loads = []
    for source in known_sources:
        mine = [row for row in rows if row["source"] == source]
        outcomes: dict[str, int] = defaultdict(int)
        for row in mine:
            outcomes[str(row["outcome"])] += row["files"]
        loads.append(
            SourceLoad(
                source=source,
                service_dates=tuple(sorted({row["service_date"] for row in mine if row["service_date"] is not None})),
                files=sum(row["files"] for row in mine),
                rows_read=sum(row["rows_read"] for row in mine),
                rows_loaded=sum(row["rows_loaded"] for row in mine),
                rows_quarantined=sum(row["rows_quarantined"] for row in mine),
                outcomes=dict(sorted(outcomes.items())),
            )
        )
    return latest_at, loads


def latest_satisfaction(con: duckdb.DuckDBPyConnection, k: int | None = None) -> tuple[date | None, list[SegmentShare]]:
    """The KPI headline: the latest service day that has survey answers."""
    latest = con.execute("select max(service_date) from marts.survey_satisfaction_daily").fetchone()
    if not latest or latest[0] is None:
        return None, []
    return latest[0], load_satisfaction(con, latest[0], k)
