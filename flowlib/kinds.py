"""Source kinds: the canonical shape every feed of one kind is mapped into.

A kind fixes the canonical table, its columns and types, which column carries the
event time (and so the service day), which columns are personal ids and what they become
after pseudonymisation, and which column must match reference data. Sources (vendors,
forms) differ only in how their files map onto this shape, which is declared in YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

ColumnType = Literal["varchar", "integer", "double", "timestamp", "list"]


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    #: canonical input columns a source declaration may fill, with their types
    columns: MappingProxyType
    #: input column (a personal id) -> warehouse column holding its keyed hash
    personal_ids: MappingProxyType
    required: frozenset[str]
    event_time: str
    #: column checked against reference ids, and the reference it must exist in
    reference_column: str | None = None
    reference: Literal["facilities", "access_points"] | None = None
    #: rows announce future events (a timetable): event times after the delivery are expected
    scheduled: bool = False

    @property
    def warehouse_columns(self) -> list[str]:
        """Columns of the canonical table, in order, without the provenance columns."""
        return [self.personal_ids.get(name, name) for name in self.columns]


def _kind(
    name: str,
    table: str,
    columns: dict[str, ColumnType],
    personal_ids: dict[str, str],
    required: set[str],
    event_time: str,
    reference_column: str | None = None,
    reference: Literal["facilities", "access_points"] | None = None,
    scheduled: bool = False,
) -> Kind:
    return Kind(
        name,
        table,
        MappingProxyType(columns),
        MappingProxyType(personal_ids),
        frozenset(required),
        event_time,
        reference_column,
        reference,
        scheduled,
    )


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        _kind(
            "entry_log",
            "raw.entry_log",
            {
                "facility_id": "varchar",
                "entered_at": "timestamp",
                "card_id": "varchar",
                "ticket_type": "varchar",
                "amount_jpy": "integer",
                "issuer_country": "varchar",
            },
            {"card_id": "card_key"},
            {"facility_id", "entered_at", "card_id"},
            "entered_at",
            "facility_id",
            "facilities",
        ),
        _kind(
            "wifi_ap_count",
            "raw.wifi_ap_count",
            {
                "ap_id": "varchar",
                "bin_start": "timestamp",
                "bin_minutes": "integer",
                "connections": "integer",
                "unique_devices": "integer",
            },
            {},
            {"ap_id", "bin_start", "bin_minutes", "connections"},
            "bin_start",
            "ap_id",
            "access_points",
        ),
        _kind(
            "wifi_sensor",
            "raw.wifi_sensor",
            {"facility_id": "varchar", "detected_at": "timestamp", "device_id": "varchar"},
            {"device_id": "device_key"},
            {"facility_id", "detected_at", "device_id"},
            "detected_at",
            "facility_id",
            "facilities",
        ),
        _kind(
            # 入館者数: a facility's own count of the day's admissions, every payment type
            # (cash, cards, passes), as facilities report it; no personal ids
            "admission_count",
            "raw.admission_count",
            {"facility_id": "varchar", "counted_on": "timestamp", "admissions": "integer"},
            {},
            {"facility_id", "counted_on", "admissions"},
            "counted_on",
            "facility_id",
            "facilities",
        ),
        _kind(
            "survey",
            "raw.survey_response",
            {
                "response_id": "varchar",
                "answered_at": "timestamp",
                "form_language": "varchar",
                "residence_country": "varchar",
                "residence_prefecture": "varchar",
                "info_satisfaction": "integer",
                "overall_satisfaction": "integer",
                "recommend_score": "integer",
                "info_sources": "list",
                "facilities_visited": "list",
                "weight": "double",
                "free_text": "varchar",
                "answer_place": "varchar",
                "answer_municipality": "varchar",
            },
            {"response_id": "response_key"},
            {"response_id", "answered_at"},
            "answered_at",
        ),
        # A port's cruise-ship timetable (客船入港予定), one row per call, future calls included:
        # the forecast's event calendar. The service day is the day of arrival.
        _kind(
            "cruise_call",
            "raw.cruise_call",
            {
                "arrives_at": "timestamp",
                "departs_at": "timestamp",
                "ship_name": "varchar",
                "passenger_capacity": "integer",
                "berth": "varchar",
            },
            {},
            {"arrives_at", "departs_at", "ship_name", "passenger_capacity"},
            "arrives_at",
            scheduled=True,
        ),
    )
}

#: GX suite per kind (one suite per canonical table)
SUITE_BY_KIND = {
    "entry_log": "entry_log",
    "wifi_ap_count": "wifi_ap_count",
    "wifi_sensor": "wifi_sensor",
    "survey": "survey_response",
    "cruise_call": "cruise_call",
    "admission_count": "admission_count",
}

#: The columns that identify one event of a kind (canonical input columns). Two rows of one
#: delivery with the same identity but other values differ in what they claim happened: they
#: follow the declaration's ``conflicts`` rule, never both loaded (nor summed downstream).
#: A kind missing here identifies a row by all its columns (only exact repeats are caught).
IDENTITY_BY_KIND = {
    "entry_log": ("facility_id", "entered_at", "card_id"),
    "wifi_ap_count": ("ap_id", "bin_start", "bin_minutes"),
    "wifi_sensor": ("facility_id", "detected_at", "device_id"),
    "survey": ("response_id",),
    "cruise_call": ("ship_name", "arrives_at"),
    "admission_count": ("facility_id", "counted_on"),
}
