"""Did a measure work? Difference-in-differences on the published marts (EBPM).

A measure is one file ``config/measures/<name>.yaml``: name, titles, what changed, start
(first service day with the measure), end (null while it lasts), who was treated
(facilities, or a residence segment) and the outcome:

``entries``          cashless visitors per day at the treated facilities (or ``outcome.facility``)
``transition``       moves per day from ``outcome.from`` to ``outcome.to``
``circulation_rate`` the circulation rate per day of the treated segment
``kpi``              旅ナカでの情報取得満足度: the satisfied share (answers 4-5 of 1-5) of survey
                     respondents who visited the treated facilities (or of the treated
                     segment), against the other respondents (see :func:`estimate_kpi`)

Comparison units are declared (``comparison: {facilities | pairs | segments: [...]}``) or
chosen by pre-period similarity: the ``N_COMPARISON`` units not touching the treated ones
whose daily series before the start correlate best with the treated series. The effect
is the coefficient of treated × after in an OLS of the outcome on unit and day fixed
effects (statsmodels formula API), with standard errors clustered by day (a day's shock is
shared by every unit; with one treated unit, clustering by unit would understate the
uncertainty). Counts are modelled as log(1 + count), so the effect reads as a percentage.
Before the effect, a pre-trend check: the same regression on the days before the start
with a treated × day-number slope instead; a slope different from zero (p < 0.05) means
treated and comparison units were already drifting apart, and the page says so.

The KPI is answered by a few dozen respondents a day, too few for a daily panel: its effect
is a difference in differences of shares on the respondents themselves (a linear probability
model, below), and fewer than ``MIN_RESPONDENTS`` answers in any of the four cells (treated or
comparison, before or after) is a stated reason, ``too_few_respondents``.

A measure file that names an unknown facility, has dates outside the data or leaves fewer
than ``MIN_PRE_DAYS`` days before the start is refused with one sentence naming the field;
fewer than ``MIN_COMPARISON`` usable comparison units is a stated reason, not an estimate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from flowlib.queries import run
from flowlib.warehouse import replace_with_frame

log = logging.getLogger(__name__)

OUTCOMES = ("entries", "transition", "circulation_rate", "kpi")
SEGMENTS = ("domestic", "international", "unknown")
MIN_PRE_DAYS = 5
MIN_POST_DAYS = 1
MIN_COMPARISON = 3
N_COMPARISON = 5
#: a count unit with fewer per day before the start is too noisy to compare with
MIN_DAILY_LEVEL = 10.0
PRE_WINDOW_DAYS = 56
#: KPI: answers needed in each of the four cells (treated/comparison x before/after)
MIN_RESPONDENTS = 30
#: KPI: answers are few per day, so the before period reaches further back than for counts
KPI_PRE_WINDOW_DAYS = 182
EFFECTS_TABLE = "marts.measure_effects"
SERIES_TABLE = "marts.measure_series"


class MeasureError(ValueError):
    """A measure file that cannot be estimated; the message is one sentence naming the field."""


@dataclass(frozen=True)
class Measure:
    name: str
    title_ja: str
    title_en: str
    what_changed: str
    start: date
    end: date | None
    treated_facilities: tuple[str, ...]
    treated_segment: str | None
    outcome: str
    outcome_from: str | None = None
    outcome_to: str | None = None
    outcome_facilities: tuple[str, ...] = ()
    comparison: tuple[str, ...] | None = None
    source: str = ""


@dataclass
class Estimate:
    status: str
    reason: str | None = None
    treated_unit: str | None = None
    comparison_units: list[str] = field(default_factory=list)
    comparison_chosen_by: str | None = None
    pre_days: int = 0
    post_days: int = 0
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    effect_scale: str | None = None  # log (percent) | points
    pre_trend_slope: float | None = None
    pre_trend_p_value: float | None = None
    series: pd.DataFrame | None = None

    @property
    def effect_percent(self) -> tuple[float | None, float | None, float | None]:
        if self.effect is None or self.effect_scale != "log":
            return None, None, None
        return tuple(100 * (math.exp(v) - 1) for v in (self.effect, self.ci_low, self.ci_high))  # type: ignore[return-value]


def _date(value: object, field_name: str, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise MeasureError(f"{where}: {field_name} '{value}' is not a date (YYYY-MM-DD).") from exc


def _names(value: object, field_name: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise MeasureError(f"{where}: {field_name} must be a list of ids.")
    return tuple(value)


def parse_measure(path: Path, facilities: set[str], first_day: date, last_day: date) -> Measure:
    """Read and check one measure file against the facilities and the days in the warehouse."""
    where = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MeasureError(f"{where}: not readable YAML ({exc.__class__.__name__}).") from exc
    if not isinstance(doc, dict):
        raise MeasureError(f"{where}: the file must be a mapping of fields.")
    for name in ("name", "start", "treated", "outcome"):
        if doc.get(name) in (None, ""):
            raise MeasureError(f"{where}: the field '{name}' is missing.")
    start = _date(doc["start"], "start", where)
    end = None if doc.get("end") in (None, "") else _date(doc["end"], "end", where)
    if not first_day <= start <= last_day:
        raise MeasureError(f"{where}: start {start} is outside the data ({first_day} to {last_day}).")
    if end is not None and end < start:
        raise MeasureError(f"{where}: end {end} is before start {start}.")
    pre_days = (start - first_day).days
    if pre_days < MIN_PRE_DAYS:
        raise MeasureError(
            f"{where}: start {start} leaves {pre_days} day(s) of data before it; "
            f"a before/after comparison needs at least {MIN_PRE_DAYS} (no pre-period)."
        )
    treated = doc["treated"]
    if not isinstance(treated, dict) or not ({"facilities", "segment"} & treated.keys()):
        raise MeasureError(f"{where}: treated must name facilities or a segment.")
    treated_facilities = _names(treated["facilities"], "treated.facilities", where) if "facilities" in treated else ()
    unknown = [f for f in treated_facilities if f not in facilities]
    if unknown:
        raise MeasureError(f"{where}: treated.facilities names unknown facility '{unknown[0]}'.")
    segment = treated.get("segment")
    if segment is not None and segment not in SEGMENTS:
        raise MeasureError(f"{where}: treated.segment '{segment}' is not one of {', '.join(SEGMENTS)}.")
    outcome = doc["outcome"]
    kind = outcome.get("kind") if isinstance(outcome, dict) else None
    if kind not in OUTCOMES:
        raise MeasureError(f"{where}: outcome.kind '{kind}' is not one of {', '.join(OUTCOMES)}.")
    outcome_from = outcome.get("from")
    outcome_to = outcome.get("to")
    outcome_facilities: tuple[str, ...] = ()
    if kind == "transition":
        for name, value in (("outcome.from", outcome_from), ("outcome.to", outcome_to)):
            if value not in facilities:
                raise MeasureError(f"{where}: {name} names unknown facility '{value}'.")
    elif kind == "entries":
        outcome_facilities = (
            _names(outcome["facility"], "outcome.facility", where) if outcome.get("facility") else treated_facilities
        )
        if not outcome_facilities:
            raise MeasureError(f"{where}: outcome.facility is needed when treated names no facilities.")
        unknown = [f for f in outcome_facilities if f not in facilities]
        if unknown:
            raise MeasureError(f"{where}: outcome.facility names unknown facility '{unknown[0]}'.")
    elif kind == "circulation_rate" and segment is None:
        raise MeasureError(f"{where}: outcome circulation_rate needs treated.segment (the rate is compared across segments).")
    comparison = None
    if doc.get("comparison"):
        declared = doc["comparison"]
        key = {
            "entries": "facilities",
            "transition": "pairs",
            "circulation_rate": "segments",
            "kpi": "segments" if segment is not None else "facilities",
        }[kind]
        if not isinstance(declared, dict) or key not in declared:
            raise MeasureError(f"{where}: comparison must list {key} for outcome {kind}.")
        comparison = _names(declared[key], f"comparison.{key}", where)
        named = [p for pair in comparison for p in pair.split(">")] if key == "pairs" else comparison
        if key in ("facilities", "pairs"):
            bad = [f for f in named if f.strip() not in facilities]
            if bad:
                raise MeasureError(f"{where}: comparison.{key} names unknown facility '{bad[0]}'.")
        elif any(s not in SEGMENTS for s in named):
            raise MeasureError(f"{where}: comparison.segments must be among {', '.join(SEGMENTS)}.")
    return Measure(
        str(doc["name"]),
        str(doc.get("title_ja") or doc["name"]),
        str(doc.get("title_en") or doc["name"]),
        str(doc.get("what_changed") or ""),
        start,
        end,
        treated_facilities,
        segment,
        kind,
        outcome_from,
        outcome_to,
        outcome_facilities,
        comparison,
        where,
    )


# ------------------------------------------------------------------ panels


def _panel(con: duckdb.DuckDBPyConnection, measure: Measure, first: date, last: date) -> tuple[pd.DataFrame, str, set[str]]:
    """(unit, service_date, value, complete) rows; the treated unit's name; units touching the treated ones."""
    frame = run(con, "measures/panel", outcome=measure.outcome, first_service_date=first, last_service_date=last).df()
    if measure.outcome == "transition":
        treated = f"{measure.outcome_from}>{measure.outcome_to}"
        involved = {measure.outcome_from, measure.outcome_to, *measure.treated_facilities}
        touching = {u for u in frame["unit"].unique() if set(u.split(">")) & involved}
        fill_zero = True
    elif measure.outcome == "entries":
        wanted = set(measure.outcome_facilities)
        treated_rows = frame[frame["unit"].isin(wanted)]
        if len(wanted) > 1:  # several treated facilities: their sum is the treated unit
            summed = treated_rows.groupby("service_date", as_index=False).agg(value=("value", "sum"), hidden=("hidden", "any"))
            frame = pd.concat([frame[~frame["unit"].isin(wanted)], summed.assign(unit="+".join(sorted(wanted)))])
        treated = "+".join(sorted(wanted))
        touching = (wanted | set(measure.treated_facilities)) - {treated}
        fill_zero = True
    else:
        treated = str(measure.treated_segment)
        touching = set()
        fill_zero = False
    days = pd.date_range(first, last, freq="D").date
    units = sorted(set(frame["unit"]) | {treated})
    grid = pd.MultiIndex.from_product([units, days], names=["unit", "service_date"]).to_frame(index=False)
    frame["service_date"] = pd.to_datetime(frame["service_date"]).dt.date
    panel = grid.merge(frame, how="left", on=["unit", "service_date"])
    if fill_zero:  # no row: nobody; a hidden row stays unknown
        panel["value"] = panel["value"].where(panel["hidden"].notna(), 0)
        panel["hidden"] = panel["hidden"].fillna(False)
    panel["complete"] = ~panel["hidden"].fillna(True).astype(bool) & panel["value"].notna()
    return panel, treated, touching


def estimate(
    con: duckdb.DuckDBPyConnection, measure: Measure, first_day: date, last_day: date, min_cell_count: int = 10
) -> Estimate:
    if measure.outcome == "kpi":
        return estimate_kpi(con, measure, first_day, last_day, min_cell_count)
    import statsmodels.formula.api as smf

    first = max(first_day, measure.start - timedelta(days=PRE_WINDOW_DAYS))
    last = min(measure.end or last_day, last_day)
    panel, treated, touching = _panel(con, measure, first, last)
    log_scale = measure.outcome != "circulation_rate"
    panel["y"] = np.log1p(panel["value"].astype(float)) if log_scale else panel["value"].astype(float)
    panel["post"] = panel["service_date"] >= measure.start
    complete = panel.groupby("unit")["complete"].all()
    result = Estimate(status="estimated", treated_unit=treated, effect_scale="log" if log_scale else "points")
    if not complete.get(treated, False):
        result.status, result.reason = "not_estimated", f"the outcome '{treated}' is hidden or missing on some days"
        return result
    pre = panel[~panel["post"]]
    result.pre_days, result.post_days = pre["service_date"].nunique(), panel[panel["post"]]["service_date"].nunique()
    if result.post_days < MIN_POST_DAYS:
        result.status, result.reason = "not_estimated", "no day after the start has been built yet"
        return result
    candidates = [u for u in complete.index if complete[u] and u != treated and u not in touching]
    if measure.comparison is not None:
        declared = [u.replace(" ", "") for u in measure.comparison]
        result.comparison_units = [u for u in declared if u in candidates]
        result.comparison_chosen_by = "declared"
    else:
        wide = pre.pivot(index="service_date", columns="unit", values="y")
        level = pre.groupby("unit")["value"].mean()
        usable = [u for u in candidates if not log_scale or level.get(u, 0) >= MIN_DAILY_LEVEL]
        correlation = {u: float(np.corrcoef(wide[treated], wide[u])[0, 1]) for u in usable if wide[u].std() > 0}
        ranked = sorted(correlation, key=lambda u: (-round(correlation[u], 12), u))
        result.comparison_units = ranked[:N_COMPARISON]
        result.comparison_chosen_by = "pre_period_similarity"
    if len(result.comparison_units) < MIN_COMPARISON:
        result.status = "too_few_comparison_units"
        result.reason = (
            f"only {len(result.comparison_units)} comparison unit(s) with every day published "
            f"(at least {MIN_COMPARISON} are needed)"
        )
        return result
    data = panel[panel["unit"].isin([treated, *result.comparison_units])].copy()
    data["treated"] = (data["unit"] == treated).astype(int)
    data["did"] = data["treated"] * data["post"].astype(int)
    data["day"] = data["service_date"].astype(str)
    data["day_number"] = (pd.to_datetime(data["service_date"]) - pd.Timestamp(first)).dt.days
    groups = pd.factorize(data["day"], sort=True)[0]
    fit = smf.ols("y ~ C(unit) + C(day) + did", data=data).fit(cov_type="cluster", cov_kwds={"groups": groups})
    low, high = fit.conf_int().loc["did"]
    result.effect, result.ci_low, result.ci_high = float(fit.params["did"]), float(low), float(high)
    result.p_value = float(fit.pvalues["did"])
    before = data[data["post"] == False].copy()  # noqa: E712
    if before["day"].nunique() >= 3:
        before["trend"] = before["treated"] * before["day_number"]
        trend = smf.ols("y ~ C(unit) + C(day) + trend", data=before).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(before["day"], sort=True)[0]}
        )
        result.pre_trend_slope, result.pre_trend_p_value = float(trend.params["trend"]), float(trend.pvalues["trend"])
    series = data.groupby(["service_date", "treated"], as_index=False)["y"].mean()
    series["group"] = np.where(series["treated"] == 1, "treated", "comparison")
    result.series = series[["service_date", "group", "y"]]
    return result


# ------------------------------------------------------------------ the KPI (survey answers)


def _kpi_answers(con: duckdb.DuckDBPyConnection, measure: Measure, first: date, last: date) -> tuple[pd.DataFrame, str, str]:
    """One row per answer 1-5 in the window: service_date, treated (0/1), satisfied (0/1);
    respondents in neither group are dropped. Also the treated and comparison groups in words."""
    if measure.treated_segment is not None:
        treated_name = f"segment {measure.treated_segment}"
        others = [s for s in SEGMENTS if s not in ("unknown", measure.treated_segment)]
        comparison = [s for s in (measure.comparison or others) if s != measure.treated_segment]
        comparison_name = "segment " + ", ".join(comparison)
        grouping = {"group_by": "segment", "treated_values": [measure.treated_segment], "comparison_values": comparison}
    else:
        treated = list(measure.treated_facilities)
        treated_name = "respondents who visited " + "+".join(treated)
        if measure.comparison is not None:  # visited a declared comparison facility and no treated one
            comparison_name = "respondents who visited " + ", ".join(measure.comparison) + " (none of the treated)"
            grouping = {"group_by": "facility", "treated_values": treated, "comparison_values": list(measure.comparison)}
        else:
            comparison_name = "the other respondents"
            grouping = {"group_by": "facility", "treated_values": treated, "comparison_values": None}
    frame = run(con, "measures/kpi_answers", first_service_date=first, last_service_date=last, **grouping).df()
    frame = frame[frame["treated"].notna()].astype({"treated": int, "satisfied": int})
    frame["service_date"] = pd.to_datetime(frame["service_date"]).dt.date
    return frame, treated_name, comparison_name


def estimate_kpi(
    con: duckdb.DuckDBPyConnection, measure: Measure, first_day: date, last_day: date, min_cell_count: int = 10
) -> Estimate:
    """Difference in differences of the satisfied share, on the respondents themselves.

    A linear probability model ``satisfied ~ treated + after + treated x after`` (statsmodels
    OLS), whose treated x after coefficient is exactly (treated share after - before) minus
    (comparison share after - before), in share points; standard errors are clustered by
    answer day, since a day's weather or crowding touches every respondent of the day. A day
    fixed effect is left out on purpose: with a few dozen answers a day it would absorb most of
    the comparison and leave the estimate to the days that happen to have both groups.
    Pre-trend check: on the answers before the start, ``satisfied ~ treated + week + treated x
    week number``; a slope different from zero (p < 0.05) is reported. The chart's weekly
    shares are kept only where the week's group has at least ``min_cell_count`` satisfied and
    ``min_cell_count`` not-satisfied answers (the series is published).
    """
    import statsmodels.formula.api as smf

    first = max(first_day, measure.start - timedelta(days=KPI_PRE_WINDOW_DAYS))
    last = min(measure.end or last_day, last_day)
    has_survey = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'staging' and table_name = 'stg_survey_response'"
    ).fetchone()[0]
    if not has_survey:
        return Estimate(status="not_estimated", reason="the warehouse holds no survey answers", effect_scale="points")
    answers, treated_name, comparison_name = _kpi_answers(con, measure, first, last)
    result = Estimate(
        status="estimated",
        treated_unit=treated_name,
        comparison_units=[comparison_name],
        comparison_chosen_by="declared" if measure.comparison is not None else "all_others",
        effect_scale="points",
    )
    answers["post"] = (answers["service_date"] >= measure.start).astype(int)
    result.pre_days = int(answers.loc[answers["post"] == 0, "service_date"].nunique())
    result.post_days = int(answers.loc[answers["post"] == 1, "service_date"].nunique())
    cells = answers.groupby(["treated", "post"]).size()
    names = {
        (1, 0): "treated respondents before the start",
        (1, 1): "treated respondents after the start",
        (0, 0): "comparison respondents before the start",
        (0, 1): "comparison respondents after the start",
    }
    for key, words in names.items():
        found = int(cells.get(key, 0))
        if found < MIN_RESPONDENTS:
            result.status = "too_few_respondents"
            result.reason = f"only {found} {words} answered the KPI item (at least {MIN_RESPONDENTS} are needed)"
            return result
    answers["did"] = answers["treated"] * answers["post"]
    groups = pd.factorize(answers["service_date"], sort=True)[0]
    fit = smf.ols("satisfied ~ treated + post + did", data=answers).fit(cov_type="cluster", cov_kwds={"groups": groups})
    low, high = fit.conf_int().loc["did"]
    result.effect, result.ci_low, result.ci_high = float(fit.params["did"]), float(low), float(high)
    result.p_value = float(fit.pvalues["did"])
    before = answers[answers["post"] == 0].copy()
    answered = pd.to_datetime(before["service_date"])
    week_start = answered - pd.to_timedelta(answered.dt.weekday, unit="D")
    before["week"] = week_start.dt.date.astype(str)
    if before["week"].nunique() >= 3:
        before["trend"] = before["treated"] * ((week_start - week_start.min()).dt.days // 7)
        trend = smf.ols("satisfied ~ treated + C(week) + trend", data=before).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(before["service_date"], sort=True)[0]}
        )
        result.pre_trend_slope, result.pre_trend_p_value = float(trend.params["trend"]), float(trend.pvalues["trend"])
    dates = pd.to_datetime(answers["service_date"])
    answers["week_start"] = (dates - pd.to_timedelta(dates.dt.weekday, unit="D")).dt.date
    weekly = answers.groupby(["week_start", "treated"], as_index=False).agg(n=("satisfied", "size"), yes=("satisfied", "sum"))
    weekly = weekly[(weekly["yes"] >= min_cell_count) & (weekly["n"] - weekly["yes"] >= min_cell_count)]
    weekly["group"] = np.where(weekly["treated"] == 1, "treated", "comparison")
    weekly["y"] = weekly["yes"] / weekly["n"]
    result.series = weekly.rename(columns={"week_start": "service_date"})[["service_date", "group", "y"]]
    return result


# ------------------------------------------------------------------ nightly tables

EFFECT_TYPES = {
    "measure": "varchar",
    "title_ja": "varchar",
    "title_en": "varchar",
    "what_changed": "varchar",
    "source_file": "varchar",
    "start_date": "date",
    "end_date": "date",
    "outcome": "varchar",
    "treated_unit": "varchar",
    "comparison_units": "varchar",
    "comparison_chosen_by": "varchar",
    "status": "varchar",
    "reason": "varchar",
    "pre_days": "integer",
    "post_days": "integer",
    "effect": "double",
    "ci_low": "double",
    "ci_high": "double",
    "effect_scale": "varchar",
    "effect_percent": "double",
    "ci_low_percent": "double",
    "ci_high_percent": "double",
    "p_value": "double",
    "pre_trend_slope": "double",
    "pre_trend_p_value": "double",
    "pre_trend_ok": "boolean",
}
#: The columns an Estimate fills under its own field names (its comparison units are joined
#: into one text, its series goes to marts.measure_series).
ESTIMATE_COLUMNS = tuple(f.name for f in fields(Estimate) if f.name not in ("comparison_units", "series"))
SERIES_TYPES = {"measure": "varchar", "service_date": "date", "series_group": "varchar", "value": "double"}


def build_measures(con: duckdb.DuckDBPyConnection, measures_dir: Path, min_cell_count: int = 10) -> dict[str, int]:
    """Estimate every measure file; a refused file is a row with its sentence, not a failure.
    ``min_cell_count`` (k) protects the KPI's published weekly shares."""
    files = sorted(measures_dir.glob("*.yaml")) if measures_dir.is_dir() else []
    present = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name in ('transitions_daily', 'facility_daily', 'circulation_daily')"
    ).fetchone()[0]
    if present < 3:
        return {}
    first_day, last_day = run(con, "measures/built_days").fetchone()
    facilities = {r[0] for r in run(con, "measures/facility_ids").fetchall()}
    effects, series = [], []
    for path in files:
        row: dict[str, object] = {name: None for name in EFFECT_TYPES}
        row.update(measure=path.stem, source_file=f"config/measures/{path.name}")
        try:
            if first_day is None:
                raise MeasureError(f"{path}: the warehouse holds no days yet.")
            measure = parse_measure(path, facilities, first_day, last_day)
        except MeasureError as exc:
            log.warning("measure refused: %s", exc)
            row.update(status="refused", reason=str(exc))
            effects.append(row)
            continue
        found = estimate(con, measure, first_day, last_day, min_cell_count)
        percent = found.effect_percent
        row.update(
            measure=measure.name,
            title_ja=measure.title_ja,
            title_en=measure.title_en,
            what_changed=measure.what_changed,
            start_date=measure.start,
            end_date=measure.end,
            outcome=_outcome_label(measure),
            comparison_units=", ".join(found.comparison_units) or None,
            effect_percent=percent[0],
            ci_low_percent=percent[1],
            ci_high_percent=percent[2],
            pre_trend_ok=None if found.pre_trend_p_value is None else found.pre_trend_p_value >= 0.05,
            **{name: getattr(found, name) for name in ESTIMATE_COLUMNS},
        )
        effects.append(row)
        if found.series is not None:
            series.append(found.series.rename(columns={"group": "series_group", "y": "value"}).assign(measure=measure.name))
    effect_frame = pd.DataFrame(effects, columns=list(EFFECT_TYPES))
    for column in (
        "effect",
        "ci_low",
        "ci_high",
        "effect_percent",
        "ci_low_percent",
        "ci_high_percent",
        "p_value",
        "pre_trend_slope",
        "pre_trend_p_value",
    ):
        effect_frame[column] = pd.to_numeric(effect_frame[column]).round(6)
    series_frame = pd.concat(series, ignore_index=True) if series else pd.DataFrame(columns=list(SERIES_TYPES))
    series_frame["value"] = pd.to_numeric(series_frame["value"]).round(6)
    return {
        EFFECTS_TABLE: replace_with_frame(con, EFFECTS_TABLE, EFFECT_TYPES, effect_frame),
        SERIES_TABLE: replace_with_frame(con, SERIES_TABLE, SERIES_TYPES, series_frame),
    }


def _outcome_label(measure: Measure) -> str:
    if measure.outcome == "transition":
        return f"transition {measure.outcome_from}>{measure.outcome_to}"
    if measure.outcome == "entries":
        return f"entries {'+'.join(measure.outcome_facilities)}"
    if measure.outcome == "kpi":
        treated = measure.treated_segment or "+".join(measure.treated_facilities)
        return f"kpi info_satisfaction {treated}"
    return f"circulation_rate {measure.treated_segment}"
