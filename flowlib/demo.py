"""Seeded demo data: two November weeks of Nagasaki visitors, written in the raw landing formats.

Why: the pipeline needs realistic input that anyone can regenerate byte for byte, and tests
need the right answer for it. ``generate`` simulates visitors, writes the exact producer
formats of ``docs/data-contracts.md`` and returns a ``GroundTruth`` computed from the rows it
wrote (bad rows excluded), with the same trip rules the pipeline uses.

Model, in short:

* One simulated visitor is one payment card (16-digit number). 15 % of ordinary visitors stay
  two days and tap the same card on the next service day (at sights they have not seen yet).
* Only gated, paid facilities log entries (``GATES``); POS A (CP932) serves the big historic
  sights, POS B (UTF-8 BOM) the others. Free sights without a gate (Megane Bridge, Peace Park,
  Chinatown, Dutch Slope, the waterfront, Suwa Shrine, Shikairo) never appear in entry logs:
  visitors walk to them as detours, so they show up only in Wi-Fi counts and in the survey's
  visited facilities. Hashima is visited only on a Gunkanjima tour, which is paid at Tokiwa
  Pier; cruise passengers start and end at Matsugae terminal, which has no gate either.
* Mt. Inasa is gated by the ropeway: one-way fares are tapped at Fuchi Shrine station on the
  way up and at the summit station next to the observatory on the way down, so the
  observatory tap is the end of its visit and the only one allowed after 21:00 (night view,
  last descent 22:00). Every other tap lies between 08:00 and 21:00.
* Each visitor taps 1-5 gated facilities in walking order; the next one is drawn with weight
  attraction x exp(-distance / 0.8 km), neighbours in the same area preferred. Legs up to 2 km
  of road are walked (haversine x 1.3 at 4.5 km/h), longer ones take tram or bus. Two taps
  are never more than ``MAX_TAP_GAP_MINUTES`` apart, so every visitor-day is exactly one trip.
* 3 % of visitors tap the same gate twice within 10 minutes, which the pipeline must collapse.
* A cruise call (``CRUISE_DAYS``) lands extra international visitors at Matsugae terminal who
  only visit harbour-side sights between 09:00 and 16:00 and are back on board by 16:30.
* Wi-Fi: every AP and 10-minute bin of the service day gets Poisson(2.5 x simulated visitors
  near the AP + a small baseline) connections. The 2.5 stands for people who pay cash. A
  visitor is near a facility's AP while there and near a street AP while walking past it.
* Survey: a sample of the day's visitors answers, international visitors 2.5 times as often
  as domestic ones (a response bias the KPI's post-stratification must correct). In-trip information satisfaction is top-two
  for about 56.5 % of domestic and 72 % of international respondents, and more often for
  users of free Wi-Fi or a tourist information centre.
* ``dirty`` adds per day one entry row with a negative amount, one with an impossible clock
  (hour 25) and one survey answer of 7, all with fresh ids so that no count includes them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from flowlib import demo_admissions, demo_measures, demo_sensors
from flowlib.atomic import write_bytes_atomic
from flowlib.config import get_settings
from flowlib.demo_calendar import cruise_days, passengers_ashore, write_cruise_timetable
from flowlib.geo import load_access_points, load_facilities

DEMO_START = date(2026, 11, 1)
DEMO_END = date(2026, 11, 14)
#: Days a cruise ship calls: the port timetable of flowlib.demo_calendar (11-11 in the fortnight).
CRUISE_DAYS = cruise_days()
DEFAULT_SEED = 20261101


@dataclass(frozen=True)
class Gate:
    """A paid entrance: which POS logs it, adult fare, first and last tap (minute of day), stay.

    ``attraction`` was calibrated so that an ordinary weekday at scale 1.0 gives realistic
    cashless volumes (Glover Garden about 1,300 taps, the Atomic Bomb Museum next); remote
    sights need a larger value because distance decay discounts them as a next stop.
    ``international_pull`` multiplies it for international visitors.
    """

    pos: str
    adult_price: int
    opens: int
    last_tap: int
    dwell: tuple[int, int]
    attraction: float
    international_pull: float
    taps_on_exit: bool = False


def _hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


GATES: dict[str, Gate] = {
    "glover_garden": Gate("a", 620, _hm(8), _hm(17, 40), (60, 90), 4.9, 1.3),
    "oura_cathedral": Gate("a", 1000, _hm(8, 30), _hm(17, 30), (25, 40), 3.1, 1.2),
    "dejima": Gate("a", 520, _hm(8), _hm(20, 40), (45, 75), 1.6, 1.1),
    "atomic_bomb_museum": Gate("a", 200, _hm(8, 30), _hm(17), (50, 80), 8.6, 1.3),
    "confucius_shrine": Gate("a", 660, _hm(9, 30), _hm(17, 30), (20, 35), 0.17, 1.5),
    "sofukuji": Gate("a", 300, _hm(8), _hm(16, 30), (15, 30), 0.2, 1.0),
    "prefectural_art_museum": Gate("b", 420, _hm(10), _hm(19, 30), (40, 70), 1.3, 0.6),
    "history_culture_museum": Gate("b", 630, _hm(8, 30), _hm(18, 30), (45, 75), 2.4, 0.5),
    "twenty_six_martyrs": Gate("b", 500, _hm(9), _hm(16, 30), (20, 35), 0.15, 1.2),
    # Queue, ride up and the time at the summit come before the descent tap at the observatory.
    "ropeway_fuchi_shrine": Gate("b", 730, _hm(9), _hm(20, 50), (3, 8), 0.8, 1.0),
    "inasayama_observatory": Gate("b", 730, _hm(9, 10), _hm(21, 55), (30, 60), 0.0, 1.0, taps_on_exit=True),
    "penguin_aquarium": Gate("b", 520, _hm(9), _hm(16, 30), (60, 100), 9.8, 0.4),
    # A Gunkanjima tour: boarding tap, about three hours at sea and on Hashima.
    "tokiwa_terminal": Gate("b", 4500, _hm(8, 30), _hm(14), (170, 190), 3.2, 1.2),
}
ROPEWAY, OBSERVATORY = "ropeway_fuchi_shrine", "inasayama_observatory"
ROPEWAY_RIDE_MINUTES = 5
#: Share of ropeway riders who also ride down (the rest take the bus or a taxi).
RIDE_DOWN_SHARE = 0.85
#: A tour passenger is near the pier AP for 20 minutes after boarding and on Hashima from
#: 70 to 130 minutes after boarding; the rest of the tour is at sea.
TOUR_PIER, TOUR_ISLAND = "tokiwa_terminal", "hashima"
TOUR_PIER_PRESENCE_MINUTES = 20
TOUR_ISLAND_WINDOW = (70, 130)
#: Free sights walked to as detours: dwell range in minutes and relative pull.
FREE_SIGHTS: dict[str, tuple[tuple[int, int], float]] = {
    "megane_bridge": ((10, 25), 4.0),
    "shinchi_chinatown": ((20, 60), 3.0),
    "dutch_slope": ((10, 20), 1.5),
    "peace_park": ((15, 30), 3.0),
    "suwa_shrine": ((15, 30), 1.0),
    "dejima_wharf": ((20, 50), 1.2),
    "mizubenomori_park": ((15, 30), 0.8),
    "shikairo": ((40, 70), 0.6),
}
DETOUR_SHARE = 0.45
DETOUR_MAX_EXTRA_KM = 0.6
FINAL_SIGHT_SHARE = 0.35
FINAL_SIGHT_MAX_KM = 0.8
#: Sights further out of the way are less likely: weight pull x exp(-extra km / this).
SIGHT_DECAY_KM = 0.3

CRUISE_TERMINAL = "matsugae_cruise_terminal"
#: Visitors who start the day off a train or a highway bus at Nagasaki Station.
STATION = "nagasaki_station"
TRAIN_ARRIVAL_SHARE = 0.3
#: Where visitors arrive, not sights: never listed as visited in the survey.
TRANSPORT_HUBS = (STATION, CRUISE_TERMINAL)
CRUISE_DISEMBARK = (_hm(8, 45), _hm(10, 30))
CRUISE_LAST_TAP = _hm(16)
CRUISE_ALL_ABOARD = _hm(16, 30)
CRUISE_COUNTRIES = {"CN": 0.50, "TW": 0.12, "HK": 0.06, "US": 0.14, "AU": 0.08, "GB": 0.05, "DE": 0.05}

#: New visitors per ordinary weekday at scale 1.0, before Poisson noise.
DOMESTIC_VISITORS = 3400
INTERNATIONAL_VISITORS = 1130
DOMESTIC_DAY_FACTOR = {"weekday": 1.0, "saturday": 1.5, "sunday": 1.35, "holiday": 1.5}
INTERNATIONAL_DAY_FACTOR = {"weekday": 1.0, "saturday": 1.1, "sunday": 1.1, "holiday": 1.1}
MULTI_DAY_SHARE = 0.15
RETAP_SHARE = 0.03
NO_ISSUER_SHARE = 0.10
STOP_COUNT_P = (0.46, 0.28, 0.15, 0.075, 0.035)
CRUISE_STOP_COUNT_P = (0.30, 0.35, 0.25, 0.10, 0.0)
MAX_GATED_STOPS = 5
#: Below the pipeline's 240-minute trip gap so that one visitor-day is always one trip.
MAX_TAP_GAP_MINUTES = 230
DECAY_KM = 0.8
SAME_AREA_BONUS = 1.5
EVENING_ROPEWAY_BOOST = 4.0
WALK_LIMIT_KM = 2.0
ROAD_FACTOR = 1.3
WALK_KMH = 4.5
TRANSIT_KMH = 15.0
TRANSIT_WAIT_MINUTES = 10.0
TRANSIT_ACCESS_MINUTES = 5.0
LEG_NOISE_MINUTES = 8.0
STREET_AP_MAX_KM = 0.5
#: Hour weights of first taps, 08:00 .. 20:00.
START_HOUR_WEIGHTS = (6, 12, 15, 15, 12, 10, 8, 6, 4, 3, 3, 2, 1)

TICKET_TYPES = ("adult", "student", "child", "group", "senior")
POS_A_TICKET_LABELS = ("大人", "中高生", "小学生", "団体", "シニア")
POS_B_TICKET_LABELS = ("一般", "学生", "子供", "団体", "シニア")
TICKET_PRICE_RATIO = (1.0, 0.5, 0.3, 0.8, 0.8)
DOMESTIC_TICKET_P = (0.74, 0.07, 0.06, 0.05, 0.08)
INTERNATIONAL_TICKET_P = (0.92, 0.04, 0.03, 0.01, 0.0)
INTERNATIONAL_COUNTRIES = {
    "KR": 0.24,
    "TW": 0.20,
    "CN": 0.17,
    "HK": 0.07,
    "US": 0.10,
    "AU": 0.05,
    "TH": 0.04,
    "SG": 0.04,
    "FR": 0.03,
    "GB": 0.03,
    "DE": 0.02,
    "PH": 0.01,
}
PREFECTURES = {
    "福岡県": 0.22,
    "長崎県": 0.16,
    "東京都": 0.10,
    "大阪府": 0.07,
    "熊本県": 0.06,
    "佐賀県": 0.05,
    "神奈川県": 0.05,
    "兵庫県": 0.04,
    "愛知県": 0.04,
    "大分県": 0.03,
    "鹿児島県": 0.03,
    "埼玉県": 0.03,
    "千葉県": 0.03,
    "広島県": 0.03,
    "宮崎県": 0.02,
    "京都府": 0.02,
    "岡山県": 0.02,
}

WIFI_VENDOR = "Nagasaki City Free Wi-Fi (vendor A)"
WIFI_BIN_MINUTES = 10
NON_CASHLESS_MULTIPLIER = 2.5
WIFI_BASELINE_DAY, WIFI_BASELINE_NIGHT = 1.2, 0.3
REPEAT_CONNECTION_SHARE = 0.15

SURVEY_BASE = {"weekday": 80, "saturday": 125, "sunday": 125, "holiday": 125}
SURVEY_CRUISE_EXTRA = 30
SURVEY_RANGE = (60, 150)
INFO_SOURCES = ("official_site", "sns", "tourist_info_center", "free_wifi", "guidebook", "friends", "map_app", "hotel")
DOMESTIC_SOURCE_P = (0.35, 0.30, 0.15, 0.08, 0.20, 0.15, 0.45, 0.10)
INTERNATIONAL_SOURCE_P = (0.20, 0.35, 0.30, 0.35, 0.30, 0.10, 0.60, 0.20)
#: Users of free Wi-Fi or a tourist information centre are this much more often satisfied;
#: the base is lowered by the same amount times the users' share, keeping the segment's mean.
HELPED_TOP_TWO_BONUS = 0.10
DOMESTIC_TOP_TWO = 0.565
INTERNATIONAL_TOP_TWO = 0.72
NO_ANSWER_SHARE, NOT_APPLICABLE_SHARE = 0.03, 0.02
#: An international visitor is this many times as likely to answer the survey as a domestic one
#: (a planted response bias: respondents over-represent international visitors).
INTERNATIONAL_RESPONSE_PROPENSITY = 2.5
FREE_TEXT_SHARE = 0.55
#: (language, satisfied) -> (comment, facility it mentions or None); only comments about
#: places the respondent visited are picked.
COMMENTS: dict[tuple[str, bool], tuple[tuple[str, str | None], ...]] = {
    ("ja", True): (
        ("フリーWi-Fiがつながりやすく、地図アプリで迷わず回れました。", None),
        ("観光案内所の方が親切で、おすすめのルートを教えてもらえました。", None),
        ("グラバー園からの港の眺めが最高でした。", "glover_garden"),
        ("路面電車で回りやすかったです。", None),
        ("稲佐山の夜景がきれいでした。", "inasayama_observatory"),
        ("中華街でちゃんぽんを食べました。また来たいです。", "shinchi_chinatown"),
        ("軍艦島に上陸できて感動しました。", "hashima"),
    ),
    ("ja", False): (
        ("バス停の案内が分かりにくかった。", None),
        ("Wi-Fiが途切れることが多かった。", None),
        ("坂が多くて移動が大変でした。", None),
        ("施設の混雑状況が事前に分かると良い。", None),
        ("駐車場の情報が見つけにくかった。", None),
        ("ロープウェイ乗り場までの行き方が分かりにくかった。", "ropeway_fuchi_shrine"),
    ),
    ("en", True): (
        ("Free Wi-Fi worked well around Glover Garden.", "glover_garden"),
        ("The tourist information staff were very helpful.", None),
        ("Easy to get around by tram.", None),
        ("Beautiful night view from Mt. Inasa.", "inasayama_observatory"),
        ("The Atomic Bomb Museum was moving and well explained.", "atomic_bomb_museum"),
        ("Dejima was fascinating.", "dejima"),
    ),
    ("en", False): (
        ("Hard to find bus information in English.", None),
        ("Wi-Fi kept disconnecting near the port.", None),
        ("Signs to the ropeway were confusing.", "ropeway_fuchi_shrine"),
        ("Opening hours were hard to find online.", None),
        ("Too crowded at Glover Garden when the cruise ship was in.", "glover_garden"),
    ),
}

POS_A_HEADER = "利用日時,カードID,券種,金額,発行国"
POS_B_HEADER = "施設コード,入場日,入場時刻,カード番号,チケット種別,料金(円),カード発行国"
SURVEY_HEADER = (
    "回答ID",
    "回答日時",
    "回答言語",
    "居住国",
    "居住都道府県",
    "旅ナカでの情報取得満足度",
    "旅行全体の満足度",
    "おすすめ度",
    "利用した情報源",
    "訪問した施設",
    "自由記述",
)
SEGMENTS = ("domestic", "international", "unknown")


# ----------------------------------------------------------------------------- ground truth


@dataclass
class DayTruth:
    """What the pipeline must find for one service day. Hours are clock hours "00".."23"."""

    day_type: str
    cruise_call: bool
    entries_per_facility: dict[str, int]
    visitors_per_facility: dict[str, int]
    entries_per_facility_hour: dict[str, dict[str, int]]
    #: "from>to" -> {"transitions": n, "visitors": distinct cards}, re-entries collapsed.
    transitions: dict[str, dict[str, int]]
    #: Trips per number of stops; the demo never splits a visitor-day, so trips are visitors.
    visitors_per_stop_count: dict[str, int]
    #: Visitors with 2+ distinct stops: "all" and per issuer segment.
    multi_facility_visitors: dict[str, int]
    #: Every stop sequence "a>b>c" -> distinct visitors, most frequent first.
    routes: dict[str, int]
    wifi_connections_per_ap: dict[str, int]
    wifi_connections_per_area_hour: dict[str, dict[str, int]]
    #: Segment by residence -> respondents, answered (1-5) and satisfied (4-5) info satisfaction.
    survey: dict[str, dict[str, int]]
    #: {"source", "file" (relative to landing_dir), "line" (header = 1), "reason"}.
    expected_quarantines: list[dict[str, str | int]]
    #: 入館者数 per gated facility, every payment type (flowlib.demo_admissions): {"cashless",
    #: "total", "share", "reported"}; unreported totals are the truth the estimates must find.
    admission_totals: dict[str, dict[str, int | float | bool]] = field(default_factory=dict)
    #: measures planted with a known effect (flowlib.demo_measures), by measure name
    measures: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Wi-Fi sensor detections (flowlib.demo_sensors): distinct visitor devices per site
    wifi_sensor: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class GroundTruth:
    """The answers for a generated data set, keyed by service date (ISO)."""

    seed: int
    scale: float
    dirty: bool
    start: str
    end: str
    days: dict[str, DayTruth]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GroundTruth:
        raw = json.loads(text)
        raw["days"] = {day: DayTruth(**values) for day, values in raw["days"].items()}
        return cls(**raw)


# ----------------------------------------------------------------------------- network


@dataclass(frozen=True)
class _Network:
    """Facilities and APs as index arrays, with travel times precomputed for vectorised draws."""

    facility_ids: list[str]
    travel_minutes: np.ndarray
    decay: np.ndarray
    choosable: np.ndarray
    harbour_side: np.ndarray
    opens: np.ndarray
    last_tap: np.ndarray
    dwell_low: np.ndarray
    dwell_high: np.ndarray
    attraction: np.ndarray
    #: [from, to, sight] and [from, sight]: weights of free sights for a detour or a last walk.
    detour: np.ndarray
    final_sight: np.ndarray
    ap_ids: list[str]
    ap_area: list[str]
    ap_of_facility: np.ndarray
    street_ap: np.ndarray
    street_minutes: np.ndarray

    def index(self, facility_id: str) -> int:
        return self.facility_ids.index(facility_id)


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _build_network() -> _Network:
    """Everything per facility pair that the simulation needs, computed once from geo/."""
    facilities = load_facilities()
    access_points = load_access_points()
    ids = list(facilities["facility_id"])
    lat, lon = facilities["lat"].to_numpy(), facilities["lon"].to_numpy()
    km = _haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    road_km = km * ROAD_FACTOR
    walked = road_km <= WALK_LIMIT_KM
    travel = np.where(walked, road_km / WALK_KMH * 60, TRANSIT_WAIT_MINUTES + road_km / TRANSIT_KMH * 60)
    rope, summit = ids.index(ROPEWAY), ids.index(OBSERVATORY)
    travel[rope, summit] = ROPEWAY_RIDE_MINUTES
    area = facilities["area_id"].to_numpy()
    decay = np.exp(-km / DECAY_KM) * np.where(area[:, None] == area[None, :], SAME_AREA_BONUS, 1.0)

    dwell = {f: sight_dwell for f, (sight_dwell, _) in FREE_SIGHTS.items()}
    dwell |= {facility_id: gate.dwell for facility_id, gate in GATES.items()}
    attraction = np.array(
        [
            [GATES[f].attraction if f in GATES else 0.0 for f in ids],
            [GATES[f].attraction * GATES[f].international_pull if f in GATES else 0.0 for f in ids],
        ]
    )

    sight_pull = np.array([FREE_SIGHTS[f][1] if f in FREE_SIGHTS else 0.0 for f in ids])
    extra_km = km[:, None, :] + km[None, :, :] - km[:, :, None]  # [a, b, sight]: a -> sight -> b
    detour = np.where(extra_km <= DETOUR_MAX_EXTRA_KM, sight_pull * np.exp(-extra_km / SIGHT_DECAY_KM), 0.0)
    detour[rope, summit] = 0.0
    final_sight = np.where(km <= FINAL_SIGHT_MAX_KM, sight_pull * np.exp(-km / SIGHT_DECAY_KM), 0.0)

    ap_ids = list(access_points["ap_id"])
    street = access_points[access_points["facility_id"].isna()]
    street_index = np.array([ap_ids.index(ap) for ap in street["ap_id"]])
    mid_lat, mid_lon = (lat[:, None] + lat[None, :]) / 2, (lon[:, None] + lon[None, :]) / 2
    street_lat, street_lon = street["lat"].to_numpy(), street["lon"].to_numpy()
    street_km = _haversine_km(mid_lat[..., None], mid_lon[..., None], street_lat, street_lon)
    # Walkers pass the street AP nearest the middle of their leg; tram and bus riders the one
    # nearest where they set off, on their way to the stop.
    origin_km = _haversine_km(lat[:, None], lon[:, None], street_lat, street_lon)
    leg_km = np.where(walked[..., None], street_km, origin_km[:, None, :])
    street_ap = np.where(
        (leg_km.min(axis=2) <= STREET_AP_MAX_KM) & ~np.eye(len(ids), dtype=bool),
        street_index[leg_km.argmin(axis=2)],
        -1,
    )
    return _Network(
        facility_ids=ids,
        travel_minutes=travel,
        decay=decay,
        choosable=np.array([f in GATES and not GATES[f].taps_on_exit for f in ids]),
        harbour_side=facilities["harbour_side"].to_numpy(dtype=bool),
        opens=np.array([GATES[f].opens if f in GATES else 0 for f in ids], dtype=float),
        last_tap=np.array([GATES[f].last_tap if f in GATES else 0 for f in ids], dtype=float),
        dwell_low=np.array([dwell.get(f, (0, 0))[0] for f in ids], dtype=float),
        dwell_high=np.array([dwell.get(f, (0, 0))[1] for f in ids], dtype=float),
        attraction=attraction,
        detour=detour,
        final_sight=final_sight,
        ap_ids=ap_ids,
        ap_area=list(access_points["area_id"]),
        ap_of_facility=np.array([ap_ids.index(f"AP-{f}") for f in ids]),
        street_ap=street_ap,
        street_minutes=np.where(walked, np.inf, TRANSIT_ACCESS_MINUTES),
    )


# ----------------------------------------------------------------------------- visitors


@dataclass
class _Visitors:
    """One row per card active today; ``seen`` marks facilities visited on an earlier day."""

    card: np.ndarray
    international: np.ndarray
    issuer: np.ndarray
    residence: np.ndarray
    prefecture: np.ndarray
    ticket: np.ndarray
    cruise: np.ndarray
    seen: np.ndarray

    def __len__(self) -> int:
        return len(self.card)

    def take(self, rows: np.ndarray) -> _Visitors:
        return _Visitors(**{name: value[rows] for name, value in vars(self).items()})

    @staticmethod
    def empty(n_facilities: int) -> _Visitors:
        nothing = np.empty(0, dtype=object)
        return _Visitors(
            card=np.empty(0, dtype=np.int64),
            international=np.empty(0, dtype=bool),
            issuer=nothing,
            residence=nothing,
            prefecture=nothing,
            ticket=np.empty(0, dtype=int),
            cruise=np.empty(0, dtype=bool),
            seen=np.zeros((0, n_facilities), dtype=bool),
        )

    @staticmethod
    def concat(parts: Sequence[_Visitors]) -> _Visitors:
        names = vars(parts[0]).keys()
        return _Visitors(**{name: np.concatenate([getattr(part, name) for part in parts]) for name in names})


def _draw_card_numbers(rng: np.random.Generator, count: int, used: set[int]) -> np.ndarray:
    """16-digit card numbers never used before in this data set."""
    cards = np.empty(0, dtype=np.int64)
    while len(cards) < count:
        candidates = rng.integers(10**15, 10**16, size=count - len(cards), dtype=np.int64)
        fresh = [card for card in dict.fromkeys(candidates.tolist()) if card not in used]
        used.update(fresh)
        cards = np.concatenate([cards, np.array(fresh, dtype=np.int64)])
    return cards


def _draw_from(rng: np.random.Generator, weights: dict[str, float], count: int) -> np.ndarray:
    keys = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()))
    return keys[rng.choice(len(keys), size=count, p=p / p.sum())]


def _new_visitors(
    rng: np.random.Generator, domestic: int, international: int, cruise: int, n_facilities: int, used: set[int]
) -> _Visitors:
    count = domestic + international + cruise
    is_international = np.arange(count) >= domestic
    residence = np.concatenate(
        [
            np.full(domestic, "JP", dtype=object),
            _draw_from(rng, INTERNATIONAL_COUNTRIES, international),
            _draw_from(rng, CRUISE_COUNTRIES, cruise),
        ]
    )
    prefecture = np.where(is_international, "", _draw_from(rng, PREFECTURES, count)).astype(object)
    issuer = np.where(rng.random(count) < NO_ISSUER_SHARE, "", residence).astype(object)
    ticket = np.where(
        is_international,
        rng.choice(len(TICKET_TYPES), size=count, p=INTERNATIONAL_TICKET_P),
        rng.choice(len(TICKET_TYPES), size=count, p=DOMESTIC_TICKET_P),
    )
    return _Visitors(
        card=_draw_card_numbers(rng, count, used),
        international=is_international,
        issuer=issuer,
        residence=residence,
        prefecture=prefecture,
        ticket=ticket,
        cruise=np.arange(count) >= domestic + international,
        seen=np.zeros((count, n_facilities), dtype=bool),
    )


def _day_kind(day: date) -> str:
    if day in holidays.Japan(years=day.year):
        return "holiday"
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")


# ----------------------------------------------------------------------------- itineraries


class _StopLog:
    """Collects stops step by step; free sights and terminals have no tap (NaN)."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        visitor: np.ndarray,
        facility: np.ndarray | int,
        arrive: np.ndarray,
        depart: np.ndarray,
        tap: np.ndarray | None = None,
        present_until: np.ndarray | None = None,
    ) -> None:
        self._parts.append(
            {
                "visitor": visitor,
                "facility": np.broadcast_to(facility, visitor.shape),
                "arrive": arrive,
                "depart": depart,
                "present_until": depart if present_until is None else present_until,
                "tap": np.full(visitor.shape, np.nan) if tap is None else tap,
            }
        )

    def frame(self) -> pd.DataFrame:
        columns = self._parts[0].keys()
        frame = pd.DataFrame({c: np.concatenate([part[c] for part in self._parts]) for c in columns})
        return frame.sort_values(["visitor", "arrive"], kind="stable", ignore_index=True)


def _draw_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row with probability proportional to its weight, -1 for all-zero rows."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    target = rng.random(len(weights)) * total
    choice = (cumulative <= target[:, None]).sum(axis=1)
    return np.where(total > 0, choice, -1)


def _first_tap_minutes(rng: np.random.Generator, count: int) -> np.ndarray:
    weights = np.array(START_HOUR_WEIGHTS, dtype=float)
    hour = 8 + rng.choice(len(weights), size=count, p=weights / weights.sum())
    return hour * 60 + rng.uniform(0, 60, size=count)


def _uniform_dwell(rng: np.random.Generator, net: _Network, facility: np.ndarray) -> np.ndarray:
    return rng.uniform(net.dwell_low[facility], net.dwell_high[facility])


def _choose_next(
    rng: np.random.Generator,
    net: _Network,
    visitors: _Visitors,
    rows: np.ndarray,
    origin: np.ndarray,
    clock: np.ndarray,
    seen: np.ndarray,
    last_step: bool,
) -> np.ndarray:
    """Next gated facility per visitor row: attractive, near, not seen, open when they get there."""
    has_origin = origin >= 0
    travel = np.where(has_origin[:, None], net.travel_minutes[origin], 0.0)
    arrival = clock[:, None] + travel
    allowed = net.choosable[None, :] & ~seen & (arrival >= net.opens - 20) & (arrival <= net.last_tap)
    if last_step:  # the ride down would be a sixth tap
        allowed[:, net.index(ROPEWAY)] = False
    cruise = visitors.cruise[rows]
    terminal = net.index(CRUISE_TERMINAL)
    back_on_board = arrival + net.dwell_high + net.travel_minutes[:, terminal] <= CRUISE_ALL_ABOARD
    allowed &= ~cruise[:, None] | (net.harbour_side & back_on_board & (arrival <= CRUISE_LAST_TAP))
    weight = net.attraction[visitors.international[rows].astype(int)] * allowed
    weight *= np.where(has_origin[:, None], net.decay[origin], 1.0)
    rope = net.index(ROPEWAY)
    weight[:, rope] *= np.where(arrival[:, rope] >= _hm(16, 30), EVENING_ROPEWAY_BOOST, 1.0)
    return _draw_rows(rng, weight)


def _plan_stops(rng: np.random.Generator, net: _Network, visitors: _Visitors) -> pd.DataFrame:
    """Simulate everyone's day at once, one gated stop per step (numpy over visitors)."""
    count = len(visitors)
    cruise = visitors.cruise
    planned = 1 + np.where(
        cruise,
        rng.choice(MAX_GATED_STOPS, size=count, p=CRUISE_STOP_COUNT_P),
        rng.choice(MAX_GATED_STOPS, size=count, p=STOP_COUNT_P),
    )
    clock = np.where(cruise, rng.uniform(*CRUISE_DISEMBARK, size=count), _first_tap_minutes(rng, count))
    rides_down = rng.random(count) < RIDE_DOWN_SHARE
    terminal, station, rope, summit, pier, island = (
        net.index(f) for f in (CRUISE_TERMINAL, STATION, ROPEWAY, OBSERVATORY, TOUR_PIER, TOUR_ISLAND)
    )
    by_train = ~cruise & (rng.random(count) < TRAIN_ARRIVAL_SHARE)
    position = np.select([cruise, by_train], [terminal, station], -1)
    last_tap = np.full(count, np.nan)
    seen = visitors.seen.copy()
    alive = np.ones(count, dtype=bool)
    log = _StopLog()
    arriving = np.flatnonzero(cruise | by_train)
    log.add(arriving, position[arriving], clock[arriving] - 15, clock[arriving])

    for step in range(MAX_GATED_STOPS):
        active = alive & (step < planned)
        if not active.any():
            break
        choice = np.full(count, -1)
        forced = active & (position == rope) & rides_down
        choice[forced] = summit
        free = np.flatnonzero(active & ~forced)
        choice[free] = _choose_next(
            rng, net, visitors, free, position[free], clock[free], seen[free], step == MAX_GATED_STOPS - 1
        )
        alive &= ~active | (choice >= 0)
        rows = np.flatnonzero(active & (choice >= 0))
        target, origin, now = choice[rows], position[rows], clock[rows]
        has_origin = origin >= 0

        def leg(start: np.ndarray, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
            return start + net.travel_minutes[frm, to] + rng.uniform(0, LEG_NOISE_MINUTES, size=len(rows))

        direct = np.where(has_origin, leg(now, origin, target), now)
        sight = np.where(has_origin, _draw_rows(rng, net.detour[origin, target]), -1)
        wants_detour = (sight >= 0) & (rng.random(len(rows)) < DETOUR_SHARE)
        sight = np.where(wants_detour, sight, 0)
        sight_arrive = leg(now, origin, sight)
        sight_depart = sight_arrive + _uniform_dwell(rng, net, sight)
        via_sight = leg(sight_depart, sight, target)
        opening = net.opens[target] + rng.uniform(0, 10, size=len(rows))
        dwell = _uniform_dwell(rng, net, target)
        on_exit = target == summit

        def feasible(arrival: np.ndarray) -> np.ndarray:
            tap = arrival + np.where(on_exit, dwell, 0.0)
            ok = (tap <= net.last_tap[target]) & ~(tap - last_tap[rows] > MAX_TAP_GAP_MINUTES)
            ok &= ~cruise[rows] | (
                (tap <= CRUISE_LAST_TAP) & (arrival + dwell + net.travel_minutes[target, terminal] <= CRUISE_ALL_ABOARD)
            )
            return ok

        direct = np.maximum(direct, opening)
        via_sight = np.maximum(via_sight, opening)
        use_detour = wants_detour & feasible(via_sight)
        ok = use_detour | feasible(direct)
        arrival = np.where(use_detour, via_sight, direct)
        tap = arrival + np.where(on_exit, dwell, 0.0)
        depart = np.where(on_exit, tap + ROPEWAY_RIDE_MINUTES, arrival + dwell)
        on_tour = target == pier
        present_until = np.where(on_exit, tap, np.where(on_tour, arrival + TOUR_PIER_PRESENCE_MINUTES, depart))

        log.add(rows[use_detour & ok], sight[use_detour & ok], sight_arrive[use_detour & ok], sight_depart[use_detour & ok])
        log.add(rows[ok], target[ok], arrival[ok], depart[ok], tap=tap[ok], present_until=present_until[ok])
        touring = ok & on_tour
        log.add(rows[touring], island, arrival[touring] + TOUR_ISLAND_WINDOW[0], arrival[touring] + TOUR_ISLAND_WINDOW[1])

        alive[rows[~ok]] = False
        moved = rows[ok]
        position[moved], clock[moved], last_tap[moved] = target[ok], depart[ok], tap[ok]
        seen[moved, target[ok]] = True
        riding = moved[(target[ok] == rope) & rides_down[moved]]
        planned[riding] = np.maximum(planned[riding], step + 2)

    visited = np.flatnonzero(~np.isnan(last_tap))
    ordinary = visited[~cruise[visited]]
    sight = _draw_rows(rng, net.final_sight[position[ordinary]])
    arrive = clock[ordinary] + net.travel_minutes[position[ordinary], np.maximum(sight, 0)]
    depart = arrive + _uniform_dwell(rng, net, np.maximum(sight, 0))
    goes = (sight >= 0) & (rng.random(len(ordinary)) < FINAL_SIGHT_SHARE) & (depart <= _hm(21))
    log.add(ordinary[goes], sight[goes], arrive[goes], depart[goes])
    returning = visited[cruise[visited]]
    back = clock[returning] + net.travel_minutes[position[returning], terminal]
    log.add(returning, terminal, back, back + 15)
    return log.frame()


def _taps(rng: np.random.Generator, stops: pd.DataFrame) -> pd.DataFrame:
    """Gate taps per visitor, plus a second tap within 10 minutes for a few of them."""
    gated = stops[stops["tap"].notna()]
    one_per_visitor = gated.sample(frac=1.0, random_state=rng).drop_duplicates("visitor")
    again = one_per_visitor[rng.random(len(one_per_visitor)) < RETAP_SHARE]
    offset = np.minimum(rng.uniform(0.5, 10, size=len(again)), 0.9 * (again["depart"] - again["tap"]))
    second_taps = again[["visitor", "facility"]].assign(tap=again["tap"] + offset)
    taps = pd.concat([gated[["visitor", "facility", "tap"]], second_taps])
    taps["second"] = np.floor(taps["tap"].to_numpy() * 60).astype(np.int64)
    return taps.drop(columns="tap").sort_values(["visitor", "second"], ignore_index=True)


# ----------------------------------------------------------------------------- Wi-Fi


def _wifi_counts(rng: np.random.Generator, net: _Network, stops: pd.DataFrame, day_start: int) -> tuple[np.ndarray, np.ndarray]:
    """Connections and unique devices per AP and 10-minute bin from who is near each AP."""
    facility = stops["facility"].to_numpy()
    same_visitor = stops["visitor"].eq(stops["visitor"].shift()).to_numpy()
    leg_to = np.flatnonzero(same_visitor)
    leg_ap = net.street_ap[facility[leg_to - 1], facility[leg_to]]
    passes = leg_ap >= 0
    leg_start = stops["depart"].to_numpy()[leg_to - 1][passes]
    leg_end = np.minimum(
        stops["arrive"].to_numpy()[leg_to][passes],
        leg_start + net.street_minutes[facility[leg_to - 1], facility[leg_to]][passes],
    )
    ap = np.concatenate([net.ap_of_facility[facility], leg_ap[passes]])
    start = np.concatenate([stops["arrive"].to_numpy(), leg_start])
    end = np.concatenate([stops["present_until"].to_numpy(), leg_end])
    bins = 24 * 60 // WIFI_BIN_MINUTES
    first = np.clip(np.floor((start - day_start) / WIFI_BIN_MINUTES), 0, bins).astype(int)
    after_last = np.clip(np.ceil((end - day_start) / WIFI_BIN_MINUTES), 0, bins).astype(int)
    keep = after_last > first
    change = np.zeros((len(net.ap_ids), bins + 1), dtype=np.int64)
    np.add.at(change, (ap[keep], first[keep]), 1)
    np.add.at(change, (ap[keep], after_last[keep]), -1)
    present = np.cumsum(change, axis=1)[:, :bins]
    hour = (day_start + np.arange(bins) * WIFI_BIN_MINUTES) // 60 % 24
    baseline = np.where((hour >= 7) & (hour < 22), WIFI_BASELINE_DAY, WIFI_BASELINE_NIGHT)
    connections = rng.poisson(present * NON_CASHLESS_MULTIPLIER + baseline[None, :])
    unique_devices = connections - rng.binomial(connections, REPEAT_CONNECTION_SHARE)
    return connections, unique_devices


# ----------------------------------------------------------------------------- survey


def _survey_responses(
    rng: np.random.Generator,
    net: _Network,
    day: date,
    day_start: int,
    size: int,
    visitors: _Visitors,
    stops: pd.DataFrame,
) -> pd.DataFrame:
    """Web-form answers from a sample of today's visitors, in answer order, as contract strings."""
    pool = np.unique(stops.loc[stops["tap"].notna(), "visitor"])
    count = min(len(pool), size)
    # Planted response bias: international visitors answer more often (post-stratification corrects it).
    propensity = np.where(visitors.international[pool], INTERNATIONAL_RESPONSE_PROPENSITY, 1.0)
    respondents = np.sort(rng.choice(pool, size=count, replace=False, p=propensity / propensity.sum()))
    own = stops[stops["visitor"].isin(respondents)]
    trips = own.groupby("visitor").agg(facilities=("facility", list), leaves=("depart", "max"))
    international = visitors.international[respondents]
    residence = visitors.residence[respondents]

    native = np.select([np.isin(residence, ["CN", "TW", "HK"]), residence == "KR"], ["zh", "ko"], "en")
    language = np.where(residence == "JP", "ja", np.where(rng.random(count) < 0.85, native, "en"))
    source_p = np.where(international[:, None], INTERNATIONAL_SOURCE_P, DOMESTIC_SOURCE_P)
    sources = rng.random((count, len(INFO_SOURCES))) < source_p
    sources[~sources.any(axis=1), INFO_SOURCES.index("map_app")] = True
    helpers = [INFO_SOURCES.index("free_wifi"), INFO_SOURCES.index("tourist_info_center")]
    helped = sources[:, helpers].any(axis=1)
    helped_share = 1 - np.prod(1 - source_p[:, helpers], axis=1)
    top_two_p = np.where(international, INTERNATIONAL_TOP_TWO, DOMESTIC_TOP_TWO)
    top_two_p = top_two_p + HELPED_TOP_TWO_BONUS * (helped - helped_share)
    info = np.where(
        rng.random(count) < top_two_p,
        rng.choice([4, 5], size=count, p=[0.62, 0.38]),
        rng.choice([1, 2, 3], size=count, p=[0.10, 0.25, 0.65]),
    )
    skip = rng.random(count)
    answers = skip >= NO_ANSWER_SHARE + NOT_APPLICABLE_SHARE
    info_text = np.where(answers, info.astype(str), np.where(skip < NO_ANSWER_SHARE, "", "9"))
    feeling = np.where(answers, info, rng.choice([3, 4, 5], size=count))
    overall = np.clip(np.rint(feeling + rng.normal(0.4, 0.8, size=count)), 1, 5).astype(int)
    recommend = np.clip(np.rint(2 * overall - 1 + rng.normal(0, 1.3, size=count)), 0, 10).astype(int)
    answered_at = np.minimum(trips["leaves"].to_numpy() + rng.uniform(10, 240, size=count), day_start + 24 * 60 - 1)
    writes = rng.random(count) < FREE_TEXT_SHARE
    pick = rng.random(count)

    midnight = datetime.combine(day, datetime.min.time())
    rows = []
    for i, visitor in enumerate(respondents):
        names = dict.fromkeys(net.facility_ids[index] for index in trips.at[visitor, "facilities"])
        visited = [name for name in names if name not in TRANSPORT_HUBS]
        comments = [
            text
            for text, about in COMMENTS["ja" if language[i] == "ja" else "en", bool(info[i] >= 4)]
            if about is None or about in visited
        ]
        rows.append(
            {
                "回答日時": (midnight + timedelta(seconds=int(answered_at[i] * 60))).strftime("%Y-%m-%d %H:%M:%S"),
                "回答言語": str(language[i]),
                "居住国": str(residence[i]),
                "居住都道府県": str(visitors.prefecture[visitor]),
                "旅ナカでの情報取得満足度": str(info_text[i]),
                "旅行全体の満足度": str(overall[i]),
                "おすすめ度": str(recommend[i]),
                "利用した情報源": ";".join(code for code, used in zip(INFO_SOURCES, sources[i]) if used),
                "訪問した施設": ";".join(visited),
                "自由記述": comments[int(pick[i] * len(comments))] if writes[i] else "",
            }
        )
    frame = pd.DataFrame(rows, columns=SURVEY_HEADER[1:]).sort_values("回答日時", kind="stable", ignore_index=True)
    frame.insert(0, "回答ID", [f"WEB-{day:%Y%m%d}-{i + 1:04d}" for i in range(len(frame))])
    return frame


# ----------------------------------------------------------------------------- truth


def _segment_of(issuer: str) -> str:
    return "domestic" if issuer == "JP" else "unknown" if issuer == "" else "international"


def _entry_truth(entries: pd.DataFrame, trip_gap_minutes: int, reentry_minutes: int) -> dict[str, object]:
    """Trip answers from loaded entry rows: collapse re-entries, split trips on long gaps."""
    ordered = entries.sort_values(["card", "second", "facility_id"])
    trips: list[tuple[str, str, list[str]]] = []  # (card, issuer, stops)
    previous_card, previous_second = "", 0
    for card, facility_id, second, issuer in zip(
        *(ordered[column].tolist() for column in ("card", "facility_id", "second", "issuer"))
    ):
        gap = second - previous_second
        if card != previous_card or gap > trip_gap_minutes * 60:
            trips.append((card, issuer, [facility_id]))
        elif facility_id != trips[-1][2][-1] or gap > reentry_minutes * 60:
            trips[-1][2].append(facility_id)
        previous_card, previous_second = card, second

    transitions: Counter[str] = Counter()
    pair_cards: dict[str, set[str]] = defaultdict(set)
    route_cards: dict[str, set[str]] = defaultdict(set)
    stop_counts: Counter[int] = Counter()
    multi_facility: dict[str, str] = {}
    for card, issuer, stops in trips:
        route_cards[">".join(stops)].add(card)
        stop_counts[len(stops)] += 1
        if len(set(stops)) >= 2:
            multi_facility[card] = issuer
        for pair in zip(stops, stops[1:]):
            transitions[">".join(pair)] += 1
            pair_cards[">".join(pair)].add(card)
    segments = Counter(_segment_of(issuer) for issuer in multi_facility.values())
    routes = sorted(((len(cards), route) for route, cards in route_cards.items()), key=lambda item: (-item[0], item[1]))
    return {
        "transitions": {
            pair: {"transitions": transitions[pair], "visitors": len(pair_cards[pair])} for pair in sorted(transitions)
        },
        "visitors_per_stop_count": {str(n): stop_counts[n] for n in sorted(stop_counts)},
        "multi_facility_visitors": {"all": len(multi_facility)} | {s: segments[s] for s in SEGMENTS},
        "routes": {route: visitors for visitors, route in routes},
    }


def _per_facility_truth(entries: pd.DataFrame) -> dict[str, object]:
    facility_ids = entries["facility_id"].tolist()
    hours = (entries["second"] // 3600 % 24).tolist()
    per_hour = Counter(zip(facility_ids, hours))
    cards: dict[str, set[str]] = defaultdict(set)
    for facility_id, card in zip(facility_ids, entries["card"].tolist()):
        cards[facility_id].add(card)
    counts = Counter(facility_ids)
    return {
        "entries_per_facility": {f: counts[f] for f in sorted(GATES)},
        "visitors_per_facility": {f: len(cards[f]) for f in sorted(GATES)},
        "entries_per_facility_hour": {
            f: {f"{hour:02d}": n for (g, hour), n in sorted(per_hour.items()) if g == f} for f in sorted(GATES)
        },
    }


def _wifi_truth(net: _Network, connections: np.ndarray, day_start: int) -> dict[str, object]:
    """Connections per AP for the day and per area and clock hour (the service day starts on the hour)."""
    per_hour = connections.reshape(len(net.ap_ids), -1, 60 // WIFI_BIN_MINUTES).sum(axis=2)
    hours = [f"{(day_start // 60 + h) % 24:02d}" for h in range(per_hour.shape[1])]
    by_area: dict[str, np.ndarray] = {}
    for area, counts in zip(net.ap_area, per_hour):
        by_area[area] = by_area.get(area, 0) + counts
    return {
        "wifi_connections_per_ap": {ap: int(n) for ap, n in zip(net.ap_ids, connections.sum(axis=1))},
        "wifi_connections_per_area_hour": {area: dict(zip(hours, by_area[area].tolist())) for area in sorted(by_area)},
    }


def _survey_truth(responses: pd.DataFrame) -> dict[str, dict[str, int]]:
    info = responses["旅ナカでの情報取得満足度"]
    segment = np.where(responses["居住国"] == "JP", "domestic", "international")
    answered = info.isin(["1", "2", "3", "4", "5"])
    satisfied = info.isin(["4", "5"])
    return {
        s: {
            "respondents": int((segment == s).sum()),
            "answered": int((answered & (segment == s)).sum()),
            "satisfied": int((satisfied & (segment == s)).sum()),
        }
        for s in ("domestic", "international")
    }


# ----------------------------------------------------------------------------- writing


def _entry_line(pos: str, facility_id: str, day: date, second: int, card: str, ticket: int, amount: int, issuer: str) -> str:
    """One producer row; formats the clock from seconds so a broken hour (25) stays printable."""
    hours, rest = divmod(second, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if pos == "a":
        return f"{day:%Y/%m/%d} {clock},{card},{POS_A_TICKET_LABELS[ticket]},{amount},{issuer}"
    return f"{facility_id},{day:%Y-%m-%d},{clock},{card},{POS_B_TICKET_LABELS[ticket]},{amount},{issuer}"


def _bad_entry_lines(rng: np.random.Generator, day: date, entries: pd.DataFrame, used: set[int]) -> list[tuple[str, str, str]]:
    """(facility_id, line, reason): one negative amount and one impossible clock, fresh cards."""
    busy = sorted(entries["facility_id"].unique()) or sorted(GATES)
    facilities = rng.choice(busy, size=2, replace=len(busy) < 2)
    cards = _draw_card_numbers(rng, 2, used)
    bad = []
    reasons = ("negative_amount", "unparseable_timestamp")
    for facility_id, card, reason in zip(facilities.tolist(), cards.tolist(), reasons):
        gate = GATES[facility_id]
        second = int(rng.integers(gate.opens * 60, gate.last_tap * 60))
        amount = gate.adult_price
        if reason == "negative_amount":
            amount = -amount
        else:
            second = 25 * 3600 + second % 3600
        line = _entry_line(gate.pos, facility_id, day, second, str(card), TICKET_TYPES.index("adult"), amount, "JP")
        bad.append((facility_id, line, reason))
    return bad


def _insert_bad_lines(
    rng: np.random.Generator, lines: list[str], bad: list[tuple[str, str]]
) -> tuple[list[str], list[tuple[int, str]]]:
    """Put each (line, reason) at a random place; return the lines and their 1-based file line numbers."""
    tagged: list[tuple[str, str | None]] = [(line, None) for line in lines]
    for line, reason in bad:
        tagged.insert(int(rng.integers(0, len(tagged) + 1)), (line, reason))
    return [line for line, _ in tagged], [(i + 2, reason) for i, (_, reason) in enumerate(tagged) if reason]


def _write_entry_logs(
    rng: np.random.Generator, landing_dir: Path, day: date, entries: pd.DataFrame, bad: list[tuple[str, str, str]]
) -> tuple[int, list[dict[str, str | int]]]:
    """One file per gated facility and day (header only when nobody came), in its POS's format."""
    ordered = entries.sort_values(["facility_id", "second", "card"])
    lines_of: dict[str, list[str]] = {facility_id: [] for facility_id in GATES}
    for facility_id, second, card, ticket, amount, issuer in zip(
        *(ordered[c].tolist() for c in ("facility_id", "second", "card", "ticket", "amount", "issuer"))
    ):
        lines_of[facility_id].append(_entry_line(GATES[facility_id].pos, facility_id, day, second, card, ticket, amount, issuer))
    written, quarantines = 0, []
    for facility_id in sorted(GATES):
        gate = GATES[facility_id]
        lines, bad_lines = _insert_bad_lines(
            rng, lines_of[facility_id], [(line, reason) for f, line, reason in bad if f == facility_id]
        )
        relative = f"entry_log/pos_{gate.pos}/{day.isoformat()}/{facility_id}.csv"
        if gate.pos == "a":
            data = "\r\n".join([POS_A_HEADER, *lines, ""]).encode("cp932")
        else:
            data = "\n".join([POS_B_HEADER, *lines, ""]).encode("utf-8-sig")
        write_bytes_atomic(landing_dir / relative, data)
        written += len(lines)
        quarantines += [
            {"source": f"entry_pos_{gate.pos}", "file": relative, "line": number, "reason": reason}
            for number, reason in bad_lines
        ]
    return written, quarantines


def _write_wifi(
    rng: np.random.Generator,
    landing_dir: Path,
    net: _Network,
    day: date,
    day_start: int,
    connections: np.ndarray,
    unique_devices: np.ndarray,
) -> int:
    midnight = datetime.combine(day, datetime.min.time())
    bin_starts = [
        (midnight + timedelta(minutes=day_start + b * WIFI_BIN_MINUTES)).strftime("%Y-%m-%dT%H:%M:00+09:00")
        for b in range(connections.shape[1])
    ]
    export_delay = timedelta(minutes=int(rng.integers(5, 30)), seconds=int(rng.integers(0, 60)))
    exported = midnight + timedelta(days=1, minutes=day_start) + export_delay
    records = [
        {
            "ap_id": ap_id,
            "bin_start": bin_starts[b],
            "connections": int(connections[a, b]),
            "unique_devices": int(unique_devices[a, b]),
        }
        for b in range(len(bin_starts))
        for a, ap_id in enumerate(net.ap_ids)
    ]
    payload = {
        "vendor": WIFI_VENDOR,
        "exported_at": exported.strftime("%Y-%m-%dT%H:%M:%S+09:00"),
        "bin_minutes": WIFI_BIN_MINUTES,
        "records": records,
    }
    data = (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8")
    write_bytes_atomic(landing_dir / f"wifi/vendor_a/{day.isoformat()}.json", data)
    return len(records)


def _write_survey(
    rng: np.random.Generator, landing_dir: Path, day: date, responses: pd.DataFrame, dirty: bool
) -> tuple[int, list[dict[str, str | int]]]:
    """The web-form export; when dirty, one extra answer with an impossible satisfaction of 7."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(responses.itertuples(index=False))
    lines = buffer.getvalue().splitlines()
    bad: list[tuple[str, str]] = []
    if dirty and len(responses):
        broken = responses.iloc[int(rng.integers(0, len(responses)))].copy()
        broken["回答ID"] = f"WEB-{day:%Y%m%d}-{len(responses) + 1:04d}"
        broken["旅ナカでの情報取得満足度"] = "7"
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(broken.tolist())
        bad.append((line.getvalue().rstrip("\n"), "satisfaction_out_of_range"))
    lines, bad_lines = _insert_bad_lines(rng, lines, bad)
    relative = f"survey/web/{day.isoformat()}.csv"
    write_bytes_atomic(landing_dir / relative, "\n".join([",".join(SURVEY_HEADER), *lines, ""]).encode("utf-8"))
    return len(lines), [
        {"source": "survey_web", "file": relative, "line": number, "reason": reason} for number, reason in bad_lines
    ]


# ----------------------------------------------------------------------------- entry points


def _arrivals(
    rng: np.random.Generator, day: date, scale: float, returning: _Visitors, n_facilities: int, used: set[int]
) -> _Visitors:
    """Today's visitors: yesterday's two-day visitors plus new ones up to the day's volume."""
    kind = _day_kind(day)
    domestic = rng.poisson(DOMESTIC_VISITORS * DOMESTIC_DAY_FACTOR[kind] * scale)
    international = rng.poisson(INTERNATIONAL_VISITORS * INTERNATIONAL_DAY_FACTOR[kind] * scale)
    cruise = rng.poisson(passengers_ashore(day) * scale) if day in CRUISE_DAYS else 0
    newcomers = _new_visitors(
        rng,
        max(0, domestic - int((~returning.international).sum())),
        max(0, international - int(returning.international.sum())),
        cruise,
        n_facilities,
        used,
    )
    return _Visitors.concat([returning, newcomers])


def _staying_another_day(rng: np.random.Generator, visitors: _Visitors, first_newcomer: int, taps: pd.DataFrame) -> _Visitors:
    """New, non-cruise visitors who tapped today and come back tomorrow with the same card."""
    seen_today = np.zeros_like(visitors.seen)
    seen_today[taps["visitor"], taps["facility"]] = True
    newcomers = np.arange(first_newcomer, len(visitors))
    stays = newcomers[
        ~visitors.cruise[newcomers] & seen_today[newcomers].any(axis=1) & (rng.random(len(newcomers)) < MULTI_DAY_SHARE)
    ]
    staying = visitors.take(stays)
    staying.seen = visitors.seen[stays] | seen_today[stays]
    return staying


def _entry_rows(net: _Network, visitors: _Visitors, taps: pd.DataFrame) -> pd.DataFrame:
    """Taps joined with card, ticket, fare and issuer: the rows the POS systems will log."""
    visitor, facility = taps["visitor"].to_numpy(), taps["facility"].to_numpy()
    ticket = visitors.ticket[visitor]
    adult_price = np.array([GATES[f].adult_price if f in GATES else 0 for f in net.facility_ids])
    return pd.DataFrame(
        {
            "card": visitors.card[visitor].astype(str),
            "facility_id": np.array(net.facility_ids, dtype=object)[facility],
            "second": taps["second"].to_numpy(),
            "ticket": ticket,
            "amount": (np.rint(adult_price[facility] * np.array(TICKET_PRICE_RATIO)[ticket] / 10) * 10).astype(int),
            "issuer": visitors.issuer[visitor],
        }
    )


def generate(
    landing_dir: Path,
    start: date,
    end: date,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    dirty: bool = True,
    report: Callable[[str], None] | None = None,
) -> GroundTruth:
    """Write landing files for every service day in [start, end] and return their ground truth.

    ``scale`` multiplies all visitor and survey volumes; ``dirty`` adds a few bad rows per day
    (listed in the truth as expected quarantines); ``report`` receives one line per day.
    Each day draws from its own generator seeded with (seed, day), so a day's files depend
    only on the seed, the scale and the days before it.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}.")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}.")
    settings = get_settings()
    day_start = settings.service_day_start.hour * 60 + settings.service_day_start.minute
    net = _build_network()
    used_cards: set[int] = set()
    returning = _Visitors.empty(len(net.facility_ids))
    days: dict[str, DayTruth] = {}
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        rng = np.random.default_rng([seed, day.toordinal()])
        visitors = _arrivals(rng, day, scale, returning, len(net.facility_ids), used_cards)
        stops = _plan_stops(rng, net, visitors)
        taps = _taps(rng, stops)
        returning = _staying_another_day(rng, visitors, len(returning), taps)

        entries = _entry_rows(net, visitors, taps)
        entries, measure_truth = demo_measures.plant(
            seed, day, entries, lambda generator, count: _draw_card_numbers(generator, count, used_cards)
        )
        bad = _bad_entry_lines(rng, day, entries, used_cards) if dirty else []
        entry_lines, quarantines = _write_entry_logs(rng, landing_dir, day, entries, bad)

        totals = demo_admissions.admission_totals(seed, day, entries)
        demo_admissions.write_admission_totals(landing_dir, day, totals, write_bytes_atomic)

        probes = demo_sensors.detections(seed, day, net.facility_ids, visitors.card, stops)
        demo_sensors.write_detections(landing_dir, day, probes, write_bytes_atomic)

        connections, unique_devices = _wifi_counts(rng, net, stops, day_start)
        wifi_records = _write_wifi(rng, landing_dir, net, day, day_start, connections, unique_devices)

        kind, cruise_call = _day_kind(day), day in CRUISE_DAYS
        wanted = np.clip(rng.poisson(SURVEY_BASE[kind] + (SURVEY_CRUISE_EXTRA if cruise_call else 0)), *SURVEY_RANGE)
        responses = _survey_responses(rng, net, day, day_start, max(1, round(wanted * scale)), visitors, stops)
        survey_lines, survey_quarantines = _write_survey(rng, landing_dir, day, responses, dirty)

        days[day.isoformat()] = DayTruth(
            day_type=kind,
            cruise_call=cruise_call,
            **_per_facility_truth(entries),
            **_entry_truth(entries, settings.trip_max_gap_minutes, settings.reentry_gap_minutes),
            **_wifi_truth(net, connections, day_start),
            survey=_survey_truth(responses),
            expected_quarantines=quarantines + survey_quarantines,
            admission_totals=totals,
            measures=measure_truth,
            wifi_sensor=demo_sensors.truth(probes),
        )
        if report:
            report(f"demo: {day} written ({entry_lines:,} entries, {wifi_records:,} wifi bins, {survey_lines} surveys)")
    write_cruise_timetable(landing_dir)
    return GroundTruth(seed=seed, scale=scale, dirty=dirty, start=start.isoformat(), end=end.isoformat(), days=days)


def main(argv: list[str] | None = None) -> int:
    """CLI: write the demo landing files and the ground truth next to the landing folder."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m flowlib.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--landing-dir", type=Path, default=settings.landing_dir)
    parser.add_argument("--start", type=date.fromisoformat, default=DEMO_START, help="first service day (YYYY-MM-DD)")
    parser.add_argument("--end", type=date.fromisoformat, default=DEMO_END, help="last service day (YYYY-MM-DD)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", type=float, default=1.0, help="volume multiplier, e.g. 0.05 for a tiny set")
    parser.add_argument("--clean", action="store_true", help="write no deliberately bad rows")
    parser.add_argument("--truth-file", type=Path, default=None, help="default: <landing-dir>/../demo_truth.json")
    args = parser.parse_args(argv)
    if args.end < args.start:
        parser.error(f"--end {args.end} is before --start {args.start}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    truth = generate(args.landing_dir, args.start, args.end, seed=args.seed, scale=args.scale, dirty=not args.clean, report=print)
    truth_file = args.truth_file or args.landing_dir.parent / "demo_truth.json"
    write_bytes_atomic(truth_file, truth.to_json().encode("utf-8"))
    print(f"demo: ground truth written to {truth_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
