"""Open data: the published (small-cell suppressed) aggregates as CSV and GeoJSON.

``write_open_data(con, settings)`` writes into ``settings.dashboards_dir / "exports"``:

- one CSV per mart (``DATASETS``): the daily marts, the week / month / fiscal-year
  roll-ups (the day rows of the roll-ups are left out: the ``*_daily`` files carry days)
  and the facility list; the indicator CSVs that
  :func:`flowlib.indicator_mart.export_indicator_csv` writes into the same folder just
  before (:func:`flowlib.opendata.write_files`) are listed with them (and made world-readable);
- GeoJSON: facilities as points (alone, with their daily counts, with their period
  counts) and flows between facilities as LineStrings (daily and per period);
- ``column_dictionary.csv`` (every column of every file, ja/en, from
  ``sql/marts/columns.yaml``), ``catalogue.json``
  (machine-readable catalogue entry: licence, attribution, files), ``index.html`` (the same
  for people) and ``LICENSE.txt``.

Rules every file keeps:

- **Privacy.** Only marts are read, and their suppression is kept: a suppressed row stays,
  marked ``is_suppressed`` TRUE, with every count and measure empty (blanked again here,
  whatever the mart did). ``suppression`` says why (``primary``: fewer than k ids;
  ``secondary``: hidden so that a primary cell cannot be recovered from a total;
  ``partial``: a period total withheld because one of its days is suppressed).
- **CSV format.** UTF-8 *with* BOM (like the indicator CSVs already published, so Excel
  opens every file of the folder the same way), CRLF, one header row, ISO dates,
  ``TRUE``/``FALSE``, empty cell = no value. Text cells starting with ``= + - @`` (or tab /
  CR) get a leading ``'`` so that no spreadsheet runs them as a formula (the same
  rule, :func:`neutralise_cell`, for the indicator CSVs; GeoJSON string
  properties get the same treatment, since GeoJSON is often converted to spreadsheets).
- **Atomic.** Every file is written to a temporary file in the same folder and renamed
  over the old one (readers never see half a file); a file whose content did not change
  is left untouched (its modification time stays meaningful for harvesters).
- **Licence.** Figures CC BY 4.0 (Nagasaki City); facility coordinates from
  OpenStreetMap, © OpenStreetMap contributors, ODbL 1.0 (credited in every GeoJSON and in
  the catalogue).

Called from :func:`flowlib.opendata.publish_open_data` (the nightly ``publish_open_data``
step, after ``build_marts``), which writes into a staging version, audits it and swaps it
in; the dashboards step writes pages only.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import html
import json
import logging
import math
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb
import yaml

from flowlib.atomic import atomic_write
from flowlib.config import PROJECT_ROOT, Settings
from flowlib.indicator import IndicatorDefinition, load_definition
from flowlib.queries import run

log = logging.getLogger(__name__)

EXPORTS_DIR_NAME = "exports"
CSV_ENCODING = "utf-8-sig"  # UTF-8 with BOM, as flowlib.indicator_mart's CSVs
BATCH_ROWS = 20_000
PUBLISHER = ("長崎市", "Nagasaki City")
LICENCE = {
    "id": "CC-BY-4.0",
    "name": "クリエイティブ・コモンズ 表示 4.0 国際 / Creative Commons Attribution 4.0 International",
    "url": "https://creativecommons.org/licenses/by/4.0/deed.ja",
}
CREDIT_JA = "出典：長崎市 観光動態データ（CC BY 4.0）"
CREDIT_EN = "Source: Nagasaki City tourism flow data (CC BY 4.0)"
OSM_ATTRIBUTION = {
    "text": "施設の座標 / facility coordinates: © OpenStreetMap contributors",
    "license": "ODbL 1.0",
    "url": "https://www.openstreetmap.org/copyright",
}
#: Numbers that describe a row rather than count people; not blanked in suppressed rows.
DESCRIPTIVE_NUMBERS = frozenset({"hour_of_day", "n_stops", "lat", "lon", "months_with_answers"})
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "REAL",
)
INDICATOR_FILES = ("info_satisfaction_indicator.csv", "info_satisfaction_drivers.csv")
DICTIONARY_FILE = "column_dictionary.csv"
#: characters that make a spreadsheet treat a cell as a formula (CSV injection); the one
#: rule of every published file (flowlib.indicator_mart imports neutralise_cell from here)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CATALOGUE_FILE = "catalogue.json"


@dataclass(frozen=True)
class Dataset:
    """One published file (and optionally its GeoJSON twin)."""

    name: str
    source: str
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    where: str = "true"
    #: ``point`` (facility_id) or ``line`` (from_facility_id → to_facility_id)
    geometry: str | None = None
    #: rows of the GeoJSON (a subset of the CSV for the large roll-ups)
    geo_where: str = "true"
    geo_note_ja: str = ""
    geo_note_en: str = ""


_PERIODS_ONLY = "period_grain <> 'day'"
_HEADLINE = "day_type = 'all' and segment_kind = 'all'"

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "facilities",
        "ref.facilities",
        "観光施設一覧",
        "Tourism facilities",
        "集計対象の施設のID・名称・座標。座標は OpenStreetMap 由来（confidence が low の点はプロジェクトの推定値）。",
        "Ids, names and coordinates of the facilities counted. Coordinates from OpenStreetMap "
        "(points with confidence low are project estimates).",
        geometry="point",
    ),
    Dataset(
        "facility_daily",
        "marts.facility_daily",
        "施設別 日別 入場数・来訪者数",
        "Entries and visitors per facility and day",
        "キャッシュレス入場記録（およびWi-Fiセンサー）による施設ごとの1日の入場数と来訪者数（実人数）、カード発行国別。",
        "Admissions (card taps; Wi-Fi sensor stays where present) and distinct visitors per facility and "
        "tourism day, split by where the card was issued.",
        geometry="point",
    ),
    Dataset(
        "facility_entries_hourly",
        "marts.facility_entries_hourly",
        "施設別 時間別 入場数",
        "Entries per facility and hour",
        "施設ごと・時刻（日本時間）ごとの入場数と来訪者数。",
        "Admissions and distinct visitors per facility and JST clock hour.",
    ),
    Dataset(
        "transitions_daily",
        "marts.transitions_daily",
        "施設間の移動（日別）",
        "Moves between facilities per day",
        "同じ周遊の中で施設Aの次に施設Bを訪れた移動の数と人数、所要時間、次の行き先の確率。",
        "Moves from one facility to the next stop of the same trip: moves, distinct visitors, minutes between "
        "the two admissions, next-destination probability.",
        geometry="line",
    ),
    Dataset(
        "routes_daily",
        "marts.routes_daily",
        "周遊ルート（日別）",
        "Routes per day",
        "1日の周遊（2〜5施設）の順路ごとの人数と順位。",
        "Whole-trip routes of 2 to 5 stops per day: visitors and rank.",
    ),
    Dataset(
        "circulation_daily",
        "marts.circulation_daily",
        "周遊率（日別）",
        "Circulation rate per day",
        "2施設以上を訪れた人の割合（周遊率）と1人あたり施設数、区分別。",
        "Share of visitors who visited two or more facilities (circulation rate) and facilities per visitor, per segment.",
    ),
    Dataset(
        "wifi_area_hourly",
        "marts.wifi_area_hourly",
        "観光エリア別 時間別 Wi-Fi接続数",
        "Wi-Fi connections per area and hour",
        "公衆Wi-Fiの接続数を観光エリア・時刻ごとに合計したもの（人数ではなく接続数）。",
        "Public Wi-Fi connections summed per tourism area and JST hour (connections, not people).",
    ),
    Dataset(
        "survey_satisfaction_daily",
        "marts.survey_satisfaction_daily",
        "旅ナカ情報取得満足度（日別の回答）",
        "In-trip information satisfaction, daily answers",
        "Webアンケートの日別回答数と満足（5段階の4・5）の数。1日の回答は少ないため、指標は info_satisfaction_indicator.csv（月・年度）を使ってください。",
        "Daily web-survey answers and satisfied answers (4 or 5 of 5). Days have few answers: use "
        "info_satisfaction_indicator.csv (months, fiscal years) for the indicator.",
    ),
    Dataset(
        "facility_visits_by_period",
        "marts.facility_visits_by_period",
        "施設別 入場数・来訪者数（週・月・年度）",
        "Entries and visitors per facility, per week, month and fiscal year",
        "ISO週・月・年度ごと、平日／土日祝別、区分別（居住地・券種）、時刻別の施設の入場数と来訪者数（期間内の実人数）。",
        "Per ISO week, month and fiscal year, day type, segment (residence, ticket type) and hour: admissions "
        "and distinct visitors over the period.",
        where=_PERIODS_ONLY,
        geometry="point",
        geo_where=f"{_HEADLINE} and hour_of_day is null",
        geo_note_ja="GeoJSON は全日種・全区分・終日の行のみ。",
        geo_note_en="GeoJSON: all day types, all segments, whole day only.",
    ),
    Dataset(
        "transitions_by_period",
        "marts.transitions_by_period",
        "施設間の移動（週・月・年度）",
        "Moves between facilities per week, month and fiscal year",
        "期間・平日／土日祝・区分ごとの施設間の移動（OD）。",
        "Facility-to-facility moves per period, day type and segment.",
        where=_PERIODS_ONLY,
        geometry="line",
        geo_where=_HEADLINE,
        geo_note_ja="GeoJSON は全日種・全区分の行のみ。",
        geo_note_en="GeoJSON: all day types, all segments only.",
    ),
    Dataset(
        "routes_by_period",
        "marts.routes_by_period",
        "周遊ルートと出発・到着施設（週・月・年度）",
        "Routes and origin-destination per week, month and fiscal year",
        "周遊の出発施設・最後の施設（route が空の行、区分別）と、その中の順路（2〜5施設、全体のみ）ごとの人数と順位。",
        "Trips by first and last stop (rows with an empty route, per segment) and, within each, the ranked routes "
        "of 2 to 5 stops (all visitors only).",
        # Routes per segment are not published: with the segment and day-type margins they
        # form a table whose hidden routes the audit narrowed below k by combining margins
        # (flowlib.disclosure_audit; docs/privacy.md). The pages show all visitors only.
        where=f"{_PERIODS_ONLY} and (route is null or segment_kind = 'all')",
    ),
    Dataset(
        "circulation_by_period",
        "marts.circulation_by_period",
        "周遊率（週・月・年度）",
        "Circulation rate per week, month and fiscal year",
        "期間・平日／土日祝・区分ごとの周遊率。facility_role が first / last の行は、その施設から1日を始めた／終えた人数。",
        "Circulation rate per period, day type and segment; rows with facility_role first / last count the "
        "visitors whose day started / ended at that facility.",
        where=_PERIODS_ONLY,
    ),
    Dataset(
        "dwell_by_period",
        "marts.dwell_by_period",
        "施設の滞在時間（週・月・年度）",
        "Minutes spent at facilities per week, month and fiscal year",
        "施設ごとの滞在時間の四分位と平均（Wi-Fiセンサーの実測、または入場記録からの推定）。",
        "Quartiles and mean of the minutes spent at each facility (measured by Wi-Fi sensors, or estimated from card taps).",
        where=_PERIODS_ONLY,
    ),
    # Crowding forecast (flowlib.forecast): model output, not counts of people.
    Dataset(
        "forecast_daily",
        "marts.forecast_daily",
        "施設別 混雑予測（今後14日間）",
        "Crowding forecast per facility (next 14 days)",
        "施設ごとの今後14日間の入場数（センサーは来訪端末数）の予測と80%・95%予測区間。客船入港予定と祝日を考慮。"
        "予測できない施設・日は理由（履歴不足・休館日など）を記載。方法は docs/forecast.md。",
        "Forecast admissions (distinct devices for sensors) per facility for the next 14 days with 80 % and 95 % "
        "prediction intervals, using the cruise timetable and public holidays; a stated reason where there is no "
        "forecast (insufficient history, closing day, ...). Method: docs/forecast.md.",
    ),
    # 消費喚起 (issue 14): day rows included, there is no daily twin of these marts
    Dataset(
        "spending_by_period",
        "marts.spending_by_period",
        "施設別 入館料収入（日・週・月・年度）",
        "Admission revenue per facility (day, week, month, fiscal year)",
        "キャッシュレス決済の入館料（POS金額）の合計、有料入場数、1人1日あたり収入。施設別（all = 全施設）、居住地・券種別。現金払いは含みません。",
        "Sum of the POS amounts of cashless admissions, paid admissions and revenue per visitor-day, per facility "
        "(all = every facility), residence and ticket type. Cash payments are not included.",
        geometry="point",
        geo_where="day_type = 'all' and segment_kind = 'all' and facility_id <> 'all'",
        geo_note_ja="GeoJSON は全日種・全区分の施設別の行のみ。",
        geo_note_en="GeoJSON: all day types, all segments, per facility only.",
    ),
    Dataset(
        "spending_routes_by_period",
        "marts.spending_routes_by_period",
        "順路・最初の施設別 入館料収入（日・週・月・年度）",
        "Admission revenue by route and by first facility of the day (day, week, month, fiscal year)",
        "1日の最初の施設ごとの1人1日あたり収入・有料入場数と、周遊ルート（2〜5施設）ごとの1周遊あたり収入。キャッシュレス決済のみ。",
        "Revenue and paid admissions per visitor-day by the first facility of the day, and per trip by route "
        "(2 to 5 stops). Cashless payments only.",
    ),
    Dataset(
        "all_visitors_facility_daily",
        "marts.all_visitors_facility_daily",
        "施設別 全来訪者の推計（日別）",
        "All visitors per facility and day (estimates)",
        "施設が報告する入館者数（すべての支払い方法）とキャッシュレス比率（95%区間つき）。報告のない日は他の日の比率から推計（is_estimate = TRUE、95%区間つき）。報告のない施設は推計しません。",
        "Admissions reported by the facility (every payment type) and the cashless share with its 95 % interval. "
        "Days without a report are estimated from the share of the other days (is_estimate TRUE, with a 95 % "
        "interval); a facility that never reports is not estimated.",
        geometry="point",
    ),
    Dataset(
        "all_visitors_flows_daily",
        "marts.all_visitors_flows_daily",
        "全来訪者の移動・ルート・周遊の推計（日別）",
        "Moves, routes and circulation for all visitors per day (estimates)",
        "カード決済の移動・ルート・周遊の人数をキャッシュレス比率で割った推計と95%区間。現金払いの人も同じように動くと仮定。",
        "Card-payer moves, routes and circulation visitors divided by the cashless share: estimates with 95 % "
        "intervals, assuming people paying cash move alike.",
    ),
    Dataset(
        "opportunity_fit",
        "marts.opportunity_fit",
        "周遊の重力モデルの当てはまり（週・月）",
        "Gravity model fit (week, month)",
        "施設間移動の重力モデル（ポアソン回帰）の期間・データ・区分ごとの当てはまり（逸脱度、疑似R²）と距離の係数。",
        "Goodness of fit (deviance, pseudo-R²) and distance coefficient of the gravity model of moves, per period, source and segment.",
    ),
    Dataset(
        "opportunity_pairs",
        "marts.opportunity_pairs",
        "近いのに移動が少ない施設の組（週・月）",
        "Close but under-connected facility pairs (week, month)",
        "施設の組ごとの実際の移動数とモデルの期待値・95%予測区間、判定（under_connected = 有意に少ない、watch = 要観察）。",
        "Observed and expected moves per facility pair with the 95 % prediction interval and the finding "
        "(under_connected, watch).",
        geometry="line",
        geo_where="tier is not null",
        geo_note_ja="GeoJSON は判定のある組のみ。",
        geo_note_en="GeoJSON: pairs with a finding only.",
    ),
    Dataset(
        "measure_effects",
        "marts.measure_effects",
        "施策の効果の推定（差の差分法）",
        "Estimated effects of measures (difference in differences)",
        "config/measures/ に登録した施策ごとの効果（%）と95%信頼区間、事前トレンドの確認、比較対象。受け付けなかった施策はその理由。",
        "Per measure in config/measures/: effect (%) with 95 % interval, pre-trend check and comparison units; "
        "refused measures with the reason.",
    ),
    Dataset(
        "measure_series",
        "marts.measure_series",
        "施策の対象と比較対象の推移",
        "Treated and comparison series of measures",
        "効果推定に使った日別の値（log(1+人数) の平均、周遊率はそのまま）。",
        "Daily values used for the estimates (mean of log(1 + count); circulation rates as they are).",
    ),
)


def indicator_datasets(definition: IndicatorDefinition) -> dict[str, tuple[str, str, str, str]]:
    """Titles and descriptions of the indicator CSVs in the catalogue, named after the
    definition's item; only a definition that declares a plan is called the tourism plan's
    KPI and compared with its baseline and target years."""
    ja, en = definition.labels
    en_in_text = en if definition.label_en else en[:1].lower() + en[1:]  # item names are common nouns
    if definition.has_plan:
        description = (
            f"観光計画のKPI。満足度と95%信頼区間、{definition.baseline_year}年基準値・"
            f"{definition.target_year}年目標値との比較。定義は docs/indicator.md。",
            f"The tourism plan's KPI: share with 95 % interval, against the {definition.baseline_year} "
            f"baseline and the {definition.target_year} target. Method: docs/indicator.md.",
        )
    else:
        description = (
            "満足度と95%信頼区間（基準値・目標値の定義なし）。定義は docs/indicator.md。",
            "Share with 95 % interval (no baseline or target declared). Method: docs/indicator.md.",
        )
    return {
        "info_satisfaction_indicator": (
            f"{ja}（月・四半期・年度）",
            f"{en} indicator (month, quarter, fiscal year)",
            *description,
        ),
        "info_satisfaction_drivers": (
            f"{ja}の要因（年度）",
            f"Drivers of {en_in_text} (fiscal year)",
            "利用した情報源・回答言語・訪問施設ごとの満足度（相関であり因果ではない）。",
            "Share per information source used, form language and facility visited (associations, not effects).",
        ),
    }


# ------------------------------------------------------------------ column dictionary

#: The column dictionary lives beside the SQL it describes (sql/marts/columns.yaml).
COLUMNS_FILE = PROJECT_ROOT / "sql" / "marts" / "columns.yaml"


def _load_column_docs(
    path: Path,
) -> tuple[dict[str, tuple[str, str, str, str]], dict[tuple[str, str], tuple[str, str, str, str]]]:
    """(type, unit, ja, en) per column name, and per (file stem, column) where a file differs."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def entry(doc: dict[str, str]) -> tuple[str, str, str, str]:
        return (doc["type"], doc.get("unit") or "", doc["ja"], doc["en"])

    columns = {name: entry(doc) for name, doc in (data.get("columns") or {}).items()}
    per_file = {(file, name): entry(doc) for file, docs in (data.get("per_file") or {}).items() for name, doc in docs.items()}
    return columns, per_file


#: (type, unit, ja, en) per column name; DATASET_COLUMN_DOCS overrides per (file stem, column).
COLUMN_DOCS, DATASET_COLUMN_DOCS = _load_column_docs(COLUMNS_FILE)

UNDOCUMENTED = ("string", "", "（説明なし）", "(undocumented)")
GEOJSON_GEOMETRY_DOC = {
    "point": (
        "geometry",
        "",
        "施設の位置（Point、WGS84、© OpenStreetMap contributors）。位置不明は null",
        "facility location (Point, WGS84, © OpenStreetMap contributors); null when unknown",
    ),
    "line": (
        "geometry",
        "",
        "移動元→移動先の直線（LineString、WGS84、座標 © OpenStreetMap contributors）。位置不明は null",
        "straight line from → to (LineString, WGS84, coordinates © OpenStreetMap contributors); null when unknown",
    ),
}


def column_doc(dataset: str, column: str) -> tuple[str, str, str, str]:
    return DATASET_COLUMN_DOCS.get((dataset, column)) or COLUMN_DOCS.get(column) or UNDOCUMENTED


# ------------------------------------------------------------------ values and files


def neutralise_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _clean(value: Any) -> Any:
    """A JSON/CSV-ready value: None for NaN/inf, ISO dates, int for integral decimals."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def csv_cell(value: Any) -> str:
    value = _clean(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return str(neutralise_cell(value))
    return str(value)


def _text_cell(value: str | None) -> str:
    """``csv_cell`` for a text column's values (str or None), without its type tests."""
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _real_cell(value: float | None) -> float | str:
    """``csv_cell`` for a floating column's values: csv.writer writes a finite float as str() does."""
    return "" if value is None or not math.isfinite(value) else value


#: DuckDB types whose Python values csv.writer already writes as ``csv_cell`` would: None as
#: "", an int and a date as str() does (a date's str is its ISO form)
_WRITTEN_AS_IS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "DATE"}
)


def _cell_converters(types: Iterable[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    """Per column that needs one, what turns its values into ``csv_cell``'s text: a call per cell
    only where the type asks for it (the open data are written twice a night, over 10^5 rows)."""
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, kind in enumerate(types):
        if kind in _WRITTEN_AS_IS:
            continue
        converters.append((index, _text_cell if kind == "VARCHAR" else _real_cell if kind in ("DOUBLE", "FLOAT") else csv_cell))
    return converters


def _json_value(value: Any) -> Any:
    value = _clean(value)
    return neutralise_cell(value) if isinstance(value, str) else value


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    schema, name = table.split(".")
    return [
        (row[0], row[1])
        for row in con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(_columns(con, table))


def _blanked_columns(columns: list[tuple[str, str]]) -> set[int]:
    """Positions of counts and measures: emptied in every suppressed row."""
    return {
        i for i, (name, kind) in enumerate(columns) if kind.upper().startswith(NUMERIC_TYPES) and name not in DESCRIPTIVE_NUMBERS
    }


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield batch


# ------------------------------------------------------------------ the datasets


@dataclass
class Written:
    """One file of the catalogue."""

    file: str
    fmt: str
    dataset: str
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    rows: int
    columns: list[tuple[str, str, str, str, str]]  # (column, type, unit, ja, en)
    changed: bool

    def entry(self, folder: Path) -> dict[str, Any]:
        path = folder / self.file
        return {
            "file": self.file,
            "format": self.fmt,
            "dataset": self.dataset,
            "title_ja": self.title_ja,
            "title_en": self.title_en,
            "description_ja": self.description_ja,
            "description_en": self.description_en,
            "rows": self.rows,
            "bytes": path.stat().st_size if path.is_file() else None,
            "modified": dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")
            if path.is_file()
            else None,
        }


def _dictionary_columns(dataset: str, names: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    return [(name, *column_doc(dataset, name)) for name in names]


def _published_days(names: list[str], first: dt.date | None) -> tuple[str, list[Any]]:
    """The rows of a mart that fall in the publication (FLOW_OPEN_DATA_FIRST): a condition
    on the mart's own columns and its parameters. A day row from the first day on; a period
    row when its period ends on or after it; forecasts and measure effects always."""
    if first is None:
        return "true", []
    if "service_date" in names:
        return "service_date >= ?", [first]
    if "period_end" in names:
        return "period_end >= ?", [first]
    if "period_start" in names and "period_grain" in names:
        return (
            "exists (select 1 from ref.calendar_periods as c where c.period_grain = published.period_grain"
            " and c.period_start = published.period_start and c.period_end >= ?)",
            [first],
        )
    return "true", []


def _published_query(dataset: Dataset, names: list[str], first: dt.date | None, where: str) -> tuple[str, list[Any]]:
    days, parameters = _published_days(names, first)
    return f"select * from {dataset.source} as published where ({where}) and ({days}) order by all", parameters


def _write_dataset_csv(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, folder: Path, k: int, first: dt.date | None = None
) -> Written:
    columns = _columns(con, dataset.source)
    names = [name for name, _ in columns]
    blanked = _blanked_columns(columns)
    suppressed_at = names.index("is_suppressed") if "is_suppressed" in names else None
    rows_written = 0

    def rows() -> Iterator[list[Any]]:
        cursor = con.execute(*_published_query(dataset, names, first, dataset.where))
        for batch in _batches(cursor):
            for row in batch:
                values = list(row)
                if suppressed_at is not None and values[suppressed_at]:
                    for i in blanked:
                        values[i] = None
                yield values

    out_names = names

    def write(handle: TextIO) -> None:
        nonlocal rows_written
        converters = _cell_converters(kind for _, kind in columns)
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(out_names)
        for values in rows():
            for index, convert in converters:
                values[index] = convert(values[index])
            writer.writerow(values)
            rows_written += 1

    changed = atomic_write(folder / f"{dataset.name}.csv", write, encoding=CSV_ENCODING, newline="")
    return Written(
        f"{dataset.name}.csv",
        "CSV",
        dataset.name,
        dataset.title_ja,
        dataset.title_en,
        dataset.description_ja,
        dataset.description_en,
        rows_written,
        _dictionary_columns(dataset.name, out_names),
        changed,
    )


def _facility_points(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[float, float]]:
    if not _exists(con, "ref.facilities"):
        return {}
    return {row[0]: (float(row[1]), float(row[2])) for row in run(con, "exports/facility_points").fetchall()}


def _geometry(kind: str, record: dict[str, Any], points: dict[str, tuple[float, float]]) -> dict[str, Any] | None:
    def coordinates(facility_id: Any) -> list[float] | None:
        point = points.get(facility_id) if facility_id is not None else None
        return [round(point[0], 6), round(point[1], 6)] if point else None

    if kind == "point":
        point = coordinates(record.get("facility_id"))
        return {"type": "Point", "coordinates": point} if point else None
    start, end = coordinates(record.get("from_facility_id")), coordinates(record.get("to_facility_id"))
    return {"type": "LineString", "coordinates": [start, end]} if start and end and start != end else None


def _write_dataset_geojson(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    folder: Path,
    points: dict[str, tuple[float, float]],
    first: dt.date | None = None,
) -> Written:
    assert dataset.geometry is not None
    columns = _columns(con, dataset.source)
    names = [name for name, _ in columns]
    blanked = _blanked_columns(columns)
    features = 0

    def write(handle: TextIO) -> None:
        nonlocal features
        header = {
            "type": "FeatureCollection",
            "name": dataset.name,
            "title": f"{dataset.title_ja} / {dataset.title_en}",
            "license": LICENCE["id"],
            "license_url": LICENCE["url"],
            "attribution": f"{CREDIT_JA} / {CREDIT_EN}; {OSM_ATTRIBUTION['text']} ({OSM_ATTRIBUTION['license']}, {OSM_ATTRIBUTION['url']})",
        }
        text = json.dumps(header, ensure_ascii=False)
        handle.write(text[:-1] + ', "features": [\n')
        cursor = con.execute(*_published_query(dataset, names, first, f"({dataset.where}) and ({dataset.geo_where})"))
        for batch in _batches(cursor):
            for row in batch:
                record = dict(zip(names, row))
                if record.get("is_suppressed"):
                    for i in blanked:
                        record[names[i]] = None
                feature = {
                    "type": "Feature",
                    "geometry": _geometry(dataset.geometry or "point", record, points),
                    "properties": {name: _json_value(value) for name, value in record.items()},
                }
                handle.write((",\n" if features else "") + json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
                features += 1
        handle.write("\n]}\n")

    changed = atomic_write(folder / f"{dataset.name}.geojson", write)
    description_ja = dataset.description_ja + (f" {dataset.geo_note_ja}" if dataset.geo_note_ja else "")
    description_en = dataset.description_en + (f" {dataset.geo_note_en}" if dataset.geo_note_en else "")
    return Written(
        f"{dataset.name}.geojson",
        "GeoJSON",
        dataset.name,
        dataset.title_ja,
        dataset.title_en,
        description_ja,
        description_en,
        features,
        [("geometry", *GEOJSON_GEOMETRY_DOC[dataset.geometry])] + _dictionary_columns(dataset.name, names),
        changed,
    )


def _indicator_files(folder: Path, definition: IndicatorDefinition) -> list[Written]:
    """The indicator CSVs, listed in the catalogue as they are.

    flowlib.opendata.write_files writes them into this folder just before (same format:
    UTF-8 with BOM, neutralised cells). Until the indicator marts exist they are absent.
    """
    written = []
    for name in INDICATOR_FILES:
        path = folder / name
        if not path.is_file():
            log.info("open data: %s not written (no indicator mart yet)", name)
            continue
        os.chmod(path, 0o644)  # created 0600 by its temp file; the web server reads as another user
        with path.open(encoding=CSV_ENCODING, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = sum(1 for _ in reader)
        stem = path.stem
        title_ja, title_en, description_ja, description_en = indicator_datasets(definition)[stem]
        written.append(
            Written(
                path.name,
                "CSV",
                stem,
                title_ja,
                title_en,
                description_ja,
                description_en,
                rows,
                _dictionary_columns(stem, header),
                False,
            )
        )
    return written


def _write_dictionary(folder: Path, files: list[Written]) -> Written:
    def write(handle: TextIO) -> None:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["file", "column", "type", "unit", "description_ja", "description_en"])
        for item in files:
            for column in item.columns:
                writer.writerow([csv_cell(v) for v in (item.file, *column)])

    changed = atomic_write(folder / DICTIONARY_FILE, write, encoding=CSV_ENCODING, newline="")
    columns = [
        ("file", "string", "", "ファイル名", "file name"),
        ("column", "string", "", "列名（GeoJSON はプロパティ名）", "column (GeoJSON: property)"),
        ("type", "string", "", "型: string, integer, number, boolean, date, geometry", "type"),
        ("unit", "string", "", "単位", "unit"),
        ("description_ja", "string", "", "説明（日本語）", "description, Japanese"),
        ("description_en", "string", "", "説明（英語）", "description, English"),
    ]
    rows = sum(len(item.columns) for item in files)
    return Written(
        DICTIONARY_FILE,
        "CSV",
        "column_dictionary",
        "項目定義",
        "Column dictionary",
        "全ファイルの列の説明。",
        "Every column of every file.",
        rows,
        columns,
        changed,
    )


LICENCE_TEXT = """長崎市 観光動態 オープンデータ / Nagasaki City tourism flow open data

このフォルダのデータは、クリエイティブ・コモンズ 表示 4.0 国際 ライセンス（CC BY 4.0）で提供します。
https://creativecommons.org/licenses/by/4.0/deed.ja
利用の際は次のように出典を表示してください: 「出典：長崎市 観光動態データ（CC BY 4.0）」
（加工した場合は「長崎市 観光動態データ（CC BY 4.0）を加工して作成」）

施設の座標（facilities.*、*.geojson の geometry、lat / lon 列）は OpenStreetMap に由来します。
© OpenStreetMap contributors, Open Database License (ODbL) 1.0, https://www.openstreetmap.org/copyright
座標を利用する場合は OpenStreetMap のクレジットを表示し、ODbL の条件に従ってください。

The data in this folder is licensed under Creative Commons Attribution 4.0 International (CC BY 4.0).
Credit: "Source: Nagasaki City tourism flow data (CC BY 4.0)".
Facility coordinates (facilities.*, GeoJSON geometries, lat / lon columns) come from OpenStreetMap:
© OpenStreetMap contributors, ODbL 1.0, https://www.openstreetmap.org/copyright. Credit OpenStreetMap and
follow the ODbL when you use them.

プライバシー / Privacy: 人数は k 人未満のセルを秘匿し（is_suppressed = TRUE、値は空欄）、他のセルから逆算できない
ようにしています。個人を特定する情報は含みません。 Counts below k people are suppressed (is_suppressed = TRUE,
values empty) and protected against recovery from other cells; the files hold no personal data.
"""


def _write_catalogue(folder: Path, files: list[Written], k: int, first: dt.date | None = None) -> list[Path]:
    entries = [item.entry(folder) for item in files]
    catalogue = {
        "title_ja": "長崎市 観光動態データ",
        "title_en": "Nagasaki City tourism flow data",
        "publisher_ja": PUBLISHER[0],
        "publisher_en": PUBLISHER[1],
        "license": LICENCE,
        "credit_ja": CREDIT_JA,
        "credit_en": CREDIT_EN,
        "attribution": [OSM_ATTRIBUTION],
        "min_cell_count": k,
        **({"first_service_date": first.isoformat()} if first else {}),
        "csv_encoding": "UTF-8 with BOM, CRLF",
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": entries,
    }
    atomic_write(folder / CATALOGUE_FILE, lambda h: h.write(json.dumps(catalogue, ensure_ascii=False, indent=2) + "\n"))
    atomic_write(folder / "LICENSE.txt", lambda h: h.write(LICENCE_TEXT))
    atomic_write(folder / "index.html", lambda h: h.write(catalogue_page(catalogue)))
    return [folder / CATALOGUE_FILE, folder / "LICENSE.txt", folder / "index.html"]


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} B"
    if size < 1024 * 1024:
        return f"{size / 1024:,.1f} KiB"
    return f"{size / 1024 / 1024:,.1f} MiB"


def catalogue_page(catalogue: dict[str, Any]) -> str:
    """A plain bilingual page listing every file (no script, no remote asset)."""
    e = html.escape
    rows = "\n".join(
        f'<tr data-file="{e(item["file"])}"><td><a href="{e(item["file"])}">{e(item["file"])}</a></td><td>{e(item["format"])}</td>'
        f'<td><span class="lang-ja" lang="ja">{e(item["title_ja"])}</span><br><span lang="en">{e(item["title_en"])}</span></td>'
        f'<td class="num">{item["rows"]:,}</td><td class="num">{_size(item["bytes"] or 0)}</td>'
        f"<td><small>{e(item['description_ja'])}<br>{e(item['description_en'])}</small></td></tr>"
        for item in catalogue["files"]
    )
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(catalogue["title_ja"])} / {e(catalogue["title_en"])}</title>
<link rel="stylesheet" href="../assets/bootstrap/bootstrap.min.css">
<style>body {{ max-width: 1100px; margin: 1rem auto; padding: 0 1rem; }} td.num {{ text-align: right; white-space: nowrap; }}</style>
</head>
<body>
<p><a href="../index.html">← ダッシュボード一覧 / Dashboards</a></p>
<h1>{e(catalogue["title_ja"])} <small class="text-muted">{e(catalogue["title_en"])}</small></h1>
<section id="licence">
<h2>ライセンス / Licence</h2>
<p>統計値: <a href="{e(LICENCE["url"])}">CC BY 4.0</a>（{e(PUBLISHER[0])}）。{e(CREDIT_JA)}<br>
Figures: <a href="{e(LICENCE["url"])}">CC BY 4.0</a> ({e(PUBLISHER[1])}). {e(CREDIT_EN)}</p>
<p>施設の座標 / Facility coordinates: © <a href="{e(OSM_ATTRIBUTION["url"])}">OpenStreetMap contributors</a>, ODbL 1.0.</p>
<p>詳細 / details: <a href="LICENSE.txt">LICENSE.txt</a> · 項目定義 / column dictionary: <a href="{DICTIONARY_FILE}">{DICTIONARY_FILE}</a>
 · <a href="{CATALOGUE_FILE}">{CATALOGUE_FILE}</a></p>
<p><small>CSV: UTF-8（BOM付き）、CRLF、TRUE/FALSE、空欄 = 値なし。k = {catalogue["min_cell_count"]} 人未満は秘匿（is_suppressed = TRUE）。
更新 / updated {e(catalogue["generated_at"])}</small></p>
</section>
<table class="table table-sm" id="files">
<thead><tr><th>ファイル / file</th><th>形式</th><th>内容 / content</th><th class="num">行 / rows</th><th class="num">サイズ</th><th>説明 / description</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""


def write_open_data(
    con: duckdb.DuckDBPyConnection, settings: Settings, folder: Path | None = None, *, only: Collection[str] | None = None
) -> list[Path]:
    """Write every open-data file into ``folder`` (default ``dashboards/exports/``); returns
    the paths written.

    Reads marts only (a read-only connection is enough). Marts missing from the warehouse
    are skipped (their old files removed); files are replaced atomically. The nightly step
    writes into a staging version and audits it first (:mod:`flowlib.opendata`). ``only``
    (dataset names) writes those CSV files and nothing else: no GeoJSON, dictionary or
    catalogue (the disclosure settlement's scratch folder, which only the audit reads).
    """
    folder = folder or settings.dashboards_dir / EXPORTS_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    k = settings.min_cell_count
    if only is not None:
        return [
            folder / _write_dataset_csv(con, dataset, folder, k, settings.open_data_first).file
            for dataset in DATASETS
            if dataset.name in only and _exists(con, dataset.source)
        ]
    points = _facility_points(con)
    files: list[Written] = []
    for dataset in DATASETS:
        if not _exists(con, dataset.source):
            log.info("open data: %s not in the warehouse; %s skipped", dataset.source, dataset.name)
            for suffix in (".csv", ".geojson"):
                (folder / f"{dataset.name}{suffix}").unlink(missing_ok=True)
            continue
        files.append(_write_dataset_csv(con, dataset, folder, k, settings.open_data_first))
        if dataset.geometry:
            files.append(_write_dataset_geojson(con, dataset, folder, points, settings.open_data_first))
    files.extend(_indicator_files(folder, load_definition(settings.indicator_file)))
    undocumented = [f"{item.file}:{column[0]}" for item in files for column in item.columns if column[3] == UNDOCUMENTED[2]]
    if undocumented:
        log.warning("open data: columns without a description in sql/marts/columns.yaml: %s", ", ".join(undocumented))
    dictionary = _write_dictionary(folder, files)
    paths = [folder / item.file for item in files] + [folder / dictionary.file]
    paths += _write_catalogue(folder, [*files, dictionary], k, settings.open_data_first)
    log.info("open data: %d files in %s (%d changed)", len(paths), folder, sum(item.changed for item in files))
    return paths
