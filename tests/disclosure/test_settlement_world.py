"""The disclosure settlement on a whole week of demo data: the rules alone leave hidden
cells that the published files pin (withheld, yet as good as published), the settlement
withholds complementary rows until the strict audit passes, and a rebuild of the same days
forgets and settles them again to the same bytes."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from bench.reliability.harness import make_settings

from .world import World


def test_the_week_needed_complements_and_every_withheld_row_is_hidden(week: World):
    from flowlib.models import discover
    from flowlib.privacy import cell_key_sql

    assert isinstance(week.publication, dict), week.publication
    assert week.publication["exposed"] == 0
    keys = {model.relation: model.privacy.keys for model in discover() if model.privacy}
    with duckdb.connect(str(week.warehouse), read_only=True) as con:
        withheld = con.execute("select mart, cell_key from ops.withheld_cells").fetchall()
        assert withheld, "the week is expected to need complements (the rules alone leave pinned cells)"
        complement = 0
        for mart in {mart for mart, _ in withheld}:
            wanted = [key for other, key in withheld if other == mart]
            rows = con.execute(
                f"select is_suppressed, suppression from {mart} where {cell_key_sql(keys[mart])} in (select unnest(?))",
                [wanted],
            ).fetchall()
            # every withheld row is there and hidden: as a complement, or by a rule that the
            # complement of its twin set off first (a spending row whose visit row is withheld)
            assert len(rows) == len(wanted) and all(hidden for hidden, _ in rows), mart
            complement += sum(reason == "complement" for _, reason in rows)
        assert complement > 0


@pytest.mark.slow
def test_a_rebuild_of_the_week_settles_to_the_same_open_data(week: World, tmp_path):
    from flowlib.opendata import write_files
    from flowlib.pipeline import build_marts
    from flowlib.warehouse import reader

    root = tmp_path / "again"
    (root / "data").mkdir(parents=True)
    shutil.copy2(week.warehouse, root / "data" / "warehouse.duckdb")
    settings = make_settings(root)
    built = build_marts(week.dates, settings)
    assert built["settlement"]["withheld"] > 0  # forgotten, then settled anew
    folder = tmp_path / "files"
    folder.mkdir()
    with reader(settings) as con:
        write_files(con, settings, folder)
    published = sorted(p.name for p in week.published.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == published
    for name in published:
        if name in ("catalogue.json", "index.html"):  # they carry the time they were written
            continue
        assert (folder / name).read_bytes() == (week.published / name).read_bytes(), name
    again, first = (json.loads((f / "catalogue.json").read_text(encoding="utf-8")) for f in (folder, week.published))
    for catalogue in (again, first):
        catalogue.pop("generated_at")
        for entry in catalogue["files"]:
            entry.pop("modified", None)
    assert again == first


@pytest.mark.slow
def test_a_build_that_fails_in_the_settlement_leaves_the_warehouse_as_it_was(week: World, tmp_path, monkeypatch):
    """The rules, the first round's withheld rows and its rebuilt marts commit with the last
    round or not at all: a night stopped between rounds (killed, or an unresolvable cell)
    must not leave marts that only the first rounds protected."""
    import flowlib.privacy
    from bench.reliability.harness import snapshot
    from flowlib.pipeline import build_marts

    root = tmp_path / "stopped"
    (root / "data").mkdir(parents=True)
    shutil.copy2(week.warehouse, root / "data" / "warehouse.duckdb")
    before = snapshot(root / "data" / "warehouse.duckdb")
    before["withheld"] = _withheld(root)
    real_settle = flowlib.privacy.settle
    rebuilt = []

    def stopped_after_the_first_rebuild(con, k, write, rebuild, **options):  # type: ignore[no-untyped-def]
        def rebuild_then_stop(days, marts):  # type: ignore[no-untyped-def]
            rebuild(days, marts)
            rebuilt.append(days)
            raise flowlib.privacy.DisclosureSettlementError("stopped after the first round")

        return real_settle(con, k, write, rebuild_then_stop, **options)

    monkeypatch.setattr(flowlib.privacy, "settle", stopped_after_the_first_rebuild)
    with pytest.raises(flowlib.privacy.DisclosureSettlementError):
        build_marts(week.dates, make_settings(root))
    assert rebuilt, "the week is expected to need a round of complements"
    after = snapshot(root / "data" / "warehouse.duckdb")
    after["withheld"] = _withheld(root)
    assert sorted(after) == sorted(before)
    for table, rows in before.items():
        assert after[table] == rows, f"{table} changed although the build failed"


@pytest.mark.slow
def test_a_round_rebuilds_only_the_withheld_marts_and_what_reads_them_to_the_same_end(week: World, tmp_path, monkeypatch):
    """Between the settlement's rounds only the marts a round withheld rows in, the marts that
    read them and the action marts whose inputs those are, are rebuilt: the warehouse, the
    withheld rows and the open data end exactly as when every mart is rebuilt each round."""
    import flowlib.action_marts
    import flowlib.models
    import flowlib.opendata
    import flowlib.pipeline
    from bench.reliability.harness import snapshot
    from flowlib.opendata import write_files
    from flowlib.pipeline import build_marts
    from flowlib.warehouse import reader

    real_build_range = flowlib.models.build_range
    real_action_marts = flowlib.action_marts.build_action_marts
    every_mart = {m.relation for m in flowlib.models.discover() if m.layer == "marts"}
    seen: dict[str, list] = {"ranges": [], "action": []}

    def recording_build_range(con, first, last, settings=None, *, only=None):  # type: ignore[no-untyped-def]
        seen["ranges"].append(None if only is None else sorted(only))
        return real_build_range(con, first, last, settings, only=only)

    def recording_action_marts(con, settings, changed=None):  # type: ignore[no-untyped-def]
        built = real_action_marts(con, settings, changed)
        seen["action"].append(sorted(built))
        return built

    real_write_files = flowlib.opendata.write_files
    seen["writes"] = []

    def checked_write_files(con, settings, folder, *, for_audit=False, changed=None):  # type: ignore[no-untyped-def]
        """A settlement round's files, held to every audited file written afresh."""
        paths = real_write_files(con, settings, folder, for_audit=for_audit, changed=changed)
        if for_audit:
            seen["writes"].append(None if changed is None else sorted(changed))
            full = tmp_path / f"full-{len(seen['writes'])}"
            full.mkdir()
            real_write_files(con, settings, full, for_audit=True)
            assert {p.name: p.read_bytes() for p in folder.iterdir()} == {p.name: p.read_bytes() for p in full.iterdir()}
        return paths

    monkeypatch.setattr(flowlib.models, "build_range", recording_build_range)
    monkeypatch.setattr(flowlib.action_marts, "build_action_marts", recording_action_marts)
    monkeypatch.setattr(flowlib.opendata, "write_files", checked_write_files)

    def settle_again(name: str) -> tuple[dict, list, dict[str, bytes]]:
        root = tmp_path / name
        (root / "data").mkdir(parents=True)
        shutil.copy2(week.warehouse, root / "data" / "warehouse.duckdb")
        settings = make_settings(root)
        build_marts(week.dates, settings)
        folder = root / "files"
        folder.mkdir()
        with reader(settings) as con:
            write_files(con, settings, folder)
        files = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
        return snapshot(root / "data" / "warehouse.duckdb"), _withheld(root), files

    selective = settle_again("selective")
    rounds = [only for only in seen["ranges"] if only is not None and len(only) < len(every_mart)]
    assert rounds, "the week's rounds are expected to rebuild some marts only"
    assert seen["writes"][0] is None and any(changed is not None for changed in seen["writes"][1:])
    first_build = seen["action"][0]
    assert any(len(built) < len(first_build) for built in seen["action"][1:]), "a round is expected to keep some"
    # the same rebuild, every mart and every action mart each round, every file written (the design before)
    monkeypatch.setattr(flowlib.models, "dependants", lambda models, relations: {m.relation for m in models})
    monkeypatch.setattr(
        flowlib.opendata,
        "write_files",
        lambda con, settings, folder, *, for_audit=False, changed=None: real_write_files(
            con, settings, folder, for_audit=for_audit
        ),
    )
    everything = settle_again("everything")
    assert selective[1] == everything[1]  # the same rows withheld, round by round
    assert sorted(selective[2]) == sorted(everything[2])
    for name, data in selective[2].items():
        assert data == everything[2][name], name
    assert sorted(selective[0]) == sorted(everything[0])
    for table, rows in everything[0].items():
        assert selective[0][table] == rows, table


def _withheld(root) -> list[tuple]:  # type: ignore[no-untyped-def]
    with duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("select * from ops.withheld_cells order by all").fetchall()
