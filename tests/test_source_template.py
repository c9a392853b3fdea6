"""The test every source must pass: its sample loads with exactly the expected outcome,
personal ids never reach the warehouse, and a second load is a no-op.

A source is a declaration in sources/ (or sources/examples/) plus a sample under
sources/samples/<name>/: `landing/` laid out as the producer delivers it, and
`expected.yaml` with the service date (null for snapshot sources), the rows loaded and
the quarantined lines with their reasons. See docs/adding-a-source.md.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from flowlib.ingest import ingest_partition
from flowlib.pipeline import prepare_warehouse
from flowlib.sources import SourceSpec, load_registry

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES = PROJECT_ROOT / "sources"
SAMPLES = SOURCES / "samples"


def all_declarations() -> dict[str, SourceSpec]:
    from flowlib.config import get_settings

    registry = load_registry(get_settings(), SOURCES)
    registry.update(load_registry(get_settings(), SOURCES / "examples"))
    return registry


DECLARATIONS = all_declarations()


def test_every_declared_source_has_a_sample():
    missing = sorted(name for name in DECLARATIONS if not (SAMPLES / name / "expected.yaml").exists())
    assert missing == [], f"add sources/samples/<name>/ for: {missing}"


def _raw_personal_ids(spec: SourceSpec, landing: Path) -> set[str]:
    """The raw id values in the sample files, read independently of the ingest code."""
    headers = {h for rule in spec.columns if rule.target in spec.kind.personal_ids for h in rule.headers}
    values: set[str] = set()
    for path in landing.rglob("*"):
        if not path.is_file():
            continue
        if spec.format == "csv":
            text = path.read_bytes().decode("cp932" if spec.encoding == "cp932" else "utf-8-sig", errors="replace")
            for row in csv.DictReader(io.StringIO(text)):
                values.update(row[h] for h in headers if row.get(h))
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
            records = doc[spec.records_path] if spec.records_path else doc
            values.update(str(r[h]) for r in records for h in headers if r.get(h))
    return values


@pytest.mark.parametrize("name", sorted(DECLARATIONS))
def test_source_sample_loads_as_expected(name, settings, tmp_path):
    spec = DECLARATIONS[name]
    sample = SAMPLES / name
    if not sample.exists():
        pytest.fail(f"no sample for source {name}")
    expected = yaml.safe_load((sample / "expected.yaml").read_text(encoding="utf-8"))
    landing = tmp_path / "landing"
    shutil.copytree(sample / "landing", landing)
    settings = replace(settings, landing_dir=landing)
    prepare_warehouse(settings)
    service_date = date.fromisoformat(str(expected["service_date"])) if expected["service_date"] else None

    result = ingest_partition(spec, service_date, settings)

    assert result.outcome == "loaded"
    assert result.rows_loaded == expected["rows_loaded"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        table_rows = con.execute(f"select count(*) from {spec.kind.table} where source = ?", [name]).fetchone()[0]
        quarantine = dict(con.execute("select line_number, reason from ops.quarantine where source = ?", [name]).fetchall())
    assert table_rows == expected["rows_loaded"]
    assert quarantine == {int(k): v for k, v in (expected["quarantined"] or {}).items()}

    raw_ids = _raw_personal_ids(spec, landing)
    id_headers = [h for rule in spec.columns if rule.target in spec.kind.personal_ids for h in rule.headers]
    assert raw_ids or not id_headers, "the sample should contain personal ids to check"
    warehouse_bytes = settings.warehouse_path.read_bytes()
    # ids shorter than 6 characters (e.g. the publisher's small integer user numbers)
    # occur by chance in any binary file: only longer ones are meaningful to search for
    for raw in (r for r in raw_ids if len(r) >= 6):
        assert raw.encode("utf-8") not in warehouse_bytes

    assert ingest_partition(spec, service_date, settings).outcome == "unchanged"
