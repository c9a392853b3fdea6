"""The hostile input corpus: ``tests/hostile/cases.yaml`` read, materialised and run.

Each case is one delivered file (or one source declaration) and its asserted outcome:

- ``loaded: N`` + ``quarantined: {line: reason fragment}``: exactly N rows reach ``raw.*``,
  exactly those lines go to ``ops.quarantine`` with a reason containing the fragment;
  ``values`` may add SQL checks of what was stored;
- ``rejected: {line, problem}``: the delivery fails with a message naming the file, the
  line (when given) and the problem, and nothing is written;
- for declarations, ``rejected: {problem}`` or ``accepted: true``.

Small files live next to ``cases.yaml``; big or environment-dependent ones (the 100 MB
line, 10,000 columns, symlinks) are generated at run time into the case's temp folder by
the functions in ``GENERATORS``. A case with ``known_bug`` documents a defect outside the
files this suite may change: its mismatch is reported, and the test is an expected failure.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import yaml

from .harness import HOSTILE_DIR, PROJECT_ROOT, SENSOR_DECLARATION, make_settings

CASES_FILE = HOSTILE_DIR / "cases.yaml"
POS_B_HEADER = "施設コード,入場日,入場時刻,カード番号,チケット種別,料金(円),カード発行国"


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    landing: str | None
    expect: dict[str, Any]
    threat: str
    file: str | None = None
    generate: str | None = None
    known_bug: str | None = None
    note: str = ""
    #: more files delivered beside the case's file: [{file, landing}]
    also: tuple[dict[str, str], ...] = ()
    #: a delivery loaded (and accepted) before the case's file replaces it: {file, landing}
    before: dict[str, str] | None = None
    #: FLOW_MAX_FILE_MB for this case (a size-cap case need not write a file above the default)
    max_file_mb: int | None = None

    @property
    def expects_rejection(self) -> bool:
        return "rejected" in self.expect


@dataclass
class Outcome:
    case_id: str
    status: str  # loaded | rejected | accepted | crashed
    rows_loaded: int = 0
    quarantined: dict[int, str] = field(default_factory=dict)
    message: str = ""
    notes: list[str] = field(default_factory=list)
    values: list[list[list[Any]]] = field(default_factory=list)
    #: file names (last path part) not loaded as copies of another, or skipped by name
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warehouse_untouched: bool | None = None

    def summary(self) -> str:
        if self.status == "loaded":
            return f"{self.rows_loaded} rows loaded, {len(self.quarantined)} quarantined"
        return f"{self.status}: {self.message[:160]}"


def load_cases() -> tuple[date, list[Case]]:
    doc = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    day = date.fromisoformat(str(doc["service_date"]))
    cases = [Case(**{k: tuple(v) if k == "also" else v for k, v in raw.items()}) for raw in doc["cases"]]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return day, cases


# --------------------------------------------------------------------------- generators


def _pos_b_rows(n: int) -> list[str]:
    return [f"dejima,2026-11-03,{9 + i // 60:02d}:{i % 60:02d}:00,{4000000000000000 + i},一般,520,JP" for i in range(n)]


def gen_100mb_single_line(target: Path, root: Path) -> None:
    """30 good rows, then one line of 100 MB (written in chunks, never held twice)."""
    with target.open("wb") as out:
        out.write(b"\xef\xbb\xbf" + ("\n".join([POS_B_HEADER] + _pos_b_rows(30)) + "\n").encode())
        chunk = b"A" * (1 << 20)
        for _ in range(100):
            out.write(chunk)
        out.write(b"\n")


def gen_2mb_single_line(target: Path, root: Path) -> None:
    """30 good rows, then one line of 2 MB: under the size cap, over the line limit."""
    with target.open("wb") as out:
        out.write(b"\xef\xbb\xbf" + ("\n".join([POS_B_HEADER] + _pos_b_rows(30)) + "\n").encode())
        out.write(b"A" * (2 << 20) + b"\n")


def gen_10k_columns(target: Path, root: Path) -> None:
    """The 7 declared columns followed by 9,993 extra ones; 30 good rows."""
    extra = [f"extra_{i:04d}" for i in range(9_993)]
    lines = [POS_B_HEADER + "," + ",".join(extra)] + [row + "," * len(extra) for row in _pos_b_rows(30)]
    target.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())


def gen_json_nested_100k(target: Path, root: Path) -> None:
    """A records list nested 100,000 levels deep (a recursion bomb for naive parsers)."""
    target.write_bytes(b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def gen_runaway_quoted_free_text(target: Path, root: Path) -> None:
    """30 good survey answers, and after the 10th one whose quoted free text never closes:
    50,000 lines of prose (commas included) up to a stray quote."""
    source = (HOSTILE_DIR / "survey_web" / "quote_never_closed.csv").read_text(encoding="utf-8").splitlines()
    header, rows = source[0], [line for line in source[1:] if line.count(",") == 10 and '"' not in line][:30]
    runaway = (
        'WEB-H-RUN,2026-11-03 12:00:00,ja,JP,長崎県,4,4,8,sns,dejima,"始まり\n'
        + "".join(f"{i}行目, 読点のある文\n" for i in range(50_000))
        + '終わり", 余り\n'
    )
    target.write_text("\n".join([header] + rows[:10]) + "\n" + runaway + "\n".join(rows[10:]) + "\n", encoding="utf-8")


def gen_over_the_size_cap(target: Path, root: Path) -> None:
    """A 17 MB POS B export: above the cap its case sets (max_file_mb: 14)."""
    row = "dejima,2026-11-03,09:00:00,4000000000000000,一般,520,JP," + "x" * 200 + "\n"
    with target.open("wb") as out:
        out.write(("\ufeff" + POS_B_HEADER + ",note\n").encode())
        for _ in range(17_000_000 // len(row.encode()) + 1):
            out.write(row.encode())


def gen_symlink_to_outside_file(target: Path, root: Path) -> None:
    """A delivery that is a symlink to a file outside the landing folder."""
    outside = root / "outside" / "secret.csv"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(b"\xef\xbb\xbf" + ("\n".join([POS_B_HEADER] + _pos_b_rows(30)) + "\n").encode())
    target.symlink_to(outside)


def gen_symlink_day_folder(target: Path, root: Path) -> None:
    """The day folder itself is a symlink to a folder outside the landing folder."""
    outside = root / "outside_day"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "dejima.csv").write_bytes(b"\xef\xbb\xbf" + ("\n".join([POS_B_HEADER] + _pos_b_rows(30)) + "\n").encode())
    target.parent.rmdir()
    target.parent.symlink_to(outside, target_is_directory=True)


GENERATORS: dict[str, Callable[[Path, Path], None]] = {
    "100mb_single_line": gen_100mb_single_line,
    "2mb_single_line": gen_2mb_single_line,
    "10k_columns": gen_10k_columns,
    "json_nested_100k": gen_json_nested_100k,
    "symlink_to_outside_file": gen_symlink_to_outside_file,
    "symlink_day_folder": gen_symlink_day_folder,
    "runaway_quoted_free_text": gen_runaway_quoted_free_text,
    "over_the_size_cap": gen_over_the_size_cap,
}


# --------------------------------------------------------------------------- running


def corpus_sources(folder: Path) -> Path:
    """The nightly declarations plus the test JSON Lines sensor feed, in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "sources").glob("*.yaml"):
        shutil.copy2(path, folder / path.name)
    shutil.copy2(SENSOR_DECLARATION, folder / SENSOR_DECLARATION.name)
    return folder


def prepare_template(root: Path) -> Path:
    """An empty warehouse with schema and reference data, copied for every case."""
    from flowlib.pipeline import prepare_warehouse

    corpus_sources(root / "sources")
    settings = make_settings(root)
    prepare_warehouse(settings)
    return settings.warehouse_path


def _table_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = ["raw.entry_log", "raw.wifi_ap_count", "raw.wifi_sensor", "raw.survey_response", "ops.quarantine"]
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def run_declaration_case(case: Case) -> Outcome:
    from flowlib.sources import SourceDeclarationError, parse_declaration

    started = time.perf_counter()
    path = HOSTILE_DIR / case.file
    try:
        spec = parse_declaration(path)
    except SourceDeclarationError as exc:
        return Outcome(case.id, "rejected", message=str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # anything else is a crash of the registry
        return Outcome(case.id, "crashed", message=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started)
    outcome = Outcome(case.id, "accepted", message=f"accepted as source {spec.name}", seconds=time.perf_counter() - started)
    probe = case.expect.get("probe")
    if probe == "load_suite":
        # A declaration is used when a delivery is validated: load its suite as ingest would.
        from flowlib import validation

        try:
            validation.load_suite(spec.expectation_suite)
            outcome.notes.append(f"suite {spec.expectation_suite!r} was read")
        except Exception as exc:
            outcome.notes.append(f"suite load failed: {type(exc).__name__}: {exc}"[:300])
    elif probe == "timestamps":
        import pandas as pd

        from flowlib.ingest import _parse_timestamps

        try:
            _parse_timestamps(pd.Series(["2026/11/03 10:00:00"], dtype="object"), "%Y/%m/%d %H:%M:%S", spec.timezone)
            outcome.notes.append("timestamps parsed")
        except Exception as exc:
            outcome.status = "crashed"
            outcome.message = f"{type(exc).__name__} while parsing a timestamp: {exc}"[:300]
    return outcome


def run_case(case: Case, day: date, workdir: Path, template: Path) -> Outcome:
    """Deliver the case's file into a fresh copy of the template warehouse and load it."""
    if case.source == "declaration":
        return run_declaration_case(case)
    from flowlib.ingest import IngestError, ingest_partition
    from flowlib.parsing import FileRejected
    from flowlib.sources import SourceDeclarationError, load_registry

    root = workdir / case.id
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    corpus_sources(root / "sources")
    settings = make_settings(root)
    if case.max_file_mb is not None:
        settings = dataclasses.replace(settings, max_file_mb=case.max_file_mb)
    shutil.copy2(template, settings.warehouse_path)
    target = settings.landing_dir / case.landing
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = load_registry(settings)[case.source]
    if case.before:
        shutil.copy2(HOSTILE_DIR / case.before["file"], settings.landing_dir / case.before["landing"])
        ingest_partition(spec, day, settings)
        (settings.landing_dir / case.before["landing"]).unlink()
    if case.generate:
        GENERATORS[case.generate](target, root)
    else:
        shutil.copy2(HOSTILE_DIR / case.file, target)
    for extra in case.also:
        (settings.landing_dir / extra["landing"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HOSTILE_DIR / extra["file"], settings.landing_dir / extra["landing"])
    before = _table_counts(settings.warehouse_path)
    started = time.perf_counter()
    try:
        result = ingest_partition(spec, day, settings)
    except (IngestError, FileRejected, SourceDeclarationError) as exc:
        outcome = Outcome(case.id, "rejected", message=str(exc), seconds=time.perf_counter() - started)
        outcome.warehouse_untouched = _table_counts(settings.warehouse_path) == before
        return outcome
    except Exception as exc:
        outcome = Outcome(case.id, "crashed", message=f"{type(exc).__name__}: {exc}"[:500], seconds=time.perf_counter() - started)
        outcome.warehouse_untouched = _table_counts(settings.warehouse_path) == before
        return outcome
    outcome = Outcome(case.id, "loaded", seconds=time.perf_counter() - started)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        outcome.rows_loaded = con.execute(f"select count(*) from {spec.kind.table} where source = ?", [spec.name]).fetchone()[0]
        outcome.quarantined = dict(
            con.execute(
                "select line_number, reason from ops.quarantine where source = ? order by line_number", [spec.name]
            ).fetchall()
        )
        outcome.notes = [n for f in result.files for n in f.notes]
        outcome.duplicates = sorted(f.file_name.rsplit("/", 1)[-1] for f in result.duplicates)
        outcome.skipped = sorted(name.rsplit("/", 1)[-1] for name, _ in result.skipped)
        for check in case.expect.get("values", []):
            outcome.values.append([list(r) for r in con.execute(check["sql"]).fetchall()])
        logged = con.execute("select max(length(coalesce(message, ''))) from ops.load_log").fetchone()[0]
        if logged and logged > 2_000:
            outcome.notes.append(f"load_log message of {logged:,} characters")
    finally:
        con.close()
    return outcome


def check(case: Case, outcome: Outcome) -> list[str]:
    """Differences between the asserted outcome and what happened (empty = as asserted)."""
    expect = case.expect
    problems: list[str] = []
    if outcome.status == "crashed":
        return [f"crashed instead of a clean outcome: {outcome.message}"]
    if "accepted" in expect:
        if outcome.status != "accepted":
            problems.append(f"expected the declaration to be accepted, got {outcome.status}: {outcome.message}")
        for fragment in expect.get("notes", []):
            if not any(fragment in n for n in outcome.notes):
                problems.append(f"no note containing {fragment!r} in {outcome.notes}")
        return problems
    if "rejected" in expect:
        wanted = expect["rejected"] or {}
        if outcome.status != "rejected":
            return [f"expected rejection ({wanted.get('problem')}), got {outcome.summary()}"]
        message = outcome.message
        if "\n" in message or "\r" in message:
            problems.append("the message holds a raw line break (a file name must be escaped)")
        if case.source != "declaration":
            from flowlib.parsing import printable

            if case.landing and not any(
                name in message for name in (case.landing, Path(case.landing).name, printable(Path(case.landing).name))
            ):
                problems.append(f"message does not name the file {case.landing}: {message[:300]}")
            if outcome.warehouse_untouched is False:
                problems.append("the warehouse changed although the delivery was rejected")
        elif case.file and Path(case.file).name not in message:
            problems.append(f"message does not name the declaration {case.file}: {message[:300]}")
        if wanted.get("line") is not None and f"line {wanted['line']}" not in message:
            problems.append(f"message does not name line {wanted['line']}: {message[:300]}")
        if wanted.get("problem") and wanted["problem"].lower() not in message.lower():
            problems.append(f"message does not say {wanted['problem']!r}: {message[:300]}")
        return problems
    if outcome.status != "loaded":
        return [f"expected {expect.get('loaded')} rows loaded, got {outcome.summary()}"]
    if outcome.rows_loaded != expect["loaded"]:
        problems.append(f"expected {expect['loaded']} rows loaded, got {outcome.rows_loaded}")
    wanted_q = {int(k): str(v) for k, v in (expect.get("quarantined") or {}).items()}
    if set(outcome.quarantined) != set(wanted_q):
        problems.append(
            f"expected quarantined lines {sorted(wanted_q)}, got { {k: v[:80] for k, v in outcome.quarantined.items()} }"
        )
    for line, fragment in wanted_q.items():
        reason = outcome.quarantined.get(line)
        if reason is not None and fragment.lower() not in reason.lower():
            problems.append(f"line {line}: reason {reason!r} does not contain {fragment!r}")
    for fragment in expect.get("notes", []):
        if not any(fragment in n for n in outcome.notes):
            problems.append(f"no load note containing {fragment!r} in {[n[:120] for n in outcome.notes]}")
    for fragment in expect.get("no_notes_containing", []):
        if any(fragment in n for n in outcome.notes):
            problems.append(f"a load note contains {fragment!r}")
    for key in ("duplicates", "skipped"):
        if sorted(expect.get(key, [])) != getattr(outcome, key):
            problems.append(f"expected {key} {sorted(expect.get(key, []))}, got {getattr(outcome, key)}")
    for spec, got in zip(expect.get("values", []), outcome.values):
        if got != spec["rows"]:
            problems.append(f"{spec['sql']}: expected {spec['rows']}, got {got}")
    return problems


def good_rows_lost(case: Case, outcome: Outcome) -> int:
    """Rows the corpus marks as good that did not reach the warehouse."""
    if "loaded" not in case.expect:
        return 0
    return max(0, int(case.expect["loaded"]) - (outcome.rows_loaded if outcome.status == "loaded" else 0))


def rows_counted_twice(case: Case, outcome: Outcome) -> int:
    """Rows beyond what the corpus says the delivery holds (a copy loaded twice, a sum of
    repeated rows): the opposite failure of losing good rows."""
    if "loaded" not in case.expect or outcome.status != "loaded":
        return 0
    return max(0, outcome.rows_loaded - int(case.expect["loaded"]))


def run_corpus(workdir: Path, only: list[str] | None = None) -> list[tuple[Case, Outcome, list[str]]]:
    """Every case (or those named), each in its own copy of one prepared warehouse."""
    day, cases = load_cases()
    template = prepare_template(workdir / "_template")
    results = []
    for case in cases:
        if only and case.id not in only:
            continue
        outcome = run_case(case, day, workdir, template)
        results.append((case, outcome, check(case, outcome)))
        if case.source != "declaration":
            shutil.rmtree(workdir / case.id, ignore_errors=True)
    return results


def as_table(results: list[tuple[Case, Outcome, list[str]]]) -> list[dict[str, Any]]:
    """Rows for reports: case, source, threat, asserted and observed outcome, verdict."""
    rows = []
    for case, outcome, problems in results:
        rows.append(
            {
                "case": case.id,
                "source": case.source,
                "threat": case.threat,
                "file": case.file or f"generated: {case.generate}",
                "asserted": json.dumps(case.expect, ensure_ascii=False, default=str)[:200],
                "observed": outcome.summary(),
                "seconds": round(outcome.seconds, 2),
                "verdict": "as asserted" if not problems else ("known bug" if case.known_bug else "MISMATCH"),
                "problems": problems,
                "known_bug": case.known_bug,
            }
        )
    return rows
