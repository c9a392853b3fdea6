"""Pages for acting on circulation (issue 14): spending, all visitors, opportunities, measures.

Each page is plain bilingual HTML (tables, inline SVG charts, no script beyond the shared
language switch), written to ``dashboards/action/<name>.html`` from published marts only,
so every figure on it is as suppressed as the open data. A page whose marts are missing
is not written (and not linked); a section without rows says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import markupsafe

from flowlib.assets import OWN_CSS, OWN_JS
from flowlib.config import Settings
from flowlib.dashboards.daily import NavLink
from flowlib.dashboards.loaders import load_facilities
from flowlib.dashboards.page_data import Facility
from flowlib.dashboards.page_sql import page_rows, page_value, table_exists
from flowlib.dashboards.publish import esc, render_template, write_page

log = logging.getLogger(__name__)
ACTION_DIR = "action"


@dataclass(frozen=True)
class Column:
    ja: str
    en: str
    num: bool = False


@dataclass
class Section:
    id: str
    title_ja: str
    title_en: str
    columns: list[Column] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    chart: markupsafe.Markup | None = None
    empty_ja: str = "公表できる行がありません。"
    empty_en: str = "No publishable rows."


@dataclass
class Page:
    name: str
    title_ja: str
    title_en: str
    intro_ja: str
    intro_en: str
    sections: list[Section]


# ------------------------------------------------------------------ headers

# Headers several tables share: a figure is named alike wherever it stands, and its wording
# changes in one place.
FACILITY = Column("施設", "Facility")
SEGMENT = Column("区分", "Segment")
TOURISM_DAY = Column("観光日", "Tourism day")
MOVE = Column("移動", "Move")
ROUTE = Column("ルート", "Route")
MEASURED_BY = Column("測定", "Measured by")
BASIS = Column("根拠", "Basis")
VISITORS = Column("来訪者", "Visitors", True)
PEOPLE = Column("人数", "Visitors", True)
CARD_PAYERS = Column("カード決済の来訪者", "Card payers", True)
ALL_VISITORS_ESTIMATE = Column("全来訪者（推計）", "All visitors (estimate)", True)
INTERVAL_95 = Column("95%区間", "95 % interval", True)
MOVES = Column("移動数", "Moves", True)
PAID_ADMISSIONS = Column("有料入場", "Paid admissions", True)
REVENUE_JPY = Column("入館料収入（円）", "Revenue (yen)", True)
PER_VISITOR_DAY_JPY = Column("1人1日あたり（円）", "Per visitor-day (yen)", True)


# ------------------------------------------------------------------ cells


def text(value: object) -> dict[str, Any]:
    return {"text": "—" if value is None else str(value)}


def both(ja: str, en: str) -> dict[str, Any]:
    return {"ja": ja, "en": en}


def number(value: float | int | None, digits: int = 0, *, suppressed: bool = False, suffix: str = "") -> dict[str, Any]:
    if suppressed:
        return {"suppressed": True, "num": True}
    if value is None:
        return {"text": "—", "num": True}
    return {"text": f"{value:,.{digits}f}{suffix}", "num": True}


def share(value: float | None, *, suppressed: bool = False) -> dict[str, Any]:
    return number(None if value is None else value * 100, 1, suppressed=suppressed, suffix="%")


def facility_cell(facilities: dict[str, Facility], facility_id: str | None) -> dict[str, Any]:
    if facility_id is None:
        return text(None)
    found = facilities.get(facility_id)
    return both(found.name_ja, found.name_en) if found else text(facility_id)


def route_cell(facilities: dict[str, Facility], route: str | None) -> dict[str, Any]:
    if not route:
        return text(None)
    stops = [facilities.get(s) for s in route.split(" > ")]
    ids = route.split(" > ")
    return both(
        " → ".join(f.name_ja if f else i for f, i in zip(stops, ids)),
        " → ".join(f.name_en if f else i for f, i in zip(stops, ids)),
    )


def bar_chart(bars: Sequence[tuple[str, float | None]], unit: str, width: int = 640) -> markupsafe.Markup:
    """Horizontal bars as inline SVG (no script, no remote asset); labels are escaped."""
    shown = [(label, value) for label, value in bars if value is not None]
    if not shown:
        return markupsafe.Markup("")
    top = max(abs(v) for _, v in shown) or 1.0
    row, label_width = 22, 220
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(shown) + 8}" role="img">']
    for i, (label, value) in enumerate(shown):
        y = 4 + i * row
        length = (width - label_width - 90) * abs(value) / top
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12">{esc(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="#0b5394"/>')
        parts.append(
            f'<text x="{label_width + length + 4:.1f}" y="{y + 15}" font-size="12">{esc(f"{value:,.0f}")} {esc(unit)}</text>'
        )
    parts.append("</svg>")
    return markupsafe.Markup("".join(parts))


# ------------------------------------------------------------------ spending


def _latest_period(con: duckdb.DuckDBPyConnection, query: str) -> tuple[str, Any, str] | None:
    """The latest complete month, else ISO week, else day of a roll-up mart (``query`` names the
    page query that finds it): (grain, start, label)."""
    for grain in ("month", "iso_week", "day"):
        rows = page_rows(con, query, period_grain=grain)
        if rows:
            return grain, rows[0]["period_start"], rows[0]["period_label"]
    return None


def spending_page(con: duckdb.DuckDBPyConnection, facilities: dict[str, Facility], k: int) -> Page | None:
    if not (table_exists(con, "marts.spending_by_period") and table_exists(con, "marts.spending_routes_by_period")):
        return None
    latest = _latest_period(con, "spending_latest_period")
    sections: list[Section] = []
    label = latest[2] if latest else "—"
    if latest:
        grain, start, label = latest
        cells = page_rows(con, "spending_cells", period_grain=grain, period_start=start)
        per_facility = [r for r in cells if r["segment_kind"] == "all" and r["facility_id"] != "all"]
        columns = [
            FACILITY,
            VISITORS,
            PAID_ADMISSIONS,
            REVENUE_JPY,
            PER_VISITOR_DAY_JPY,
            Column("有料入場1件あたり（円）", "Per paid admission (yen)", True),
        ]

        def figures(r: dict[str, Any]) -> list[dict[str, Any]]:
            hidden = bool(r["is_suppressed"])
            return [
                number(r["visitors"], suppressed=hidden),
                number(r["paid_admissions"], suppressed=hidden),
                number(r["revenue_jpy"], suppressed=hidden),
                number(r["revenue_per_visitor_day"], suppressed=hidden),
                number(r["revenue_per_paid_admission"], suppressed=hidden),
            ]

        sections.append(
            Section(
                "by-facility",
                f"施設別の入館料収入（{label}）",
                f"Admission revenue per facility ({label})",
                columns,
                [
                    {"key": r["facility_id"], "cells": [facility_cell(facilities, r["facility_id"]), *figures(r)]}
                    for r in per_facility
                ],
                notes=[
                    (
                        "「—」は、期間内に秘匿した日があるため合計を公表しない値です（引き算で秘匿値が分からないように）。",
                        "'—' marks a period total withheld because one of its days is suppressed (so that no hidden day "
                        "can be recovered by subtraction).",
                    )
                ],
                chart=bar_chart(
                    [
                        (
                            facilities[r["facility_id"]].name_ja if r["facility_id"] in facilities else r["facility_id"],
                            r["revenue_jpy"],
                        )
                        for r in per_facility
                        if not r["is_suppressed"]
                    ],
                    "円",
                ),
            )
        )
        segment_names = {
            "all": ("全体", "All"),
            "domestic": ("国内発行カード", "Cards issued in Japan"),
            "international": ("海外発行カード", "Cards issued abroad"),
            "unknown": ("発行国不明", "Issuer unknown"),
        }
        city = [r for r in cells if r["facility_id"] == "all"]
        sections.append(
            Section(
                "by-segment",
                f"居住地・券種別（全施設、{label}）",
                f"By residence and ticket type (all facilities, {label})",
                [SEGMENT, *columns[1:]],
                [
                    {
                        "key": f"{r['segment_kind']}:{r['segment']}",
                        "cells": [both(*segment_names.get(r["segment"], (r["segment"], r["segment"]))), *figures(r)],
                    }
                    for r in city
                ],
                notes=[("券種はその日の最初の入場の券種です。", "Ticket type is that of the day's first admission.")],
            )
        )
        spend = page_rows(con, "spending_routes", period_grain=grain, period_start=start)
        unit_columns = [
            VISITORS,
            Column("有料入場／人日", "Paid admissions per visitor-day", True),
            Column("収入／人日（円）", "Revenue per visitor-day (yen)", True),
        ]
        sections.append(
            Section(
                "by-first-facility",
                f"1日の最初の施設別（{label}）",
                f"By first facility of the day ({label})",
                [Column("最初の施設", "First facility"), *unit_columns],
                [
                    {
                        "key": r["facility_id"],
                        "cells": [
                            facility_cell(facilities, r["facility_id"]),
                            number(r["visitors"], suppressed=r["is_suppressed"]),
                            number(r["paid_admissions_per_unit"], 2, suppressed=r["is_suppressed"]),
                            number(r["revenue_per_unit_jpy"], suppressed=r["is_suppressed"]),
                        ],
                    }
                    for r in spend
                    if r["breakdown"] in ("first_facility", "all")
                ],
                notes=[
                    (
                        "どの施設から1日を始めた来訪者が、その日に多く有料施設に入ったかを示します（相関であり、因果ではありません）。",
                        "Which first facility of the day goes with more paid admissions that day (association, not effect).",
                    )
                ],
            )
        )
        routes = [r for r in spend if r["breakdown"] == "route" and not r["is_suppressed"]]
        sections.append(
            Section(
                "by-route",
                f"周遊ルート別 1周遊あたり収入（上位20、{label}）",
                f"Revenue per trip by route (top 20, {label})",
                [
                    ROUTE,
                    Column("周遊数", "Trips", True),
                    Column("有料入場／周遊", "Paid admissions per trip", True),
                    Column("収入／周遊（円）", "Revenue per trip (yen)", True),
                ],
                [
                    {
                        "key": r["route"],
                        "cells": [
                            route_cell(facilities, r["route"]),
                            number(r["trips"]),
                            number(r["paid_admissions_per_unit"], 2),
                            number(r["revenue_per_unit_jpy"]),
                        ],
                    }
                    for r in routes[:20]
                ],
                notes=[(f"{k}人未満のルートは載せていません。", f"Routes with fewer than {k} visitors are not listed.")],
            )
        )
    days = page_rows(con, "spending_days")
    sections.append(
        Section(
            "by-day",
            "日別（全施設）",
            "Per day (all facilities)",
            [
                TOURISM_DAY,
                Column("延べ来訪者日", "Visitor-days", True),
                PAID_ADMISSIONS,
                REVENUE_JPY,
                PER_VISITOR_DAY_JPY,
            ],
            [
                {
                    "key": str(r["period_start"]),
                    "cells": [
                        text(r["period_start"]),
                        number(r["visitor_days"], suppressed=r["is_suppressed"]),
                        number(r["paid_admissions"], suppressed=r["is_suppressed"]),
                        number(r["revenue_jpy"], suppressed=r["is_suppressed"]),
                        number(r["revenue_per_visitor_day"], suppressed=r["is_suppressed"]),
                    ],
                }
                for r in days
            ],
        )
    )
    return Page(
        "spending",
        "消費喚起：入館料収入",
        "Spending: admission revenue",
        "キャッシュレス決済の入館料（POS の金額）から集計しています。現金払いは含まれないため、実際の収入はこれより多くなります"
        "（「全来訪者の推計」ページのキャッシュレス比率を参照）。k人未満のセルは秘匿しています。",
        "From the POS amounts of cashless admissions. Cash payments are not included, so actual revenue is higher "
        "(see the cashless share on the all-visitors page). Cells with fewer than k people are suppressed.",
        sections,
    )


# ------------------------------------------------------------------ all visitors

STATUS = {
    "reported": ("報告値（入館者数）", "reported total"),
    "estimated": ("推計", "estimate"),
    "no_totals": ("入館者数の報告なし（推計しません）", "no totals reported (not estimated)"),
    "suppressed": ("秘匿", "suppressed"),
    "inconsistent_report": ("報告値がカード入場より少ない（要確認）", "report below card admissions (check)"),
}


def _status(status: str | None) -> dict[str, Any]:
    if status and status.startswith("no_totals: "):
        ja, en = STATUS["no_totals"]
        return both(f"{ja}: {status.split(': ', 1)[1]}", f"{en}: {status.split(': ', 1)[1]}")
    return both(*STATUS.get(status or "", (status or "—", status or "—")))


def _interval(low: int | None, high: int | None) -> dict[str, Any]:
    return text(None) if low is None else {"text": f"{low:,} – {high:,}", "num": True}


def all_visitors_page(con: duckdb.DuckDBPyConnection, facilities: dict[str, Facility], k: int) -> Page | None:
    from flowlib.expansion import FACILITY_TABLE, FLOWS_TABLE

    if not (table_exists(con, FACILITY_TABLE) and table_exists(con, FLOWS_TABLE)):
        return None
    latest = page_value(con, "all_visitors_latest_day")
    sections: list[Section] = []
    cells = page_rows(con, "all_visitors_facilities", service_date=latest)
    sections.append(
        Section(
            "facilities",
            f"施設別 全来訪者の推計（{latest}）",
            f"All visitors per facility ({latest})",
            [
                FACILITY,
                CARD_PAYERS,
                Column("入館者数（報告）", "Reported admissions", True),
                Column("キャッシュレス比率", "Cashless share", True),
                Column("比率の95%区間", "Share 95 % interval", True),
                Column("全来訪者", "All visitors", True),
                INTERVAL_95,
                BASIS,
            ],
            [
                {
                    "key": r["facility_id"],
                    "cells": [
                        facility_cell(facilities, r["facility_id"]),
                        number(r["cashless_visitors"], suppressed=r["is_suppressed"]),
                        number(r["reported_admissions"]),
                        share(r["cashless_share"]),
                        text(None)
                        if r["share_ci_low"] is None
                        else {"text": f"{r['share_ci_low'] * 100:.1f}–{r['share_ci_high'] * 100:.1f}%", "num": True},
                        number(r["all_visitors_estimate"]),
                        _interval(r["estimate_ci_low"], r["estimate_ci_high"]) if r["is_estimate"] else text(None),
                        _status(r["status"])
                        if r["status"] != "estimated"
                        else both(f"推計（他の{r['share_days']}日の比率）", f"estimate (share of {r['share_days']} other days)"),
                    ],
                }
                for r in cells
            ],
            notes=[
                (
                    "入館者数の報告がある日は報告値をそのまま使います。報告のない日は、その施設の報告日のキャッシュレス比率"
                    "（カード決済の来訪者 ÷ 入館者数）でカード決済の来訪者数を割った推計です。報告のない施設は推計しません。",
                    "Where the facility reported its admissions the reported total is used. On other days the card payers "
                    "are divided by the facility's cashless share on its reported days (an estimate). A facility that never "
                    "reports is not estimated.",
                )
            ],
        )
    )
    flows = page_rows(con, "all_visitors_flows", service_date=latest)
    sections.append(
        Section(
            "flows",
            f"施設間の移動 全来訪者の推計（上位20、{latest}）",
            f"Moves between facilities, all visitors (top 20, {latest})",
            [
                MOVE,
                CARD_PAYERS,
                Column("使った比率", "Share used", True),
                ALL_VISITORS_ESTIMATE,
                INTERVAL_95,
                BASIS,
            ],
            [
                {
                    "key": f"{r['from_facility_id']}>{r['to_facility_id']}",
                    "cells": [
                        route_cell(facilities, f"{r['from_facility_id']} > {r['to_facility_id']}"),
                        number(r["cashless_visitors"]),
                        share(r["share_used"]),
                        number(r["all_visitors_estimate"]),
                        _interval(r["estimate_ci_low"], r["estimate_ci_high"]),
                        _status(r["status"]),
                    ],
                }
                for r in flows
            ],
            notes=[
                (
                    "移動元と移動先のキャッシュレス比率の平均で割っています。現金で払う人もカードで払う人と同じように移動すると"
                    "仮定した推計です。",
                    "Divided by the mean cashless share of origin and destination: assumes people who pay "
                    "cash move like card payers.",
                )
            ],
        )
    )
    city = page_rows(con, "all_visitors_city")
    by_day: dict[Any, dict[str, dict[str, Any]]] = {}
    for r in city:
        by_day.setdefault(r["service_date"], {})[r["measure"]] = r
    day_rows = []
    for day, measures in sorted(by_day.items()):
        visitors, multi = measures.get("circulation_visitors"), measures.get("multi_facility_visitors")
        if not visitors or not multi:
            continue
        day_rows.append(
            {
                "key": str(day),
                "cells": [
                    text(day),
                    number(visitors["cashless_visitors"], suppressed=visitors["is_suppressed"]),
                    number(visitors["all_visitors_estimate"]),
                    _interval(visitors["estimate_ci_low"], visitors["estimate_ci_high"]),
                    number(multi["all_visitors_estimate"]),
                    _interval(multi["estimate_ci_low"], multi["estimate_ci_high"]),
                    share(visitors["share_used"]),
                ],
            }
        )
    sections.append(
        Section(
            "circulation",
            "周遊：全来訪者の推計（日別）",
            "Circulation, all visitors (per day)",
            [
                TOURISM_DAY,
                CARD_PAYERS,
                ALL_VISITORS_ESTIMATE,
                INTERVAL_95,
                Column("2施設以上（推計）", "Two or more facilities (estimate)", True),
                INTERVAL_95,
                Column("市全体の比率", "City cashless share", True),
            ],
            day_rows,
            notes=[
                (
                    "周遊率そのものはカード決済の来訪者と同じ値になります（現金払いの人も同じように周遊すると仮定）。",
                    "The circulation rate itself is the card payers' rate (assuming cash payers circulate alike).",
                )
            ],
        )
    )
    return Page(
        "all_visitors",
        "全来訪者の推計",
        "All visitors (estimates)",
        "これまでのページの人数はキャッシュレス決済（カード）の来訪者だけです。ここでは施設が報告する入館者数（すべての支払い方法）"
        "との比から、全来訪者の人数を推計します。推計値には95%区間を付けています。",
        "The other pages count card payers only. Here the facilities' reported admissions (every payment type) give "
        "the cashless share, from which counts for all visitors are estimated, each with a 95 % interval.",
        sections,
    )


# ------------------------------------------------------------------ opportunities

SEGMENT_NAMES = {"all": ("全体", "all visitors"), "domestic": ("国内", "domestic"), "international": ("海外", "international")}
KIND_NAMES = {"entry_log": ("キャッシュレス入場", "card taps"), "wifi_sensor": ("Wi-Fiセンサー", "Wi-Fi sensors")}


def _flows_by_kind(con: duckdb.DuckDBPyConnection, facilities: dict[str, Facility]) -> list[Section]:
    """Moves and routes of the latest complete week, card taps and Wi-Fi sensors side by side."""
    if not (table_exists(con, "marts.transitions_by_period") and table_exists(con, "marts.routes_by_period")):
        return []
    latest = page_rows(con, "latest_week_moves")
    if not latest or latest[0]["period_start"] is None:
        return []
    start, label = latest[0]["period_start"], latest[0]["period_label"]
    moves = page_rows(con, "week_top_moves", period_start=start)
    routes = page_rows(con, "week_top_routes", period_start=start)
    note = (
        "「測定」は移動を測ったデータです。カード（キャッシュレス入場）は有料施設だけ、Wi-Fiセンサーはセンサーのある場所"
        "（眼鏡橋・平和公園・オランダ坂など無料の場所を含む）だけを測ります。両者は別の人の集まりなので足し合わせないでください。",
        "'Measured by' names the data behind each move: card taps cover gated facilities only, Wi-Fi sensors only the "
        "places with a sensor (free sights such as Megane Bridge, Peace Park, Dutch Slope included). They count "
        "different people: do not add them.",
    )
    return [
        Section(
            "flows-by-kind",
            f"施設間の移動（測定方法別、{label}）",
            f"Moves by what measured them ({label})",
            [
                MEASURED_BY,
                MOVE,
                MOVES,
                PEOPLE,
            ],
            [
                {
                    "key": f"{r['source_kind']}:{r['from_facility_id']}>{r['to_facility_id']}",
                    "cells": [
                        both(*KIND_NAMES.get(r["source_kind"], (r["source_kind"],) * 2)),
                        route_cell(facilities, f"{r['from_facility_id']} > {r['to_facility_id']}"),
                        number(r["transitions"]),
                        number(r["visitors"]),
                    ],
                }
                for r in moves
            ],
            notes=[note],
        ),
        Section(
            "routes-by-kind",
            f"周遊ルート上位（測定方法別、{label}）",
            f"Top routes by what measured them ({label})",
            [
                MEASURED_BY,
                Column("順位", "Rank", True),
                ROUTE,
                PEOPLE,
            ],
            [
                {
                    "key": f"{r['source_kind']}:{r['route']}",
                    "cells": [
                        both(*KIND_NAMES.get(r["source_kind"], (r["source_kind"],) * 2)),
                        number(r["route_rank"]),
                        route_cell(facilities, r["route"]),
                        number(r["visitors"]),
                    ],
                }
                for r in routes
            ],
        ),
    ]


def opportunities_page(con: duckdb.DuckDBPyConnection, facilities: dict[str, Facility], k: int) -> Page | None:
    from flowlib.opportunities import CLOSE_MINUTES, FIT_TABLE, MIN_EXPECTED, PAIRS_TABLE, UNDER_RATIO, WATCH_RATIO

    if not (table_exists(con, FIT_TABLE) and table_exists(con, PAIRS_TABLE)):
        return None
    latest_fit = page_rows(con, "opportunity_latest_fit")
    latest = tuple(latest_fit[0].values()) if latest_fit else None
    sections: list[Section] = []
    fits = page_rows(con, "opportunity_fits")
    sections.append(
        Section(
            "fit",
            "モデルの当てはまり",
            "Goodness of fit",
            [
                Column("期間", "Period"),
                Column("データ", "Source"),
                SEGMENT,
                Column("結果", "Status"),
                Column("ペア数", "Pairs", True),
                MOVES,
                Column("逸脱度", "Deviance", True),
                Column("疑似R²（逸脱度）", "Pseudo-R² (deviance)", True),
                Column("McFadden R²", "McFadden R²", True),
                Column("過分散", "Dispersion", True),
                Column("距離の係数（95%区間）", "Distance coefficient (95 % interval)", True),
            ],
            [
                {
                    "key": f"{r['period_label']}:{r['source_kind']}:{r['segment']}",
                    "cells": [
                        text(r["period_label"]),
                        both(*KIND_NAMES.get(r["source_kind"], (r["source_kind"],) * 2)),
                        both(*SEGMENT_NAMES.get(r["segment"], (r["segment"],) * 2)),
                        both("推定済み", "fitted")
                        if r["status"] == "fitted"
                        else both("データ不足", f"not fitted: {r['status']}"),
                        number(r["n_pairs"]),
                        number(r["moves"]),
                        number(r["deviance"], 1),
                        number(r["pseudo_r2"], 3),
                        number(r["mcfadden_r2"], 3),
                        number(r["dispersion"], 1),
                        text(None)
                        if r["distance_coefficient"] is None
                        else {
                            "num": True,
                            "text": f"{r['distance_coefficient']:.2f} ({r['distance_ci_low']:.2f} – {r['distance_ci_high']:.2f})",
                        },
                    ],
                }
                for r in fits
            ],
            notes=[
                (
                    "施設間の移動数を「出発施設の送り出し」「到着施設の引きつけ」「徒歩時間」で説明するポアソン回帰（重力モデル）です。"
                    "疑似R²は説明できた逸脱度の割合、距離の係数は徒歩時間が2倍になると移動が何倍になるか（2^係数）を表します。",
                    "A Poisson regression (gravity model) of moves between facilities on origin outflow, destination pull and "
                    "walking time. Pseudo-R² is the share of deviance explained; the distance coefficient says how moves scale "
                    "when walking time doubles (2^coefficient).",
                )
            ],
        )
    )
    if latest:
        grain, start, label = latest
        pairs = page_rows(con, "opportunity_pairs", period_grain=grain, period_start=start)
        sections.append(
            Section(
                "promote",
                f"近いのに移動が少ない施設の組（{label}）",
                f"Close but under-connected pairs ({label})",
                [
                    Column("データ・区分", "Source, segment"),
                    Column("この施設の来訪者に", "To visitors of"),
                    Column("勧めたい施設", "promote"),
                    Column("徒歩（分）", "Walk (min)", True),
                    Column("実際の移動", "Observed", True),
                    Column("期待される移動", "Expected", True),
                    Column("95%予測区間", "95 % prediction interval", True),
                    Column("判定", "Finding"),
                ],
                [
                    {
                        "key": f"{r['source_kind']}:{r['segment']}:{r['from_facility_id']}>{r['to_facility_id']}",
                        "cells": [
                            both(
                                f"{KIND_NAMES.get(r['source_kind'], (r['source_kind'],) * 2)[0]}・{SEGMENT_NAMES.get(r['segment'], (r['segment'],) * 2)[0]}",
                                f"{KIND_NAMES.get(r['source_kind'], (r['source_kind'],) * 2)[1]}, {SEGMENT_NAMES.get(r['segment'], (r['segment'],) * 2)[1]}",
                            ),
                            facility_cell(facilities, r["from_facility_id"]),
                            facility_cell(facilities, r["to_facility_id"]),
                            number(r["walking_minutes"], 0),
                            {"suppressed": True, "num": True} if r["is_suppressed"] else number(r["observed_moves"]),
                            number(r["expected_moves"], 0),
                            text(None)
                            if r["expected_low"] is None or r["expected_high"] is None or math.isnan(r["expected_low"])
                            else _interval(int(r["expected_low"]), int(r["expected_high"])),
                            both("移動が有意に少ない", "under-connected")
                            if r["tier"] == "under_connected"
                            else both(
                                "要観察（期待の半分以下だが区間内）", "watch (below half of expected, inside the interval)"
                            ),
                        ],
                    }
                    for r in pairs
                ],
                notes=[
                    (
                        f"徒歩{CLOSE_MINUTES:.0f}分以内で、モデルが{MIN_EXPECTED:.0f}回以上の移動を見込むのに、実際の移動が95%予測区間を下回り"
                        f"期待の{UNDER_RATIO:.0%}以下の組を「移動が有意に少ない」としています。期待の{WATCH_RATIO:.0%}以下でも区間内の組は"
                        "「要観察」です。秘匿された組は k−1 回として判定しています。",
                        f"Within {CLOSE_MINUTES:.0f} minutes' walk, expected at least {MIN_EXPECTED:.0f} moves, observed below the "
                        f"95 % prediction interval and at most {UNDER_RATIO:.0%} of expected: under-connected. At most "
                        f"{WATCH_RATIO:.0%} of expected but inside the interval: watch. Suppressed pairs are judged at k − 1 moves.",
                    )
                ],
                empty_ja="この期間には該当する組がありません。",
                empty_en="No such pairs in this period.",
            )
        )
    sections.extend(_flows_by_kind(con, facilities))
    return Page(
        "opportunities",
        "周遊促進：勧めたい施設",
        "Circulation: where to steer visitors",
        "各施設の来訪者が、近くにあるのにあまり訪れていない施設を、重力モデルの期待値と比べて示します。施設の案内・サイン・"
        "クーポン等で勧める候補です（原因は別途確認が必要です）。",
        "For each facility, the nearby sights its visitors visit less than a gravity model expects: candidates to "
        "promote with guidance, signage or coupons (the reason needs checking on site).",
        sections,
    )


# ------------------------------------------------------------------ measures


def line_chart(
    series: dict[str, list[tuple[Any, float]]],
    start: Any,
    labels: dict[str, tuple[str, str]],
    width: int = 640,
    height: int = 220,
) -> markupsafe.Markup:
    """Lines over days as inline SVG, with a dashed rule at the measure's start."""
    points = [value for values in series.values() for _, value in values]
    days = sorted({day for values in series.values() for day, _ in values})
    if not points or len(days) < 2:
        return markupsafe.Markup("")
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    left, right, top, bottom = 50, 10, 10, 30

    def x(day: Any) -> float:
        return left + (width - left - right) * days.index(day) / (len(days) - 1)

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - (value - low) / span)

    colours = {"treated": "#d9480f", "comparison": "#0b5394"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    if start in days:
        parts.append(
            f'<line x1="{x(start):.1f}" x2="{x(start):.1f}" y1="{top}" y2="{height - bottom}" '
            'stroke="#555" stroke-dasharray="4 3"/>'
        )
    for name, values in series.items():
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in values)
        parts.append(f'<polyline fill="none" stroke="{colours.get(name, "#333")}" stroke-width="2" points="{path}"/>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="11">{esc(days[0])}</text>')
    parts.append(f'<text x="{width - right}" y="{height - 8}" font-size="11" text-anchor="end">{esc(days[-1])}</text>')
    for i, (name, (ja, en)) in enumerate(labels.items()):
        parts.append(
            f'<text x="{left + 8 + 200 * i}" y="{top + 12}" font-size="12" fill="{colours.get(name, "#333")}">'
            f"{esc(ja)} / {esc(en)}</text>"
        )
    parts.append("</svg>")
    return markupsafe.Markup("".join(parts))


def measures_page(con: duckdb.DuckDBPyConnection, facilities: dict[str, Facility], k: int) -> Page | None:
    from flowlib.measures import EFFECTS_TABLE, SERIES_TABLE

    if not (table_exists(con, EFFECTS_TABLE) and table_exists(con, SERIES_TABLE)):
        return None
    effects = page_rows(con, "measure_effects")
    sections: list[Section] = []
    for r in effects:
        notes: list[tuple[str, str]] = []
        if r["status"] == "refused":
            notes.append(
                (f"この施策ファイルは受け付けられませんでした: {r['reason']}", f"This measure file was refused: {r['reason']}")
            )
        elif r["status"] != "estimated":
            notes.append((f"効果は推定していません: {r['reason']}", f"No estimate: {r['reason']}"))
        else:
            if r["effect_scale"] == "log":
                ja = (
                    f"効果の推定: {r['effect_percent']:+.1f}%（95%信頼区間 {r['ci_low_percent']:+.1f}% 〜 "
                    f"{r['ci_high_percent']:+.1f}%、p = {r['p_value']:.3f}）"
                )
                en = (
                    f"Estimated effect: {r['effect_percent']:+.1f} % (95 % interval {r['ci_low_percent']:+.1f} % to "
                    f"{r['ci_high_percent']:+.1f} %, p = {r['p_value']:.3f})"
                )
            else:
                ja = (
                    f"効果の推定: {100 * r['effect']:+.1f}ポイント（95%信頼区間 {100 * r['ci_low']:+.1f} 〜 "
                    f"{100 * r['ci_high']:+.1f}、p = {r['p_value']:.3f}）"
                )
                en = (
                    f"Estimated effect: {100 * r['effect']:+.1f} points (95 % interval {100 * r['ci_low']:+.1f} to "
                    f"{100 * r['ci_high']:+.1f}, p = {r['p_value']:.3f})"
                )
            notes.append((ja, en))
            if r["ci_low"] <= 0 <= r["ci_high"]:
                notes.append(
                    (
                        "95%信頼区間が0を含むため、効果があったとは言えません。",
                        "The 95 % interval includes zero: no effect can be claimed.",
                    )
                )
            if r["pre_trend_ok"] is False:
                notes.append(
                    (
                        f"注意: 施策の前から比較対象と差が広がっていました（傾きの p = {r['pre_trend_p_value']:.3f}）。"
                        "推定は過大または過小かもしれません。",
                        f"Caution: treated and comparison units were already drifting apart before the start "
                        f"(slope p = {r['pre_trend_p_value']:.3f}); the estimate may be biased.",
                    )
                )
            elif r["pre_trend_ok"]:
                notes.append(
                    (
                        f"事前トレンドの確認: 施策前の差の傾きは0と区別できません（p = {r['pre_trend_p_value']:.3f}）。",
                        f"Pre-trend check: no drift before the start (slope p = {r['pre_trend_p_value']:.3f}).",
                    )
                )
            chosen = (
                "施策前の動きが最も似ている単位" if r["comparison_chosen_by"] == "pre_period_similarity" else "施策ファイルで指定"
            )
            chosen_en = "most similar before the start" if r["comparison_chosen_by"] == "pre_period_similarity" else "declared"
            notes.append(
                (
                    f"比較対象（{chosen}）: {r['comparison_units']}。施策前 {r['pre_days']} 日、施策後 {r['post_days']} 日。",
                    f"Comparison units ({chosen_en}): {r['comparison_units']}. {r['pre_days']} days before, "
                    f"{r['post_days']} after.",
                )
            )
        chart = None
        series = page_rows(con, "measure_series", measure=r["measure"])
        if series:
            lines: dict[str, list[tuple[Any, float]]] = {}
            for point in series:
                lines.setdefault(point["series_group"], []).append((point["service_date"], point["value"]))
            chart = line_chart(
                lines,
                r["start_date"],
                {"treated": ("施策の対象", "treated"), "comparison": ("比較対象の平均", "comparison mean")},
            )
            if (r["outcome"] or "").startswith("kpi"):
                notes.append(
                    (
                        "グラフは週別の満足（4・5）の割合。回答が少ない週は表示しません（破線が施策開始日）。",
                        "Chart: weekly satisfied share (4-5); weeks with few answers are not shown; dashed: start.",
                    )
                )
            elif r["effect_scale"] == "log":
                notes.append(
                    (
                        "グラフは log(1+人数) の日別平均（破線が施策開始日）。",
                        "Chart: daily mean of log(1 + count); dashed: start.",
                    )
                )
            else:
                notes.append(("グラフは日別の値の平均（破線が施策開始日）。", "Chart: daily mean of the rate; dashed: start."))
        what = r["what_changed"] or ""
        sections.append(
            Section(
                f"measure-{r['measure']}",
                r["title_ja"] or r["measure"],
                r["title_en"] or r["measure"],
                [Column("項目", "Item"), Column("内容", "Value")],
                [
                    {"key": "what", "cells": [both("変えたこと", "What changed"), text(what)]},
                    {
                        "key": "period",
                        "cells": [both("期間", "Period"), text(f"{r['start_date'] or '—'} – {r['end_date'] or ''}")],
                    },
                    {"key": "outcome", "cells": [both("成果指標", "Outcome"), text(r["outcome"])]},
                    {"key": "file", "cells": [both("施策ファイル", "Measure file"), text(r["source_file"])]},
                ],
                notes=notes,
                chart=chart,
            )
        )
    return Page(
        "measures",
        "施策の効果検証（EBPM）",
        "Did the measure work? (EBPM)",
        "config/measures/ に登録した施策ごとに、対象と比較対象の施策前後の変化の差（差の差分法）で効果を推定します。"
        "相関ではなく施策の効果を見るための方法ですが、同じ時期の他の出来事の影響は除けません。",
        "For each measure in config/measures/, the effect is the change in the treated unit minus the change in "
        "comparison units (difference in differences). Events at the same time that touch only the treated unit "
        "cannot be told apart from the measure.",
        sections,
    )


# ------------------------------------------------------------------ building

#: name -> builder; each returns None when its marts are not in the warehouse
BUILDERS: dict[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Facility], int], Page | None]] = {
    "spending": spending_page,
    "all_visitors": all_visitors_page,
    "opportunities": opportunities_page,
    "measures": measures_page,
}


def _complete(section: Section) -> dict[str, Any]:
    """Every cell with every key the template reads (it renders with StrictUndefined)."""
    values = dict(vars(section))
    values["rows"] = [
        {"key": row.get("key"), "cells": [{"num": False, "suppressed": False, "text": "", **cell} for cell in row["cells"]]}
        for row in section.rows
    ]
    return values


def render_action_page(page: Page, k: int, nav_links: list[NavLink]) -> str:
    return render_template(
        "action.html",
        page={
            "name": page.name,
            "title_ja": page.title_ja,
            "title_en": page.title_en,
            "intro_ja": page.intro_ja,
            "intro_en": page.intro_en,
            "k": k,
            "stylesheets": ["../assets/bootstrap/bootstrap.min.css", f"../assets/{OWN_CSS}"],
            "scripts": [f"../assets/{OWN_JS}"],
            "nav_links": nav_links,
            "sections": [_complete(section) for section in page.sections],
        },
    )


def build_action_pages(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[dict[str, str]]:
    """Write every action page whose marts exist; returns index links (href, title_ja, title_en)."""
    facilities = load_facilities(con)
    folder: Path = settings.dashboards_dir / ACTION_DIR
    pages = []
    for name, builder in BUILDERS.items():
        page = builder(con, facilities, settings.min_cell_count)
        if page is None:
            (folder / f"{name}.html").unlink(missing_ok=True)
            continue
        pages.append(page)
    links = [{"href": f"{ACTION_DIR}/{p.name}.html", "title_ja": p.title_ja, "title_en": p.title_en} for p in pages]
    for page in pages:
        nav = [NavLink("../index.html", "一覧", "All pages")]
        nav += [NavLink(f"{p.name}.html", p.title_ja.split("：")[0], p.title_en.split(":")[0]) for p in pages if p is not page]
        write_page(folder / f"{page.name}.html", render_action_page(page, settings.min_cell_count, nav))
    return links
