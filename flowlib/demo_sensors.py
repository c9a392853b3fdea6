"""Demo Wi-Fi sensor detections: free sights without a gate become visible.

Sensors stand at three free sights (Dutch Slope, Peace Park, Megane Bridge) and, so that
their visitors' moves can be followed, at four gated facilities next to them. A simulated
visitor carries a phone with Wi-Fi on with probability ``WIFI_ON_SHARE``; while at a sensor
site (arrival to departure, as the itinerary simulation planned it) the phone is probed
every few minutes. Two staff phones at Peace Park are probed all working day, every day,
so the pipeline's resident-device rule has something to remove once they have been seen on
enough days.

Device ids are a keyed hash of the simulated card, so a visitor's phone is the same device
on both days of a two-day stay but cannot be turned back into the card number. Files:
``wifi_sensor/<service day>.csv`` (UTF-8, ``時刻,施設ID,端末ID``); draws from their own
generator (seed, day, ``STREAM``), so no other demo file changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

SENSOR_SITES = ("dutch_slope", "peace_park", "megane_bridge", "glover_garden", "oura_cathedral", "atomic_bomb_museum", "dejima")
FREE_SENSOR_SITES = ("dutch_slope", "peace_park", "megane_bridge")
WIFI_ON_SHARE = 0.6
PROBE_MINUTES = 4.0
STAFF = (("staff-phone-1", "peace_park"), ("staff-phone-2", "peace_park"))
STAFF_HOURS = (9 * 60, 17 * 60)
HEADER = "時刻,施設ID,端末ID"
STREAM = 55


def device_of(seed: int, card: object) -> str:
    return hashlib.sha256(f"demo-device-{seed}-{card}".encode()).hexdigest()[:20]


def detections(seed: int, day: date, facility_ids: list[str], cards: np.ndarray, stops: pd.DataFrame) -> pd.DataFrame:
    """(facility_id, minute, device_id) probes of the day, and nothing else."""
    rng = np.random.default_rng([seed, day.toordinal(), STREAM])
    phone_on = {card: on for card, on in zip(cards.tolist(), rng.random(len(cards)) < WIFI_ON_SHARE)}
    site_index = {facility_ids.index(site): site for site in SENSOR_SITES if site in facility_ids}
    at_sites = stops[stops["facility"].isin(list(site_index))]
    rows = []
    for visitor, facility, arrive, until in zip(
        at_sites["visitor"].to_numpy(),
        at_sites["facility"].to_numpy(),
        at_sites["arrive"].to_numpy(),
        at_sites["present_until"].to_numpy(),
    ):
        card = cards[visitor]
        if not phone_on[card.item() if hasattr(card, "item") else card]:
            continue
        minute = arrive + rng.uniform(0, PROBE_MINUTES)
        while minute <= until:
            rows.append((site_index[facility], minute, device_of(seed, card)))
            minute += rng.exponential(PROBE_MINUTES)
    for device, site in STAFF:
        minute = STAFF_HOURS[0] + rng.uniform(0, PROBE_MINUTES)
        while minute <= STAFF_HOURS[1]:
            rows.append((site, minute, device))
            minute += rng.exponential(PROBE_MINUTES)
    frame = pd.DataFrame(rows, columns=["facility_id", "minute", "device_id"])
    return frame.sort_values(["minute", "facility_id", "device_id"], ignore_index=True)


def write_detections(landing_dir: Path, day: date, probes: pd.DataFrame, write: Callable[[Path, bytes], None]) -> int:
    midnight = datetime.combine(day, datetime.min.time())
    lines = [
        f"{(midnight + timedelta(seconds=int(m * 60))):%Y-%m-%d %H:%M:%S},{f},{d}"
        for f, m, d in zip(probes["facility_id"], probes["minute"], probes["device_id"])
    ]
    write(landing_dir / "wifi_sensor" / f"{day.isoformat()}.csv", "\n".join([HEADER, *lines, ""]).encode("utf-8"))
    return len(lines)


def truth(probes: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Distinct visitor devices (staff phones left out) per sensor site."""
    visitors = probes[~probes["device_id"].isin([device for device, _ in STAFF])]
    counts = visitors.groupby("facility_id")["device_id"].nunique()
    return {"devices_per_site": {site: int(counts.get(site, 0)) for site in SENSOR_SITES}}
