"""Demo 入館者数: each gated facility's daily admissions over every payment type.

Why a separate module: the card simulation in ``flowlib.demo`` only knows card payers.
Here, per facility and day, the people who paid another way are drawn so that the card
payers are a binomial-like share of everyone admitted: with ``C`` distinct cards at a
facility and a cashless share ``p``, the cash admissions are negative-binomial (the
failures before the ``C``-th card payer), so that ``C / (C + cash)`` scatters around ``p``
as a real share would. The shares average about 0.4, the cash share the demo's Wi-Fi counts
assume (``NON_CASHLESS_MULTIPLIER`` = 2.5 people per card payer).

Facilities report on most days but not all: ``NEVER_REPORTS`` never sends totals (a tour
operator, not a city facility), and ``REPORT_SHARE`` of the other facility-days are sent.
The truth records every true total, reported or not, so tests can hold the estimates for
the unreported days against it.

Files: ``admissions/<service day>.csv`` (UTF-8, ``施設コード,日付,入館者数``), one row per
reporting facility. Draws come from their own generator (seed, day, ``STREAM``), so adding
this file changes no other demo file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

#: cashless share of admissions per gated facility (card payers ÷ everyone admitted)
CASHLESS_SHARE: dict[str, float] = {
    "glover_garden": 0.45,
    "oura_cathedral": 0.42,
    "dejima": 0.40,
    "atomic_bomb_museum": 0.35,
    "confucius_shrine": 0.45,
    "sofukuji": 0.30,
    "prefectural_art_museum": 0.38,
    "history_culture_museum": 0.36,
    "twenty_six_martyrs": 0.35,
    "ropeway_fuchi_shrine": 0.50,
    "inasayama_observatory": 0.50,
    "penguin_aquarium": 0.33,
    "tokiwa_terminal": 0.55,
}
#: sends no totals at all: its estimates must say so rather than guess
NEVER_REPORTS = frozenset({"tokiwa_terminal"})
#: share of the other facility-days whose totals arrive
REPORT_SHARE = 0.8
HEADER = "施設コード,日付,入館者数"
STREAM = 14


def admission_totals(seed: int, day: date, entries: pd.DataFrame) -> dict[str, dict[str, int | float | bool]]:
    """True totals per facility: {facility: {"cashless": C, "total": T, "share": p, "reported": bool}}.

    ``entries`` are the day's loaded card rows (``facility_id``, ``card``); a facility
    nobody tapped has C = 0 and a small total of cash payers only.
    """
    rng = np.random.default_rng([seed, day.toordinal(), STREAM])
    cards = entries.groupby("facility_id")["card"].nunique() if len(entries) else pd.Series(dtype=int)
    truth: dict[str, dict[str, int | float | bool]] = {}
    for facility_id in sorted(CASHLESS_SHARE):
        share = CASHLESS_SHARE[facility_id]
        cashless = int(cards.get(facility_id, 0))
        cash = int(rng.negative_binomial(cashless, share)) if cashless else int(rng.poisson(2))
        reported = facility_id not in NEVER_REPORTS and bool(rng.random() < REPORT_SHARE)
        truth[facility_id] = {"cashless": cashless, "total": cashless + cash, "share": share, "reported": reported}
    return truth


def write_admission_totals(
    landing_dir: Path, day: date, truth: dict[str, dict[str, int | float | bool]], write: Callable[[Path, bytes], None]
) -> int:
    """Write the reported totals with ``write(path, bytes)`` (the demo's atomic writer); rows written."""
    lines = [
        f"{facility_id},{day.isoformat()},{values['total']}"
        for facility_id, values in sorted(truth.items())
        if values["reported"]
    ]
    write(landing_dir / "admissions" / f"{day.isoformat()}.csv", "\n".join([HEADER, *lines, ""]).encode("utf-8"))
    return len(lines)
