"""The demo's event calendar: the cruise-ship timetable the port would publish (客船入港予定).

Why a module of its own: the demo generator (``flowlib.demo``) simulates the passengers a
call lands, and the crowding forecast reads the timetable as an exogenous regressor, so
both must come from one list. ``CRUISE_CALLS`` holds every call of the demo season —
calls in the history behind the demo fortnight (so the forecast can learn what a call
does), the fortnight's own call on 2026-11-11, and calls after the demo's last day (what a
timetable is for). Ship names are invented; capacities and times are typical of the ships
that call at Matsugae and Dejima wharves.

Passengers ashore on a call day are ``ASHORE_SHARE`` of the day's passenger capacity
(crew stay aboard, some passengers do too); 2026-11-11's ship lands the 2,500 the demo has
always simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flowlib.atomic import write_bytes_atomic

#: Share of a ship's passenger capacity that goes ashore into the city on a call day.
ASHORE_SHARE = 0.92
#: Where the timetable lands, matching sources/cruise_nagasaki_port.yaml.
TIMETABLE_PATH = "cruise/nagasaki_port/kyakusen_nyuko_yotei.csv"
TIMETABLE_HEADER = "入港日,曜日,船名,総トン数,乗客定員,入港時刻,出港時刻,岸壁"
_WEEKDAYS_JA = "月火水木金土日"


@dataclass(frozen=True)
class CruiseCall:
    day: date
    ship: str
    gross_tonnage: int
    capacity: int
    arrives: str
    departs: str
    berth: str


def _call(
    iso: str, ship: str, tonnage: int, capacity: int, arrives: str = "08:00", departs: str = "17:00", berth: str = "松が枝"
) -> CruiseCall:
    return CruiseCall(date.fromisoformat(iso), ship, tonnage, capacity, arrives, departs, berth)


CRUISE_CALLS: tuple[CruiseCall, ...] = (
    # History behind the demo fortnight (the demo's history starts 2026-09-06).
    _call("2026-09-10", "オーシャン・ハーモニー", 75_000, 1_966),
    _call("2026-09-17", "パシフィック・オーロラ", 92_000, 2_218),
    _call("2026-09-24", "セレスティアル・ブリーズ", 116_000, 2_706, "07:30", "16:30"),
    _call("2026-10-01", "オーシャン・ハーモニー", 75_000, 1_966),
    _call("2026-10-07", "パシフィック・オーロラ", 92_000, 2_218),
    _call("2026-10-07", "瑞穂丸", 22_000, 449, "09:00", "17:30", "出島"),
    _call("2026-10-15", "ノーザン・スター", 138_000, 3_114),
    _call("2026-10-22", "セレスティアル・ブリーズ", 116_000, 2_706, "07:30", "16:30"),
    _call("2026-10-29", "アジュール・クイーン", 51_000, 872, "09:00", "18:00", "出島"),
    # The demo fortnight's call (2,500 passengers ashore).
    _call("2026-11-11", "セレスティアル・ブリーズ", 116_000, 2_717, "07:30", "17:00"),
    # After the demo's last day: what the forecast looks ahead to.
    _call("2026-11-17", "パシフィック・オーロラ", 92_000, 2_218),
    _call("2026-11-17", "アジュール・クイーン", 51_000, 872, "09:00", "18:00", "出島"),
    _call("2026-11-20", "ノーザン・スター", 138_000, 3_114),
    _call("2026-11-26", "オーシャン・ハーモニー", 75_000, 1_966),
    _call("2026-12-03", "セレスティアル・ブリーズ", 116_000, 2_706, "07:30", "16:30"),
    _call("2026-12-10", "パシフィック・オーロラ", 92_000, 2_218),
)


def cruise_days() -> frozenset[date]:
    """Days with at least one call."""
    return frozenset(call.day for call in CRUISE_CALLS)


def passengers_ashore(day: date) -> int:
    """Passengers landing on ``day``: ``ASHORE_SHARE`` of the capacity of the day's calls."""
    return round(ASHORE_SHARE * sum(call.capacity for call in CRUISE_CALLS if call.day == day))


def timetable_csv(calls: tuple[CruiseCall, ...] = CRUISE_CALLS) -> bytes:
    """The port's CP932 CSV with CRLF line ends, calls in date order."""
    lines = [TIMETABLE_HEADER] + [
        f"{c.day:%Y/%m/%d},{_WEEKDAYS_JA[c.day.weekday()]},{c.ship},{c.gross_tonnage},{c.capacity},"
        f"{c.arrives},{c.departs},{c.berth}"
        for c in sorted(calls, key=lambda c: (c.day, c.arrives, c.ship))
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def write_cruise_timetable(landing_dir: Path) -> Path:
    """Write the whole season's timetable (the port republishes it whole), atomically."""
    path = landing_dir / TIMETABLE_PATH
    write_bytes_atomic(path, timetable_csv())
    return path
