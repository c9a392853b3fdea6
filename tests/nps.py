"""The Net Promoter Score exactly as the Hokuriku consortium's published tables compute it.

Not part of the pipeline (no page or mart shows an NPS): the real-data tests use it to check
that the loaded Toyama answers reproduce the published per-city NPS to the digit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd


def js_to_fixed(value: float, digits: int) -> str:
    """``Number.prototype.toFixed`` of JavaScript, which the published NPS tables used.

    JavaScript rounds the exact binary value of the double half away from zero (Python's
    ``round``/format round half to even), e.g. ``(12.5).toFixed(0) == "13"``.
    """
    if value == 0:
        value = 0.0  # -0 prints as 0 in JavaScript
    negative = value < 0
    exact = Decimal(abs(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:.{digits}f}"
    return f"-{text}" if negative else text


@dataclass(frozen=True)
class NetPromoterScore:
    respondents: int
    promoters: int
    passives: int
    detractors: int
    #: counts of scores 0..10
    distribution: tuple[int, ...]

    @property
    def score(self) -> float:
        """NPS = % promoters (9-10) - % detractors (0-6), computed as the publisher did."""
        if self.respondents == 0:
            return math.nan
        return (self.promoters - self.detractors) / self.respondents * 100

    @property
    def score_text(self) -> str:
        return js_to_fixed(self.score, 1)

    def percent_texts(self) -> list[str]:
        """Share of each score 0..10 as whole percent, e.g. '41%'."""
        return [js_to_fixed(count / self.respondents * 100, 0) + "%" for count in self.distribution]


def net_promoter_score(scores: Iterable[int | float | None]) -> NetPromoterScore:
    """NPS of 0-10 recommendation scores; missing scores are left out."""
    counts = [0] * 11
    for raw in scores:
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NA:
            continue
        score = int(raw)
        if score != raw or not 0 <= score <= 10:
            raise ValueError(f"recommendation score {raw!r} is not a whole number 0-10")
        counts[score] += 1
    total = sum(counts)
    return NetPromoterScore(total, sum(counts[9:]), sum(counts[7:9]), sum(counts[:7]), tuple(counts))


def nps_table(
    frame: pd.DataFrame, group: str | Sequence[str], score: str = "recommend_score", min_count: int = 0
) -> pd.DataFrame:
    """Per group: NPS (text, one decimal), cnt and NPS0..NPS10 ('%'), like the published CSVs.

    Rows are sorted by NPS descending as published; groups with fewer than ``min_count``
    answers are left out (the consortium's yearly table keeps cities with 100 or more).
    """
    keys = [group] if isinstance(group, str) else list(group)
    rows = []
    for key, part in frame.groupby(keys, sort=True, dropna=True):
        nps = net_promoter_score(part[score].tolist())
        if nps.respondents == 0 or nps.respondents < min_count:
            continue
        values = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(keys, values)),
                "NPS": nps.score_text,
                "cnt": nps.respondents,
                **{f"NPS{i}": text for i, text in enumerate(nps.percent_texts())},
                "_score": nps.score,
            }
        )
    columns = [*keys, "NPS", "cnt", *[f"NPS{i}" for i in range(11)]]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows).sort_values("_score", ascending=False, kind="stable")
    return table[columns].reset_index(drop=True)
