"""The command line as a data engineer meets it: examples loadable by an option, one sentence
for an unknown source, the default dates said (CLI main() in-process, no Airflow)."""

from __future__ import annotations

import json

import pytest

from flowlib.cli import main
from flowlib.demo import DEMO_END, DEMO_START


def test_an_example_source_by_name_is_one_sentence_naming_the_known_sources_and_the_option(settings, capsys):
    assert main(["ingest", "hokuriku_stays"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown source 'hokuriku_stays'") and err.count("\n") == 1
    assert "Traceback" not in err and "KeyError" not in err
    assert "known: admission_totals, cruise_nagasaki_port, entry_pos_a" in err
    assert "sources/examples/hokuriku_stays.yaml" in err and "--sources-dir " in err and "FLOW_SOURCES_DIR" in err


def test_a_name_declared_nowhere_still_says_how_to_load_the_examples(settings, capsys):
    assert main(["ingest", "no_such_feed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "known: admission_totals" in err
    assert "load with `--sources-dir" in err and "sources/examples" in err


def test_sources_dir_loads_the_examples(settings, capsys):
    examples = settings.project_root / "sources" / "examples"
    assert main(["sources", "--sources-dir", str(examples)]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {"hokuriku_stays", "hokuriku_wifi_sensor", "toyama_survey", "fukui_survey"} <= listed
    assert "entry_pos_a" not in listed
    assert main(["ingest", "hokuriku_stays", "--sources-dir", str(examples)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(entry["source"], entry["outcome"]) for entry in report] == [("hokuriku_stays", "no_files")]


def test_a_sources_dir_that_is_no_folder_is_one_sentence(settings, tmp_path, capsys):
    assert main(["sources", "--sources-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --sources-dir ") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["marts", "run", "ingest"])
def test_help_states_the_default_dates_and_the_sources_option(command, capsys):
    argv = [command, "entry_pos_a", "--help"] if command == "ingest" else [command, "--help"]
    with pytest.raises(SystemExit):
        main(argv)
    text = " ".join(capsys.readouterr().out.split())
    assert f"demo fortnight {DEMO_START.isoformat()} .. {DEMO_END.isoformat()}" in text
    assert "--sources-dir" in text


def test_marts_without_dates_says_it_builds_the_demo_fortnight(settings, capsys, caplog):
    from flowlib.pipeline import prepare_warehouse

    prepare_warehouse(settings)
    caplog.set_level("INFO", logger="flowlib.cli")
    assert main(["marts"]) == 0
    said = [r.getMessage() for r in caplog.records if r.name == "flowlib.cli"]
    assert said == [
        f"service dates: {DEMO_START.isoformat()} .. {DEMO_END.isoformat()} "
        "(14 days; the demo fortnight: no --first/--last given)"
    ]
    json.loads(capsys.readouterr().out)  # the report on stdout stays JSON
    caplog.clear()
    assert main(["marts", "--first", "2026-11-03"]) == 0
    assert [r.getMessage() for r in caplog.records if r.name == "flowlib.cli"] == [
        "service dates: 2026-11-03 .. 2026-11-03 (1 day; --first/--last)"
    ]


def test_marts_on_a_warehouse_never_prepared_is_one_sentence(settings, capsys):
    assert main(["marts", "--first", "2026-11-03"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the warehouse ") and "has not been prepared" in err and err.count("\n") == 1
    assert "Catalog Error" not in err and "Traceback" not in err
