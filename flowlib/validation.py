"""Data-quality gate for parsed deliveries, with Great Expectations as the source of truth.

Ingest parses one delivered file into a canonical frame (plus ``line_number``) and calls
``validate_frame`` before loading it. Table rules (column set, empty file, volume against the
trailing median, share of unknown facility/AP ids) decide whether the file is loaded at all;
row rules decide which lines go to ``ops.quarantine`` via ``quarantine_frame``. The rules live
in ``expectations/<table>.json`` as GX 1.x ExpectationSuites so they can be read, diffed and
rendered as Data Docs without reading this code.

Importing Great Expectations takes seconds and would slow down DAG parsing, so this module
imports it (and pandas) only inside functions and keeps one ephemeral GX context per process.
"""

from __future__ import annotations

import copy
import hashlib
import html
import itertools
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flowlib.atomic import write_text_atomic
from flowlib.config import get_settings
from flowlib.stable_ids import number_ids

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations import ExpectationSuite
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

TABLES = ("entry_log", "wifi_ap_count", "wifi_sensor", "survey_response", "cruise_call", "admission_count")
LINE_COLUMN = "line_number"
#: A file where more than this share of rows names an unknown facility/AP is rejected whole.
DEFAULT_UNKNOWN_ID_THRESHOLD = 0.05
#: A file with fewer than median/5 or more than median*5 rows is rejected as a volume anomaly.
VOLUME_FACTOR = 5
#: Failing line numbers kept in the stored GX result; the full list is in ValidationReport.
RESULT_SAMPLE_LINES = 20

# COMPLETE gives every failing row; with line_number as the frame's named index GX reports
# failures as one list of line numbers (fast: no per-row lookups) and, with
# exclude_unexpected_values, never copies cell values (possibly raw card ids) into the result.
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [LINE_COLUMN],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}
_DATASOURCE = "ingest"
_SITE = "nagasaki_tourism_flow"
_DOCS_PARTS = ("index.html", "static", "expectations", "validations")
#: Marks a folder as ours, so a mistyped out_dir is never emptied.
_DOCS_MARKER = ".built-by-flowlib-validation"


@dataclass(frozen=True)
class ValidationReport:
    """What ingest needs to decide: load the file, quarantine some lines, or reject it."""

    table: str
    file_name: str
    #: True when every table-level rule passed; row failures alone do not reject a file.
    success: bool
    batch_failures: list[str]
    #: line_number -> names of the failed expectations, e.g. "expect_column_values_to_be_between(amount_jpy)".
    row_failures: dict[int, list[str]]
    #: {"evaluated": n, "successful": m} over all expectations, as GX counted them.
    statistics: dict[str, int]
    #: The GX suite validation result as JSON, without cell values, for build_data_docs.
    gx_result_json: dict[str, Any]


@dataclass(frozen=True)
class _Gx:
    context: AbstractDataContext
    batch_definitions: dict[str, BatchDefinition]


_gx_state: _Gx | None = None
_gx_lock = threading.Lock()


def _import_gx() -> ModuleType:
    """Import GX with analytics off and its INFO chatter (also at import time) silenced."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _gx() -> _Gx:
    """The process-wide ephemeral context with one whole-dataframe batch definition per table."""
    global _gx_state
    with _gx_lock:
        if _gx_state is None:
            gx = _import_gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            # No temp docs site (build_data_docs makes its own) and no tqdm bars in task logs.
            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            )
            # GX fingerprints every in-memory batch below this many bytes (an md5 over a hash
            # of every cell, about 40 % of validating a chunk) only to label the batch in its
            # results; ingest labels its chunks itself, so no batch is fingerprinted.
            from great_expectations.execution_engine import pandas_execution_engine

            pandas_execution_engine.HASH_THRESHOLD = 0
            context = gx.get_context(mode="ephemeral", project_config=config)
            source = context.data_sources.add_pandas(_DATASOURCE)
            definitions = {
                table: source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table) for table in TABLES
            }
            _gx_state = _Gx(context, definitions)
        return _gx_state


def load_suite(table: str) -> ExpectationSuite:
    """The suite stored in expectations/<table>.json."""
    return _to_suite(*_suite_json(table))


def _suite_json(table: str) -> tuple[Path, dict[str, Any]]:
    if table not in TABLES:
        raise ValueError(f"Unknown table {table!r}; expected one of {', '.join(TABLES)}.")
    path = get_settings().expectations_dir / f"{table}.json"
    return path, json.loads(path.read_text(encoding="utf-8"))


def _to_suite(path: Path, data: dict[str, Any]) -> ExpectationSuite:
    """Build the suite; GX logs and drops expectations it cannot parse, and a gate with a
    silently missing rule is worse than no gate, so that is an error here."""
    gx = _import_gx()
    suite = gx.ExpectationSuite(**data)
    dropped = len(data["expectations"]) - len(suite.expectations)
    if dropped:
        raise ValueError(
            f"{path}: {dropped} expectation(s) are not valid for Great Expectations "
            f"{gx.__version__} (see the error logged above); fix the file."
        )
    return suite


def validate_frame(
    df: pd.DataFrame,
    table: str,
    *,
    file_name: str,
    known_ids: set[str] | None = None,
    trailing_median_rows: float | None = None,
    unknown_id_threshold: float = DEFAULT_UNKNOWN_ID_THRESHOLD,
) -> ValidationReport:
    """Run the table's suite on one parsed file (one chunk of ``validate_chunks``).

    ``known_ids`` adds the known facility/AP id check (row-level, and table-level above
    ``unknown_id_threshold``); ``trailing_median_rows`` (None or 0 = no history yet) adds the
    volume check.
    """
    return validate_chunks(
        [df],
        table,
        file_name=file_name,
        known_ids=known_ids,
        trailing_median_rows=trailing_median_rows,
        unknown_id_threshold=unknown_id_threshold,
    )


def _suite_for(table: str, known_ids: set[str] | None, trailing_median_rows: float | None, threshold: float) -> ExpectationSuite:
    gxe = _import_gx().expectations
    path, data = _suite_json(table)
    extra: list[Any] = []
    if known_ids is not None:
        id_column = data["meta"].get("known_id_column")
        if id_column is None:
            raise ValueError(f"{table} has no id column to check known ids against.")
        extra.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=id_column,
                value_set=sorted(known_ids),
                mostly=1 - threshold,
                meta={"check": "known_ids", "unknown_id_threshold": threshold},
            )
        )
    if trailing_median_rows:
        extra.append(
            gxe.ExpectTableRowCountToBeBetween(
                min_value=math.ceil(trailing_median_rows / VOLUME_FACTOR),
                max_value=math.floor(trailing_median_rows * VOLUME_FACTOR),
                meta={"check": "volume", "trailing_median_rows": trailing_median_rows},
            )
        )
    return _to_suite(path, {**data, "expectations": [*data["expectations"], *extra]})


#: the largest whole number a float64 holds exactly
_EXACT_FLOAT_INTEGER = 2**53


def _vectorisable(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its whole-number columns as GX's pandas engine compares them in one
    vectorised step: it does so only for int64 and float64 columns and calls Python once
    per value for any other (the int32 columns DuckDB hands over, pandas' nullable Int64),
    about a quarter of validating a chunk. The same numbers, so the same verdicts: narrower
    integers widen to int64; nullable ones with a missing value become float64, where every
    whole number up to 2**53 is exact and a missing value is NaN, which GX treats as missing."""
    import numpy as np
    import pandas as pd

    changed = {}
    for column in df.columns:
        dtype = df[column].dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iu" and dtype != np.int64 and dtype.itemsize <= 4:
            changed[column] = df[column].astype("int64")
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype):
            values = df[column]
            if values.isna().any():
                present = values.dropna()
                if present.empty or present.abs().max() <= _EXACT_FLOAT_INTEGER:
                    changed[column] = values.astype("float64")
            elif dtype.itemsize <= 8 and not (dtype.kind == "u" and dtype.itemsize == 8):
                changed[column] = values.astype("int64")
    return df.assign(**changed) if changed else df


def _run(df: pd.DataFrame, table: str, suite: ExpectationSuite) -> ExpectationSuiteValidationResult:
    frame = _vectorisable(df).set_index(LINE_COLUMN)
    batch = _gx().batch_definitions[table].get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format=_RESULT_FORMAT)


def _whole_batch(config: ExpectationConfiguration) -> bool:
    """Rules that count the rows of the whole delivery: never judged on one chunk."""
    return config.type == "expect_table_row_count_to_be_between"


def validate_chunks(
    frames: Iterable[pd.DataFrame],
    table: str,
    *,
    file_name: str,
    known_ids: set[str] | None = None,
    trailing_median_rows: float | None = None,
    unknown_id_threshold: float = DEFAULT_UNKNOWN_ID_THRESHOLD,
    on_row_failures: Callable[[dict[int, list[str]], int], None] | None = None,
) -> ValidationReport:
    """Run the table's suite on a delivery given as consecutive chunks (bounded memory:
    docs/reliability.md, "Bounded resources"), with the verdict one run on the whole would give.

    Row rules run on each chunk; a rule's counts (rows, missing, unexpected) are summed over
    the chunks, so a tolerance (``mostly``) is judged on the whole delivery; row-count rules
    (not empty, volume) run once on the delivery's total. One chunk is one plain GX run.
    ``on_row_failures(failures, first_row)`` is called after each chunk with that chunk's
    failing row numbers (``first_row``: the chunk's first ``line_number``), while the caller
    still knows where the chunk's rows came from.
    """
    iterator = iter(frames)
    first = next(iterator)
    if LINE_COLUMN not in first.columns:
        raise ValueError(
            f"{table} file {file_name}: the frame has no {LINE_COLUMN} column; ingest must add it before validation."
        )
    suite = _suite_for(table, known_ids, trailing_median_rows, unknown_id_threshold)
    second = next(iterator, None)
    row_failures: dict[int, list[str]] = defaultdict(list)
    lines_by_rule: dict[int, list[int]] = defaultdict(list)

    def collect(result: ExpectationSuiteValidationResult, df: pd.DataFrame) -> None:
        chunk: dict[int, list[str]] = defaultdict(list)
        for position, item in enumerate(result.results):
            name = _expectation_name(item.expectation_config)
            if _exception_message(item.exception_info) is not None:
                continue
            lines = _failed_lines(item.result)
            lines_by_rule[position].extend(lines)
            for line in lines:
                chunk[line].append(name)
        for line, names in chunk.items():
            row_failures[line].extend(names)
        if on_row_failures is not None:
            on_row_failures(
                {line: sorted(names) for line, names in chunk.items()}, int(df[LINE_COLUMN].iloc[0]) if len(df) else 1
            )

    if second is None:
        result = _run(first, table, suite)
        collect(result, first)
    else:
        gx = _import_gx()
        per_chunk = gx.ExpectationSuite(
            name=suite.name, expectations=[e for e in suite.expectations if not _whole_batch(e.configuration)]
        )
        whole = gx.ExpectationSuite(
            name=suite.name, expectations=[e for e in suite.expectations if _whole_batch(e.configuration)]
        )
        import pandas as pd

        result, total = None, 0
        for df in itertools.chain([first, second], iterator):
            if LINE_COLUMN not in df.columns:
                raise ValueError(f"{table} file {file_name}: a chunk has no {LINE_COLUMN} column.")
            chunk_result = _run(df, table, per_chunk)
            collect(chunk_result, df)
            result = chunk_result if result is None else _add_chunk(result, chunk_result)
            total += len(df)
        if whole.expectations:
            counted = _run(pd.DataFrame({LINE_COLUMN: range(1, total + 1)}), table, whole)
            result.results.extend(counted.results)
        _settle(result)

    prefix = f"{table} file {file_name}:"
    present = set(first.columns)
    batch_failures: list[str] = []
    for position, item in enumerate(result.results):
        config = item.expectation_config
        name = _expectation_name(config)
        error = _exception_message(item.exception_info)
        if error is not None:
            # A missing column is already named by the column-set failure.
            if set(_columns(config)) <= present:
                batch_failures.append(f"{prefix} could not evaluate {name}: {error}")
            continue
        if not item.success and _is_batch_level(config):
            batch_failures.append(_batch_message(prefix, name, config, item.result))
        _shrink(item.result, lines_by_rule.get(position, []))

    for names in row_failures.values():
        names.sort()
    statistics = {
        "evaluated": int(result.statistics["evaluated_expectations"]),
        "successful": int(result.statistics["successful_expectations"]),
    }
    return ValidationReport(
        table=table,
        file_name=file_name,
        success=not batch_failures,
        batch_failures=batch_failures,
        row_failures=dict(row_failures),
        statistics=statistics,
        gx_result_json=_result_json(result, table, file_name, batch_failures, len(row_failures)),
    )


_SUMMED = ("element_count", "missing_count", "unexpected_count")


def _add_chunk(
    total: ExpectationSuiteValidationResult, chunk: ExpectationSuiteValidationResult
) -> ExpectationSuiteValidationResult:
    """Fold one chunk's result into the running one: counts summed, the first exception and
    the first failing observation kept (the same rule on every chunk, in the same order)."""
    for kept, item in zip(total.results, chunk.results, strict=True):
        if kept.exception_info and _exception_message(kept.exception_info):
            continue
        if _exception_message(item.exception_info) is not None:
            kept.exception_info = item.exception_info
            continue
        for key in _SUMMED:
            if key in kept.result and key in item.result:
                kept.result[key] += item.result[key]
        if "unexpected_index_list" in item.result:
            kept.result.setdefault("unexpected_index_list", [])
        kept.success = bool(kept.success and item.success)
    return total


def _settle(result: ExpectationSuiteValidationResult) -> None:
    """Percentages and verdicts of the summed counts, as one run over the whole would give."""
    for item in result.results:
        counts = item.result
        if _exception_message(item.exception_info) is not None or "unexpected_count" not in counts:
            continue
        elements = counts.get("element_count", 0)
        missing = counts.get("missing_count", 0)
        present = elements - missing
        unexpected = counts["unexpected_count"]
        if "missing_percent" in counts:
            counts["missing_percent"] = 100 * missing / elements if elements else None
        counts["unexpected_percent"] = 100 * unexpected / present if present else None
        counts["unexpected_percent_total"] = 100 * unexpected / elements if elements else None
        counts["unexpected_percent_nonmissing"] = counts["unexpected_percent"]
        mostly = item.expectation_config.kwargs.get("mostly", 1)
        item.success = (not present) or (present - unexpected) / present >= mostly
    result.success = all(item.success for item in result.results)
    result.statistics["evaluated_expectations"] = len(result.results)
    result.statistics["successful_expectations"] = sum(1 for item in result.results if item.success)
    result.statistics["unsuccessful_expectations"] = len(result.results) - result.statistics["successful_expectations"]
    result.statistics["success_percent"] = 100 * result.statistics["successful_expectations"] / max(len(result.results), 1)


def quarantine_frame(df: pd.DataFrame, report: ValidationReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (rows to load, rows to quarantine); quarantined rows keep their values plus `reason`.

    Only row failures are applied: when ``report.success`` is False the caller rejects the
    whole file instead.
    """
    failed = df[LINE_COLUMN].isin(list(report.row_failures))
    bad = df[failed].copy()
    bad["reason"] = ["; ".join(report.row_failures[int(n)]) for n in bad[LINE_COLUMN]]
    return df[~failed].copy(), bad


def build_data_docs(results: list[dict[str, Any]], out_dir: Path) -> Path:
    """Render stored ``gx_result_json`` values as a self-contained static site; returns index.html.

    GX's SiteBuilder needs a file-backed context, so a throwaway one in a temp dir holds the
    results. Its pages load jQuery, Bootstrap, Vega and fonts from CDNs and a GX logo from S3
    (with the context id in the URL), and its index is drawn by JavaScript only; the pages are
    therefore stripped of scripts and remote assets, and the index is rewritten as plain HTML.
    Only index.html, static/, expectations/ and validations/ under ``out_dir`` are replaced,
    and only when ``out_dir`` is new, empty or was built by this function before.

    A result's page is a function of the result, its suite and this code with its GX version:
    ``out_dir/.pages.json`` records that digest per page, and only results whose page is
    missing or whose digest changed are rendered (a night adds a few results to hundreds);
    pages of results no longer given are removed. The site equals one built from scratch
    (tests/test_validation.py).
    """
    gx = _import_gx()
    from great_expectations.core.expectation_validation_result import (
        expectationSuiteValidationResultSchema,
    )
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / _DOCS_MARKER).exists():
        raise ValueError(
            f"{out_dir} is not empty and was not built by build_data_docs; "
            "refusing to replace its contents. Choose an empty or new folder."
        )
    tables = sorted({data["meta"]["flow"]["table"] for data in results})
    suites = {table: load_suite(table) for table in tables}
    suite_json = {table: suite.to_json_dict() for table, suite in suites.items()}
    code = _docs_code(gx.__version__)
    pages: dict[str, str] = {}  # page -> digest of what it shows
    keys: dict[str, Any] = {}
    entries: list[tuple[dict[str, Any], str]] = []
    for data in results:
        run_id = data["meta"]["run_id"]
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=data["suite_name"]),
            run_id=gx.RunIdentifier(run_name=_path_safe(run_id["run_name"]), run_time=run_id["run_time"]),
            batch_identifier=data["meta"]["flow"]["table"],
        )
        page = "/".join(("validations", *key.to_tuple())) + ".html"
        suite = suite_json[data["meta"]["flow"]["table"]]
        pages[page] = hashlib.sha256(json.dumps([code, data, suite], sort_keys=True, default=str).encode()).hexdigest()
        keys[page] = (key, data)
        entries.append((data, page))
    kept = _recorded_pages(out_dir)
    fresh = [page for page in pages if kept.get(page) != pages[page] or not (out_dir / page).is_file()]
    with tempfile.TemporaryDirectory(prefix="flow-data-docs-") as tmp:
        site_dir = Path(tmp) / "site"
        context = gx.get_context(mode="file", project_root_dir=tmp)
        try:
            for name in list(context.list_data_docs_sites()):
                context.delete_data_docs_site(name)
            context.add_data_docs_site(
                _SITE,
                {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(site_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
            # The suites give each result page a working link to the rules it was checked against.
            for table in tables:
                context.suites.add(suites[table])
            for page in fresh:
                key, data = keys[page]
                # The store and renderers adjust the loaded object; the caller's dicts stay as they are.
                context.validation_results_store.set(key, expectationSuiteValidationResultSchema.load(copy.deepcopy(data)))
            context.build_data_docs(site_names=[_SITE])
        finally:
            # get_context() made the file context GX's current one; give the slot back.
            from great_expectations.data_context import set_context

            set_context(_gx_state.context if _gx_state else None)

        _make_self_contained(site_dir)
        (site_dir / "index.html").write_text(_index_html(entries), encoding="utf-8")
        out_dir.mkdir(parents=True, exist_ok=True)
        for part in _DOCS_PARTS:
            if part == "validations":
                continue
            target = out_dir / part
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if (site_dir / part).exists():
                shutil.move(site_dir / part, target)
        _merge_pages(site_dir, out_dir, fresh, set(pages))
        (out_dir / _DOCS_MARKER).touch()
        write_text_atomic(out_dir / _DOCS_PAGES, json.dumps(pages, sort_keys=True, indent=1) + "\n")
    return out_dir / "index.html"


#: per result page of the data docs, the digest of what it shows (build_data_docs)
_DOCS_PAGES = ".pages.json"


def _docs_code(gx_version: str) -> str:
    """What renders a page besides its result and suite: this module and GX's version."""
    return hashlib.sha256(Path(__file__).read_bytes() + gx_version.encode()).hexdigest()


def _recorded_pages(out_dir: Path) -> dict[str, str]:
    """The pages an earlier build recorded (none when unreadable: everything is rendered)."""
    try:
        recorded = json.loads((out_dir / _DOCS_PAGES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _merge_pages(site_dir: Path, out_dir: Path, fresh: list[str], wanted: set[str]) -> None:
    """Move the pages just rendered into ``out_dir/validations`` and remove every page there
    that no given result has (with the folders left empty)."""
    for page in fresh:
        target = out_dir / page
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(site_dir / page, target)
    validations = out_dir / "validations"
    if not validations.is_dir():
        return
    for path in sorted(validations.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path.relative_to(out_dir).as_posix() not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _path_safe(name: str) -> str:
    """File labels carry '/', '*' and spaces; GX turns run names into directory names."""
    return re.sub(r"[^\w.-]+", "_", name)


def _expectation_name(config: ExpectationConfiguration) -> str:
    return f"{config.type}({', '.join(_columns(config))})"


def _columns(config: ExpectationConfiguration) -> list[str]:
    kwargs = config.kwargs
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list", []))


def _is_batch_level(config: ExpectationConfiguration) -> bool:
    """Table rules, and row rules that carry a tolerance (`mostly`), judge the whole file."""
    return config.type.startswith("expect_table_") or config.kwargs.get("mostly", 1) < 1


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """GX reports either one exception dict or one per failed metric; None when nothing raised."""
    info = info or {}
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = [i["exception_message"] for i in infos if i.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def _failed_lines(result: dict[str, Any]) -> list[int]:
    """Line numbers from GX's `unexpected_index_list` ([{"line_number": [..]}] with our format)."""
    lines: list[int] = []
    for entry in result.get("unexpected_index_list") or []:
        value = entry[LINE_COLUMN]
        lines.extend(int(n) for n in (value if isinstance(value, list) else [value]))
    return lines


def _shrink(result: dict[str, Any], lines: list[int]) -> None:
    """Keep a sample of failing lines in the stored result; the full list is in the report."""
    if "unexpected_index_list" in result:
        del result["unexpected_index_list"]
        result["partial_unexpected_index_list"] = [{LINE_COLUMN: lines[:RESULT_SAMPLE_LINES]}] if lines else []


def _batch_message(prefix: str, name: str, config: ExpectationConfiguration, result: dict[str, Any]) -> str:
    check = config.meta.get("check")
    observed = result.get("observed_value")
    if config.type == "expect_table_columns_to_match_set":
        expected, seen = set(config.kwargs["column_set"]), set(observed or [])
        problems = []
        if missing := sorted(expected - seen):
            problems.append("missing " + ", ".join(missing))
        if extra := sorted(seen - expected):
            problems.append("unexpected " + ", ".join(extra))
        return f"{prefix} the columns do not match the data contract ({'; '.join(problems)})."
    if check == "volume":
        median = config.meta["trailing_median_rows"]
        return (
            f"{prefix} {observed:,} rows is outside the expected volume of "
            f"{config.kwargs['min_value']:,}-{config.kwargs['max_value']:,} rows "
            f"(trailing median {median:,.0f} rows, allowed 1/{VOLUME_FACTOR} to {VOLUME_FACTOR}x)."
        )
    if config.type == "expect_table_row_count_to_be_between" and observed == 0:
        return f"{prefix} the file has no data rows (empty delivery)."
    if check == "known_ids":
        percent = result.get("unexpected_percent") or 0.0
        threshold = config.meta["unknown_id_threshold"] * 100
        return f"{prefix} {percent:.3g} % of rows have an unknown {config.kwargs['column']} (threshold {threshold:.3g} %)."
    return f"{prefix} {name} failed (observed {observed})."


def _result_json(
    result: ExpectationSuiteValidationResult,
    table: str,
    file_name: str,
    batch_failures: list[str],
    quarantined_rows: int,
) -> dict[str, Any]:
    """The GX result as JSON with the run identity Data Docs needs and this gate's verdict."""
    data = result.to_json_dict()
    now = datetime.now(UTC).isoformat()
    data["meta"]["run_id"] = {"run_name": file_name, "run_time": now}
    data["meta"]["validation_time"] = now
    data["meta"]["flow"] = {
        "table": table,
        "file_name": file_name,
        "batch_success": not batch_failures,
        "batch_failures": batch_failures,
        "quarantined_rows": quarantined_rows,
    }
    return data


_SCRIPT = re.compile(r"<script\b.*?</script>", re.IGNORECASE | re.DOTALL)
_REMOTE_TAG = re.compile(r"<(?:link|img)\b[^>]*\s(?:href|src)=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
_REMOTE_CSS_URL = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.IGNORECASE)
_FOOTER = re.compile(r"<footer\b.*?</footer>", re.IGNORECASE | re.DOTALL)
# Bootstrap no longer arrives from the CDN; enough layout to keep GX's tables readable.
_OFFLINE_CSS = """<style>
body { font-family: system-ui, sans-serif; margin: 1rem 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; vertical-align: top; text-align: left; }
.ok { color: #1a7f37; } .fail { color: #c62828; font-weight: bold; }
.cooltip .top { display: none; }
.fa-check-circle::before { content: "passed"; color: #1a7f37; }
.fa-times::before { content: "failed"; color: #c62828; font-weight: bold; }
</style>
"""


#: GX names a page's collapsible blocks with random UUIDs: the same result gave other bytes
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _make_self_contained(site_dir: Path) -> None:
    """Drop every script and remote asset so the site opens offline and calls no third party."""
    for page in site_dir.rglob("*.html"):
        text = number_ids(page.read_text(encoding="utf-8"), _UUID, lambda rank: f"block-{rank}")
        for pattern in (_SCRIPT, _REMOTE_TAG, _FOOTER):
            text = pattern.sub("", text)
        text = _REMOTE_CSS_URL.sub("none", text).replace("</head>", _OFFLINE_CSS + "</head>", 1)
        page.write_text(text, encoding="utf-8")
    for sheet in site_dir.rglob("*.css"):
        sheet.write_text(_REMOTE_CSS_URL.sub("none", sheet.read_text(encoding="utf-8")), encoding="utf-8")


def _index_html(entries: list[tuple[dict[str, Any], str]]) -> str:
    rows = []
    for data, page in sorted(entries, key=lambda e: e[0]["meta"]["run_id"]["run_time"], reverse=True):
        flow = data["meta"]["flow"]
        stats = data["statistics"]
        verdict = '<span class="ok">loaded</span>' if flow["batch_success"] else '<span class="fail">rejected</span>'
        problems = "".join(f"<li>{html.escape(message)}</li>" for message in flow["batch_failures"])
        rows.append(
            "<tr>"
            f"<td>{verdict}</td>"
            f"<td>{html.escape(data['suite_name'])}</td>"
            f'<td><a href="{quote(page)}">{html.escape(flow["file_name"])}</a></td>'
            f"<td>{html.escape(data['meta']['run_id']['run_time'])}</td>"
            f"<td>{stats['successful_expectations']} / {stats['evaluated_expectations']}</td>"
            f"<td>{flow['quarantined_rows']:,}</td>"
            f"<td><ul>{problems}</ul></td>"
            "</tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Nagasaki Tourism Flow - data quality</title>\n"
        f"{_OFFLINE_CSS}</head>\n<body>\n"
        "<h1>Data quality of delivered files</h1>\n"
        "<p>Great Expectations validation results per delivered file. <em>Rejected</em> files failed a "
        "table rule and were not loaded; quarantined lines failed a row rule.</p>\n"
        "<table>\n<thead><tr><th>Verdict</th><th>Suite</th><th>Delivered file</th><th>Validated (UTC)</th>"
        "<th>Expectations passed</th><th>Quarantined lines</th><th>Table-level problems</th></tr></thead>\n"
        f"<tbody>\n{''.join(rows)}\n</tbody>\n</table>\n</body>\n</html>\n"
    )
