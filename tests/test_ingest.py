"""Ingest outcomes, case by case: what is loaded, what is quarantined and why, what fails.

Every case asserts the exact outcome and that no good row was lost: good rows in the file
are all in raw.entry_log after the load.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flowlib.ingest import IngestError, ingest_partition
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.sources import load_registry

DAY = date(2026, 11, 3)
POS_B_HEADER = "施設コード,入場日,入場時刻,カード番号,チケット種別,料金(円),カード発行国"
POS_A_HEADER = "利用日時,カードID,券種,金額,発行国"


def pos_b_row(
    n: int, facility: str = "dejima", time: str | None = None, amount: int = 520, country: str = "JP", day: date = DAY
) -> str:
    time = time or f"{9 + n // 60:02d}:{n % 60:02d}:00"
    return f"{facility},{day.isoformat()},{time},{4000000000000000 + n},一般,{amount},{country}"


def pos_a_row(n: int) -> str:
    return f"2026/11/03 {9 + n // 60:02d}:{n % 60:02d}:00,{5000000000000000 + n},大人,620,JP"


@pytest.fixture
def landing(settings) -> Path:
    prepare_warehouse(settings)
    return settings.landing_dir


def write_pos_b(landing: Path, lines: list[str], name: str = "dejima.csv", bom: bool = True, encoding: str = "utf-8") -> Path:
    folder = landing / "entry_log" / "pos_b" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode(encoding))
    return path


def write_pos_a(landing: Path, data: bytes, name: str = "glover_garden.csv") -> Path:
    folder = landing / "entry_log" / "pos_a" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def load(settings, source: str = "entry_pos_b"):
    return ingest_partition(load_registry(settings)[source], DAY, settings)


def loaded(settings, source: str = "entry_pos_b") -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            "select file_name, line_number, card_key from raw.entry_log where source = ? order by file_name, line_number",
            [source],
        ).fetchall()


def quarantined(settings) -> list[tuple[int, str]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select line_number, reason from ops.quarantine order by line_number").fetchall()


def warehouse_snapshot(settings) -> dict[str, list]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in ("raw.entry_log", "ops.quarantine")}


def key(n: int) -> str:
    return pseudonymise(str(4000000000000000 + n), b"nagasaki-tourism-flow-demo-key-not-for-production")


def test_clean_file_loads_every_row_with_hashed_ids(settings, landing):
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(20)])
    result = load(settings)
    assert (result.outcome, result.rows_loaded, result.rows_quarantined) == ("loaded", 20, 0)
    rows = loaded(settings)
    assert [r[1] for r in rows] == list(range(2, 22))
    assert rows[0][2] == key(0) and len(rows[0][2]) == 64


def test_the_same_file_twice_is_a_no_op_and_a_changed_file_reloads(settings, landing):
    path = write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(5)])
    assert load(settings).outcome == "loaded"
    assert load(settings).outcome == "unchanged"
    assert len(loaded(settings)) == 5
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join([POS_B_HEADER] + [pos_b_row(i) for i in range(7)]) + "\n").encode())
    assert load(settings).outcome == "reloaded"
    assert len(loaded(settings)) == 7


def test_bom_missing_in_a_bom_feed_still_loads(settings, landing):
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(3)], bom=False)
    assert load(settings).rows_loaded == 3


def test_cp932_feed_delivered_as_utf8_with_bom_fails_naming_the_file(settings, landing):
    write_pos_a(landing, b"\xef\xbb\xbf" + ("\n".join([POS_A_HEADER, pos_a_row(1)]) + "\n").encode("utf-8"))
    with pytest.raises(IngestError, match=r"entry_log/pos_a/2026-11-03/glover_garden.csv, line 1: .*byte-order mark"):
        load(settings, "entry_pos_a")
    assert loaded(settings, "entry_pos_a") == []


def test_whole_file_in_the_wrong_encoding_fails_and_leaves_the_warehouse_as_it_was(settings, landing):
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(4)])
    load(settings)
    before = warehouse_snapshot(settings)
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(6)], bom=False, encoding="cp932")
    with pytest.raises(IngestError, match=r"dejima.csv, line 1: .*not valid utf-8"):
        load(settings)
    assert warehouse_snapshot(settings) == before


def test_mixed_encoding_quarantines_the_foreign_line_only(settings, landing):
    good = [pos_b_row(i) for i in range(10)]
    path = write_pos_b(landing, [POS_B_HEADER] + good)
    with path.open("ab") as handle:
        handle.write("dejima,2026-11-03,12:00:00,4000000000000999,一般,520,JP\n".encode("cp932"))
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (10, 1)
    assert quarantined(settings) == [(12, "bytes not valid utf-8-sig at byte 44 of the line")]


def test_truncated_last_line_is_quarantined(settings, landing):
    path = write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(5)])
    path.write_bytes(path.read_bytes() + b"dejima,2026-11-03,12:")
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (5, 1)
    line, reason = quarantined(settings)[0]
    assert line == 7 and "truncated" in reason


@pytest.mark.parametrize(
    "header",
    [
        POS_B_HEADER.replace("カード番号,", ""),  # missing column
        POS_B_HEADER.replace("カード番号", "カードNo"),  # renamed column
    ],
)
def test_missing_or_renamed_column_fails_naming_it(settings, landing, header):
    write_pos_b(landing, [header] + [pos_b_row(i) for i in range(3)])
    with pytest.raises(IngestError, match="missing column\\(s\\) カード番号"):
        load(settings)
    assert loaded(settings) == []


def test_extra_column_is_ignored_and_noted(settings, landing):
    write_pos_b(landing, [POS_B_HEADER + ",端末ID"] + [pos_b_row(i) + ",T1" for i in range(3)])
    result = load(settings)
    assert result.rows_loaded == 3
    assert result.files[0].notes == ["ignored extra column(s): 端末ID"]


def test_duplicated_rows_keep_the_first(settings, landing):
    write_pos_b(landing, [POS_B_HEADER, pos_b_row(1), pos_b_row(1), pos_b_row(2)])
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert quarantined(settings) == [(3, "duplicate of an earlier row in the same file (line 2)")]


def test_a_few_unknown_facility_ids_are_quarantined(settings, landing):
    rows = [pos_b_row(i) for i in range(40)] + [pos_b_row(99, facility="no_such_place")]
    write_pos_b(landing, [POS_B_HEADER] + rows)
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (40, 1)
    assert quarantined(settings) == [(42, "failed expect_column_values_to_be_in_set(facility_id)")]


def test_many_unknown_facility_ids_fail_the_delivery(settings, landing):
    rows = [pos_b_row(i) for i in range(10)] + [pos_b_row(50 + i, facility="no_such_place") for i in range(5)]
    write_pos_b(landing, [POS_B_HEADER] + rows)
    with pytest.raises(IngestError, match="unknown facility_id.*dejima.csv \\(5 rows"):
        load(settings)
    assert loaded(settings) == []


def test_timestamps_outside_the_service_day_and_in_the_future_are_quarantined(settings, landing):
    tomorrow_noon = pos_b_row(7, day=DAY + timedelta(days=1), time="12:00:00")
    early_next_morning = pos_b_row(8, day=DAY + timedelta(days=1), time="03:30:00")  # still DAY
    future = datetime.now() + timedelta(days=30)
    future_row = pos_b_row(9, day=future.date(), time="12:00:00")
    # a row already set aside (its ticket type) is not checked again: one reason, one entry
    unknown_and_outside = pos_b_row(10, day=DAY + timedelta(days=1), time="12:00:00").replace("一般", "招待")
    unknown_and_future = pos_b_row(11, day=future.date(), time="12:00:00").replace("一般", "招待")
    rows = [pos_b_row(1), tomorrow_noon, early_next_morning, future_row, unknown_and_outside, unknown_and_future]
    write_pos_b(landing, [POS_B_HEADER, *rows])
    result = load(settings)
    assert result.rows_loaded == 2
    assert quarantined(settings) == [
        (3, "timestamp outside the service day 2026-11-03"),
        (5, "timestamp in the future"),
        (6, "unknown value '招待' for ticket_type"),
        (7, "unknown value '招待' for ticket_type"),
    ]


def test_negative_amount_is_quarantined(settings, landing):
    write_pos_b(landing, [POS_B_HEADER, pos_b_row(1), pos_b_row(2, amount=-520)])
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert quarantined(settings) == [(3, "failed expect_column_values_to_be_between(amount_jpy)")]


def test_empty_file_fails_as_an_empty_delivery(settings, landing):
    write_pos_b(landing, [], bom=False)
    (landing / "entry_log" / "pos_b" / DAY.isoformat() / "dejima.csv").write_bytes(b"")
    with pytest.raises(IngestError, match="empty delivery"):
        load(settings)


def test_header_only_delivery_for_the_whole_day_fails_as_empty(settings, landing):
    write_pos_b(landing, [POS_B_HEADER])
    with pytest.raises(IngestError, match="dejima.csv"):
        load(settings)


def test_quarantined_raw_values_hold_hashed_ids_only(settings, landing):
    write_pos_b(landing, [POS_B_HEADER, pos_b_row(1), pos_b_row(2, amount=-1)])
    load(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        raw_values = json.loads(con.execute("select raw_values from ops.quarantine").fetchone()[0])
    assert raw_values["カード番号"] == "hmac:" + key(2)
    assert str(4000000000000002) not in json.dumps(raw_values)


def test_huge_file_loads_in_one_transaction(settings, landing):
    rows = [
        pos_b_row(i % 600, time=f"{9 + (i // 3600) % 12:02d}:{(i // 60) % 60:02d}:{i % 60:02d}").replace(
            str(4000000000000000 + i % 600), str(4100000000000000 + i)
        )
        for i in range(60_000)
    ]
    write_pos_b(landing, [POS_B_HEADER] + rows)
    result = load(settings)
    assert (result.rows_loaded, result.rows_quarantined) == (60_000, 0)


def test_missing_key_outside_demo_mode_fails_with_a_clear_message(settings, landing, monkeypatch):
    from flowlib.config import ConfigError, get_settings

    write_pos_b(landing, [POS_B_HEADER, pos_b_row(1)])
    monkeypatch.setenv("FLOW_DEMO_MODE", "false")
    with pytest.raises(ConfigError, match="FLOW_HMAC_KEY is not set"):
        ingest_partition(load_registry()["entry_pos_b"], DAY, get_settings())


def test_each_pseudonym_gets_its_64_bit_id_while_staged(settings, landing):
    """The raw table's id beside each pseudonym (its first 64 bits, docs/routes.md "Keys") is
    computed as the chunk is staged: every loaded row has it, none is left for an update."""
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(30)])
    assert load(settings).rows_loaded == 30
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        pairs = con.execute("select card_key, card_id from raw.entry_log").fetchall()
    assert len(pairs) == 30
    assert all(card_id == int(card_key[:16], 16) for card_key, card_id in pairs)


def test_a_stored_value_gets_an_id_only_if_it_is_a_pseudonym(settings, landing):
    """raw.pseudonym_id (the id of a stored pseudonym) refuses text of any other form; the
    staging reads the id with raw.digest_id from the digest it has just computed, without
    the check: the two agree on every pseudonym."""
    keys = [key(i) for i in range(20)]
    with duckdb.connect(str(settings.warehouse_path)) as con:
        got = con.execute(
            "select k, raw.pseudonym_id(k), raw.digest_id(k) from unnest(?::varchar[]) as t(k) order by k", [keys]
        ).fetchall()
        assert got == sorted((k, int(k[:16], 16), int(k[:16], 16)) for k in keys)
        for other in [keys[0].upper(), keys[0][:63], keys[0] + "0", "g" + keys[0][1:], " " + keys[0][1:], "4111111111111111"]:
            with pytest.raises(duckdb.Error, match="not a pseudonym"):
                con.execute("select raw.pseudonym_id(?)", [other]).fetchall()


def test_a_pseudonym_sharing_its_id_with_another_of_the_day_fails_the_load(settings, landing):
    """Two pseudonyms behind one 64-bit id would be one visitor: the load that brings the
    second fails, names the id and the day, and leaves the warehouse as it was."""
    clash = key(0)[:16] + ("0" if key(0)[16] != "0" else "1") * 48  # same first 64 bits, another card
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "insert into raw.entry_log (source, service_date, facility_id, entered_at, card_key, card_id, ticket_type, "
            "amount_jpy, issuer_country, file_name, line_number) "
            "values ('entry_pos_a', ?, 'dejima', ?, ?, ?, 'adult', 500, 'JP', 'other.csv', 2)",
            [DAY, datetime(2026, 11, 3, 9, 0), clash, int(clash[:16], 16)],
        )
    before = warehouse_snapshot(settings)
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(3)])
    with pytest.raises(Exception, match=f"two pseudonyms share the 64-bit id {int(clash[:16], 16)} on {DAY}"):
        load(settings)
    assert warehouse_snapshot(settings) == before


def test_ids_beside_pseudonyms_follow_one_naming():
    """The staging names each id after its pseudonym (<name>_key beside <name>_id)."""
    from flowlib import visitor_ids

    assert {table: visitor_ids.key_pattern(table) for table in visitor_ids.ID_COLUMNS} == {
        "raw.entry_log": "^(card)_key$",
        "raw.wifi_sensor": "^(device)_key$",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(visitor_ids.ID_COLUMNS, "raw.other", ("card_key", "visitor_id"))
        with pytest.raises(ValueError, match="must be called card_id"):
            visitor_ids.key_pattern("raw.other")
