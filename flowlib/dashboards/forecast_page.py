"""Look-ahead pages: the crowding forecast per facility (``forecast/index.html``) and the KPI's
path to 2027 with its drivers (``forecast/kpi.html``), plus the index's look-ahead section
(the next 7 days' busiest facility-hours, cruise calls marked, the KPI series chart, and the
weighted "all" KPI with the unweighted one and the Kish effective n in the index's KPI panel).

Charts are inline SVG drawn here: no script and no remote asset, so the pages open on the
closed network like every other page, and they print. Japanese first, English beside it
(the ``bi`` macro).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import markupsafe
import pandas as pd

from flowlib.assets import OWN_CSS, OWN_JS
from flowlib.dashboards.daily import NavLink
from flowlib.dashboards.publish import render_template, write_page
from flowlib.queries import run

FOLDER = "forecast"
BUSIEST_HOURS = 10
INDEX_DAYS = 7
DAY_CLASS_LABELS = {
    "weekday": ("平日", "weekday"),
    "weekend_holiday": ("土日祝", "weekend/holiday"),
    "cruise": ("客船寄港日", "cruise call"),
}
STATUS_LABELS = {"on track": ("計画どおり", "on track"), "ahead": ("計画より上", "ahead"), "behind": ("計画より下", "behind")}
DRIVER_LABELS = {
    "info_source": ("利用した情報源", "Information source"),
    "form_language": ("回答言語", "Form language"),
    "facility_visited": ("訪問した施設", "Facility visited"),
}
SEGMENT_LABELS = {"domestic": ("国内", "domestic"), "international": ("訪日外国人", "international"), "all": ("全体", "all")}


@dataclass
class Lookahead:
    daily: pd.DataFrame
    hourly: pd.DataFrame
    backtest: pd.DataFrame
    cruise: pd.DataFrame
    kpi_monthly: pd.DataFrame
    kpi_years: pd.DataFrame
    drivers: pd.DataFrame
    names: dict[str, tuple[str, str]] = field(default_factory=dict)


def _frame(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """The page query's rows; empty when its mart is not built yet."""
    try:
        return run(con, f"pages/{name}").df()
    except duckdb.CatalogException:
        return pd.DataFrame()


def load_lookahead(con: duckdb.DuckDBPyConnection) -> Lookahead:
    """Everything the look-ahead pages show, from the marts (empty frames when not built yet)."""
    names = {row[0]: (row[1] or row[0], row[2] or row[1] or row[0]) for row in run(con, "pages/facility_names").fetchall()}
    return Lookahead(
        daily=_frame(con, "lookahead_daily"),
        hourly=_frame(con, "lookahead_hourly"),
        backtest=_frame(con, "lookahead_backtest"),
        cruise=_frame(con, "lookahead_cruise"),
        kpi_monthly=_frame(con, "lookahead_kpi_monthly"),
        kpi_years=_frame(con, "lookahead_kpi_years"),
        drivers=_frame(con, "lookahead_drivers"),
        names=names,
    )


# ----------------------------------------------------------------------------- SVG


def _fmt(value: float, digits: int = 0) -> str:
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


def _pct(value: float) -> str:
    return "—" if value is None or pd.isna(value) or not math.isfinite(float(value)) else f"{100 * float(value):.1f}%"


def _count(value: Any) -> str:
    """A count as published: hidden cells (null after protection) say so, never 0."""
    return "秘匿 / hidden" if value is None or pd.isna(value) else f"{int(value):,}"


def _flag(value: Any) -> bool:
    return bool(value) if value is not None and not pd.isna(value) else False


def band_chart(rows: pd.DataFrame, width: int = 640, height: int = 200) -> markupsafe.Markup:
    """Daily forecast with its 95 % and 80 % bands; cruise-call days get a ship marker."""
    rows = rows[rows["status"] == "forecast"]
    if rows.empty:
        return markupsafe.Markup("")
    left, right, top, bottom = 48, 8, 10, 34
    n = len(rows)
    top_value = max(float(rows["hi95"].max()), 1.0) * 1.05
    x = lambda i: left + (width - left - right) * (i + 0.5) / n  # noqa: E731
    y = lambda v: top + (height - top - bottom) * (1 - float(v) / top_value)  # noqa: E731
    parts = [
        f'<svg class="forecast-chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg" width="100%">'
    ]
    for level, cls in (("95", "band95"), ("80", "band80")):
        upper = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(rows[f"hi{level}"])]
        lower = [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(rows[f"lo{level}"])))]
        parts.append(
            f'<polygon class="{cls}" points="{" ".join(upper + lower)}" fill="{"#cfe2ff" if level == "95" else "#9ec5fe"}"/>'
        )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(rows["forecast"]))
    parts.append(f'<polyline class="point" points="{line}" fill="none" stroke="#0a58ca" stroke-width="2"/>')
    for tick in (0, top_value / 2, top_value / 1.05):
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="10">{_fmt(tick)}</text>')
    for i, row in enumerate(rows.itertuples(index=False)):
        day = pd.Timestamp(row.forecast_date)
        parts.append(f'<text x="{x(i):.1f}" y="{height - 20}" text-anchor="middle" font-size="9">{day:%m/%d}</text>')
        if row.day_class == "cruise":
            parts.append(
                f'<text class="cruise-mark" x="{x(i):.1f}" y="{height - 6}" text-anchor="middle" '
                f'font-size="10" fill="#b02a37">⚓ {int(row.cruise_capacity):,}</text>'
            )
    parts.append("</svg>")
    return markupsafe.Markup("".join(parts))


def kpi_chart(monthly: pd.DataFrame, width: int = 720, height: int = 240) -> markupsafe.Markup:
    """Monthly share per segment with 95 % intervals, and the straight path to the target."""
    rows = monthly[monthly["segment"].isin(["domestic", "international"])]
    if rows.empty:
        return markupsafe.Markup("")
    months = sorted(rows["month"].unique())
    left, right, top, bottom = 40, 8, 10, 30
    low, high = 0.4, 0.85
    n = len(months)
    x = lambda i: left + (width - left - right) * (i + 0.5) / n  # noqa: E731
    y = lambda v: top + (height - top - bottom) * (1 - (float(v) - low) / (high - low))  # noqa: E731
    colours = {"domestic": "#0a58ca", "international": "#b02a37"}
    parts = [f'<svg class="kpi-chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg" width="100%">']
    for tick in (0.4, 0.5, 0.6, 0.7, 0.8):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="10">{int(tick * 100)}%</text>'
        )
    for segment, colour in colours.items():
        own = rows[rows["segment"] == segment].set_index("month")
        path = [
            f"{x(i):.1f},{y(own.loc[m, 'path_share']):.1f}"
            for i, m in enumerate(months)
            if m in own.index and math.isfinite(own.loc[m, "path_share"])
        ]
        if path:
            parts.append(
                f'<polyline class="path-{segment}" points="{" ".join(path)}" fill="none" stroke="{colour}" '
                'stroke-dasharray="4 3" stroke-width="1"/>'
            )
        for i, month in enumerate(months):
            if month not in own.index or own.loc[month, "too_few_answers"]:
                continue
            r = own.loc[month]
            parts.append(
                f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(r.ci_low):.1f}" y2="{y(r.ci_high):.1f}" stroke="{colour}"/>'
                f'<circle class="share-{segment}" cx="{x(i):.1f}" cy="{y(r.share):.1f}" r="3" '
                f'fill="{"white" if r.is_month_to_date else colour}" stroke="{colour}"/>'
            )
    for i, month in enumerate(months):
        if i % max(1, n // 12) == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="9">{pd.Timestamp(month):%Y-%m}</text>'
            )
    parts.append("</svg>")
    return markupsafe.Markup("".join(parts))


# ----------------------------------------------------------------------------- views


def _cruise_days(look: Lookahead) -> dict[date, str]:
    if look.cruise.empty:
        return {}
    return {
        pd.Timestamp(r.service_date).date(): f"{r.ships} ({int(r.passenger_capacity):,})"
        for r in look.cruise.itertuples(index=False)
    }


def busiest_hours(look: Lookahead, days: int = INDEX_DAYS, top: int = BUSIEST_HOURS) -> list[dict[str, Any]]:
    """The ``top`` facility-hours with the highest forecast over the next ``days`` days."""
    if look.hourly.empty or look.daily.empty:
        return []
    origin = pd.Timestamp(look.daily["forecast_origin"].min())
    window = look.hourly[pd.to_datetime(look.hourly["forecast_date"]) <= origin + pd.Timedelta(days=days)]
    window = window.sort_values(
        ["forecast", "forecast_date", "facility_id", "hour_of_day"], ascending=[False, True, True, True]
    ).head(top)
    cruise = _cruise_days(look)
    out = []
    for row in window.itertuples(index=False):
        day = pd.Timestamp(row.forecast_date).date()
        ja, en = look.names.get(row.facility_id, (row.facility_id, row.facility_id))
        out.append(
            {
                "date": f"{day:%m/%d}（{'月火水木金土日'[day.weekday()]}）",
                "date_en": f"{day:%a %d %b}",
                "hour": f"{row.hour_of_day:02d}:00",
                "facility_ja": ja,
                "facility_en": en,
                "forecast": _fmt(row.forecast),
                "interval": f"{_fmt(row.lo80)}–{_fmt(row.hi80)}",
                "cruise": cruise.get(day),
                "anchor": f"f-{row.facility_id}",
            }
        )
    return out


def facility_views(look: Lookahead) -> list[dict[str, Any]]:
    views = []
    backtest = look.backtest.set_index(["source_kind", "facility_id"]) if not look.backtest.empty else None
    for (kind, facility), rows in look.daily.groupby(["source_kind", "facility_id"], sort=True):
        ja, en = look.names.get(facility, (facility, facility))
        stated = rows[rows["status"] != "forecast"]
        accuracy = None
        if backtest is not None and (kind, facility) in backtest.index:
            b = backtest.loc[(kind, facility)]
            accuracy = {
                "mase": _fmt(b.mase, 2),
                "relative": _fmt(b.relative_mae, 2),
                "c80": _pct(b.coverage80),
                "c95": _pct(b.coverage95),
                "points": int(b.points),
            }
        views.append(
            {
                "anchor": f"f-{facility}",
                "kind": kind,
                "facility_id": facility,
                "name_ja": ja,
                "name_en": en,
                "chart": band_chart(rows),
                "all_stated": stated["status"].nunique() == 1 and len(stated) == len(rows),
                "reason_ja": stated["reason_ja"].iloc[0] if len(stated) else "",
                "reason_en": stated["reason_en"].iloc[0] if len(stated) else "",
                "rows": [
                    {
                        "date": f"{pd.Timestamp(r.forecast_date):%Y-%m-%d}（{'月火水木金土日'[pd.Timestamp(r.forecast_date).weekday()]}）",
                        "class_ja": DAY_CLASS_LABELS[r.day_class][0],
                        "class_en": DAY_CLASS_LABELS[r.day_class][1],
                        "cruise": int(r.cruise_capacity),
                        "status": r.status,
                        "reason_ja": r.reason_ja,
                        "reason_en": r.reason_en,
                        "forecast": _fmt(r.forecast),
                        "i80": f"{_fmt(r.lo80)}–{_fmt(r.hi80)}",
                        "i95": f"{_fmt(r.lo95)}–{_fmt(r.hi95)}",
                    }
                    for r in rows.itertuples(index=False)
                ],
                "accuracy": accuracy,
            }
        )
    return views


def kpi_views(look: Lookahead) -> dict[str, Any]:
    monthly = look.kpi_monthly
    rows = []
    for r in monthly.itertuples(index=False) if not monthly.empty else []:
        ja, en = SEGMENT_LABELS[r.segment]
        rows.append(
            {
                "month": r.month_label,
                "segment_ja": ja,
                "segment_en": en,
                "weighting": r.weighting,
                "mtd": bool(r.is_month_to_date),
                "respondents": _count(r.respondents),
                "share": "回答数不足 / too few" if r.too_few_answers else _pct(r.share),
                "ci": "" if r.too_few_answers else f"{_pct(r.ci_low)}–{_pct(r.ci_high)}",
                "n_eff": _fmt(r.effective_n),
                "path": _pct(r.path_share),
                "mom": _change(r.mom_change, r.mom_significant),
                "yoy": _change(r.yoy_change, r.yoy_significant),
            }
        )
    years = []
    for r in look.kpi_years.itertuples(index=False) if not look.kpi_years.empty else []:
        ja, en = SEGMENT_LABELS[r.segment]
        status = STATUS_LABELS.get(r.status, (r.status_ja, r.status))
        years.append(
            {
                "year": r.fiscal_year_label + ("（年度途中）" if r.is_year_to_date else ""),
                "segment_ja": ja,
                "segment_en": en,
                "share": _pct(r.share),
                "ci": f"{_pct(r.ci_low)}–{_pct(r.ci_high)}",
                "path": _pct(r.path_share),
                "p": "—" if not math.isfinite(r.p_value) else f"{r.p_value:.3g}",
                "status_ja": status[0],
                "status_en": status[1],
                "status": r.status,
            }
        )
    test = look.kpi_years["test"].iloc[0] if not look.kpi_years.empty else ""
    change_test = monthly["change_test"].iloc[0] if not monthly.empty else ""
    return {
        "chart": kpi_chart(monthly) if not monthly.empty else markupsafe.Markup(""),
        "rows": rows,
        "years": years,
        "test": test,
        "change_test": change_test,
    }


def weighted_kpi(monthly: pd.DataFrame) -> dict[str, Any] | None:
    """The index's headline KPI: the latest month's "all" share post-stratified to the measured
    visitor mix, with the unweighted share and the Kish effective n beside it.

    Read from ``marts.kpi_path_monthly`` as the KPI path page shows it: the one computation is
    ``flowlib.kpi_path.build_path`` (``weighted_all``); nothing is re-estimated here. The month
    is the latest whose weighted share has enough answers (month to date labelled as such).
    None when no month has one.
    """
    if monthly.empty:
        return None
    rows = monthly[monthly["segment"] == "all"]
    weighted = rows[(rows["weighting"] == "post-stratified") & ~rows["too_few_answers"].astype(bool)]
    if weighted.empty:
        return None
    w = weighted.sort_values("month").iloc[-1]
    same_month = rows[(rows["weighting"] == "unweighted") & (rows["month"] == w["month"])]
    u = same_month.iloc[0] if len(same_month) else None
    unweighted_shown = u is not None and not bool(u["too_few_answers"])
    return {
        "month": w["month_label"],
        "mtd": bool(w["is_month_to_date"]),
        "share": _pct(w["share"]),
        "ci": f"{_pct(w['ci_low'])}–{_pct(w['ci_high'])}",
        "n_eff": _fmt(w["effective_n"]),
        "respondents": _count(w["respondents"]),
        "mix_domestic": _pct(w["mix_domestic"]),
        "mix_basis": w["mix_basis"],
        "unweighted": _pct(u["share"]) if unweighted_shown else "—",
        "unweighted_ci": f"{_pct(u['ci_low'])}–{_pct(u['ci_high'])}" if unweighted_shown else "",
    }


def _change(value: float, significant: Any) -> str:
    if value is None or pd.isna(value) or not math.isfinite(float(value)):
        return "—"
    mark = " *" if significant is True or significant == 1 else ""
    return f"{100 * float(value):+.1f} pt{mark}"


def driver_views(look: Lookahead) -> list[dict[str, Any]]:
    if look.drivers.empty:
        return []
    latest = look.drivers["period_start"].max()
    frame = look.drivers[(look.drivers["period_start"] == latest) & (look.drivers["segment"].isin(["domestic", "international"]))]
    out = []
    for (segment, kind), rows in frame.groupby(["segment", "driver_type"], sort=True):
        ja, en = SEGMENT_LABELS[segment]
        kja, ken = DRIVER_LABELS.get(kind, (kind, kind))
        out.append(
            {
                "period": rows["period"].iloc[0],
                "segment_ja": ja,
                "segment_en": en,
                "kind_ja": kja,
                "kind_en": ken,
                "rows": [
                    {
                        "value": r.driver_value,
                        "respondents": _count(r.respondents),
                        "share": "回答数不足 / too few" if _flag(r.too_few_answers) else _pct(r.share),
                        "ci": "" if _flag(r.too_few_answers) else f"{_pct(r.ci_low)}–{_pct(r.ci_high)}",
                        "gap": _change(r.gap_vs_segment, False),
                        "largest": _flag(r.largest_gap),
                    }
                    for r in rows.itertuples(index=False)
                ],
            }
        )
    return out


# ----------------------------------------------------------------------------- pages


def _page(title_ja: str, title_en: str, assets: str) -> dict[str, Any]:
    return {
        "stylesheets": [f"{assets}/bootstrap/bootstrap.min.css", f"{assets}/{OWN_CSS}"],
        "scripts": [f"{assets}/{OWN_JS}"],
        "title_ja": title_ja,
        "title_en": title_en,
        "nav_links": [
            NavLink("../index.html", "一覧", "All pages"),
            NavLink("index.html", "混雑予測", "Crowding forecast"),
            NavLink("kpi.html", "KPIの推移", "KPI path"),
        ],
    }


def render_forecast_page(look: Lookahead) -> str:
    note = look.daily[["note_ja", "note_en"]].iloc[0].tolist() if not look.daily.empty else ["", ""]
    page = _page("混雑予測（今後14日間）", "Crowding forecast (next 14 days)", "../assets")
    page.update(
        {
            "origin": f"{pd.Timestamp(look.daily['forecast_origin'].min()):%Y-%m-%d}" if not look.daily.empty else None,
            "model": look.daily["model"].iloc[0] if not look.daily.empty else "",
            "note_ja": note[0],
            "note_en": note[1],
            "facilities": facility_views(look),
            "busiest": busiest_hours(look),
            "overall": [
                {
                    "kind": r.source_kind,
                    "mase": _fmt(r.mase, 2),
                    "relative": _fmt(r.relative_mae, 2),
                    "c80": _pct(r.coverage80),
                    "c95": _pct(r.coverage95),
                    "points": int(r.points),
                    "hc80": _pct(getattr(r, "hourly_coverage80", None)),
                    "hc95": _pct(getattr(r, "hourly_coverage95", None)),
                    "hours": _count(getattr(r, "hourly_points", None)),
                }
                for r in look.backtest.itertuples(index=False)
                if r.facility_id == "(all)"
            ]
            if not look.backtest.empty
            else [],
            "cruise": [
                {
                    "date": f"{pd.Timestamp(r.service_date):%Y-%m-%d}",
                    "ships": r.ships,
                    "capacity": f"{int(r.passenger_capacity):,}",
                    "hours": f"{pd.Timestamp(r.first_arrival):%H:%M}–{pd.Timestamp(r.last_departure):%H:%M}",
                }
                for r in look.cruise.itertuples(index=False)
                if not look.daily.empty and pd.Timestamp(r.service_date) > pd.Timestamp(look.daily["forecast_origin"].min())
            ],
        }
    )
    return render_template("forecast.html", page=page)


#: (Japanese, English) name of the indicator and its plan's (baseline, target) years, both
#: None when the indicator definition declares no plan (FLOW_INDICATOR_FILE)
DEFAULT_LABELS = ("旅ナカでの情報取得満足度", "In-trip information satisfaction")
DEFAULT_PLAN: tuple[int | None, int | None] = (2023, 2027)


def render_kpi_page(
    look: Lookahead, labels: tuple[str, str] = DEFAULT_LABELS, plan: tuple[int | None, int | None] = DEFAULT_PLAN
) -> str:
    baseline_year, target_year = plan
    if baseline_year is not None and target_year is not None:
        page = _page(
            f"{labels[0]}の推移と{target_year}年目標への道筋", f"{labels[1]}: the path to the {target_year} target", "../assets"
        )
    else:
        page = _page(f"{labels[0]}の推移", f"{labels[1]} by month", "../assets")
    page.update(
        {
            "kpi": kpi_views(look),
            "drivers": driver_views(look),
            "baseline_year": baseline_year,
            "target_year": target_year,
            "has_plan": baseline_year is not None and target_year is not None,
        }
    )
    return render_template("kpi.html", page=page)


def index_view(
    look: Lookahead, labels: tuple[str, str] = DEFAULT_LABELS, plan: tuple[int | None, int | None] = DEFAULT_PLAN
) -> dict[str, Any] | None:
    """The index's look-ahead section; None when nothing has been forecast yet."""
    if look.daily.empty and look.kpi_monthly.empty:
        return None
    return {
        "kpi_label_ja": labels[0],
        "kpi_label_en": labels[1],
        "has_plan": None not in plan,
        "busiest": busiest_hours(look),
        "kpi_chart": kpi_chart(look.kpi_monthly) if not look.kpi_monthly.empty else None,
        "kpi_weighted": weighted_kpi(look.kpi_monthly),
        "href": f"{FOLDER}/index.html",
        "kpi_href": f"{FOLDER}/kpi.html",
        "origin": f"{pd.Timestamp(look.daily['forecast_origin'].min()):%Y-%m-%d}" if not look.daily.empty else None,
    }


def write_lookahead_pages(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    labels: tuple[str, str] = DEFAULT_LABELS,
    plan: tuple[int | None, int | None] = DEFAULT_PLAN,
) -> dict[str, Any] | None:
    """Write forecast/index.html and forecast/kpi.html; return the index section (None if nothing yet)."""
    look = load_lookahead(con)
    view = index_view(look, labels, plan)
    if view is None:
        return None
    write_page(out_dir / FOLDER / "index.html", render_forecast_page(look))
    write_page(out_dir / FOLDER / "kpi.html", render_kpi_page(look, labels, plan))
    return view
