"""What a map page shows, already aggregated for drawing: one service day or one period.

Everything is aggregated (per facility, per flow, per H3 cell and hour), so a page draws at
most a few thousand things however many raw rows stood behind them. Suppressed cells
(``is_suppressed``) are kept as "suppressed" so the page can say so; their counts are never
used, and never enter a comparison. A daily page and a period page load into the same
:class:`DayData` (:mod:`flowlib.dashboards.loaders`), so one page builder draws both. A period
cell whose additive counts were withheld because one of its days is suppressed keeps its
distinct visitors; its entries / transitions are ``None`` ("withheld").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from flowlib.dashboards.periods import date_labels

if TYPE_CHECKING:
    from flowlib.calendar import Period
    from flowlib.dashboards.comparison import Comparison
    from flowlib.dashboards.feeds import PageFeeds
    from flowlib.dashboards.indicator_panel import Indicator

#: Flows drawn at most (the largest by visitors); more would be unreadable anyway.
MAX_FLOWS = 200
#: Routes listed in the side panel.
TOP_ROUTES = 15
#: Next destinations listed in a facility popup.
TOP_NEXT_DESTINATIONS = 3
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
SEGMENT_LABELS: dict[str, tuple[str, str]] = {
    "all": ("全体", "All"),
    "domestic": ("国内", "Domestic"),
    "international": ("海外", "International"),
    "unknown": ("不明", "Unknown"),
}
SHOWN_SEGMENTS = ("all", "domestic", "international")


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
