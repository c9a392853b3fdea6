"""A page's figures against a comparison day or period, cell by cell.

A daily page is compared with the same weekday one week earlier; a period page with the
previous period and with the same period a year earlier. A suppressed or withheld cell on
either side gives no change, and periods not fully covered by data are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import duckdb

from flowlib.calendar import Period
from flowlib.dashboards.loaders import (
    days_with_data,
    load_circulation,
    load_facility_days,
    load_period_circulation,
    load_period_facilities,
)
from flowlib.dashboards.page_data import DayData, Facility, FacilityDay, SegmentShare
from flowlib.dashboards.periods import date_labels


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

        def change(count: str, fd: FacilityDay = fd, ref: FacilityDay | None = ref) -> Change:
            reference = getattr(ref, count) if ref else None
            return _value_change(
                getattr(fd, count), fd.is_suppressed, ref is not None, reference, bool(ref and ref.is_suppressed), status
            )

        changes.append(FacilityChange(facility=fd.facility, entries=change("entries"), visitors=change("visitors")))
    ref_circulation = {share.segment: share for share in reference_circulation}
    circulation = []
    for share in current_circulation:
        ref_share = ref_circulation.get(share.segment)
        circulation.append(
            (
                share.segment,
                _value_change(
                    share.share,
                    share.is_suppressed,
                    ref_share is not None,
                    ref_share.share if ref_share else None,
                    bool(ref_share and ref_share.is_suppressed),
                    status,
                    unit="points",
                ),
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
