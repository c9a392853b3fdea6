"""A measure with a known effect, planted in the demo (EBPM: did the measure work?).

``config/measures/dejima_signage.yaml`` declares new signage at Dejima pointing to the
Nagasaki Prefectural Art Museum from ``PLANTED_START``. The demo makes it work: from that
service day, each card whose day moves Dejima → the art museum brings, with probability
``EFFECT`` (0.15), one more visitor who walks the same way (a fresh card, the same
admissions a minute or two later). The expected Dejima → art museum moves are therefore
multiplied by exactly 1 + ``EFFECT``; other moves change only through the new visitors'
other stops. The truth records the multiplier and how many visitors were added.

Draws come from their own generator (seed, day, ``STREAM``); days before the start are
untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

MEASURE = "dejima_signage"
PLANTED_PAIR = ("dejima", "prefectural_art_museum")
PLANTED_START = date(2026, 11, 8)
EFFECT = 0.15
STREAM = 1408


def movers(entries: pd.DataFrame, pair: tuple[str, str] = PLANTED_PAIR) -> np.ndarray:
    """Cards whose admissions, in time order with repeats at one facility collapsed, contain the move."""
    ordered = entries.sort_values(["card", "second", "facility_id"])
    collapsed = ordered[ordered["facility_id"].ne(ordered["facility_id"].shift()) | ordered["card"].ne(ordered["card"].shift())]
    following = collapsed["facility_id"].shift(-1).where(collapsed["card"].eq(collapsed["card"].shift(-1)))
    moved = collapsed[(collapsed["facility_id"] == pair[0]) & (following == pair[1])]
    return np.array(sorted(moved["card"].unique()), dtype=object)


def plant(
    seed: int, day: date, entries: pd.DataFrame, draw_cards: Callable[[np.random.Generator, int], np.ndarray]
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The day's entries with the measure's extra visitors, and the truth for the day."""
    if day < PLANTED_START or not len(entries):
        return entries, {}
    rng = np.random.default_rng([seed, day.toordinal(), STREAM])
    cards = movers(entries)
    followers = cards[rng.random(len(cards)) < EFFECT]
    new_cards = draw_cards(rng, len(followers)).astype(str)
    delay = rng.integers(30, 150, size=len(followers))
    copies = []
    for card, new_card, seconds in zip(followers, new_cards, delay):
        rows = entries[entries["card"] == card].copy()
        rows["card"] = new_card
        rows["second"] = rows["second"] + int(seconds)
        copies.append(rows)
    planted = pd.concat([entries, *copies], ignore_index=True) if copies else entries
    truth = {
        MEASURE: {
            "pair": ">".join(PLANTED_PAIR),
            "multiplier": 1 + EFFECT,
            "movers": int(len(cards)),
            "added_visitors": int(len(followers)),
        }
    }
    return planted, truth
