"""Command line: ``python -m flowlib <command>``, the pipeline without Airflow.

For engineers at a terminal and for the Makefile: generate the demo, run the steps for a
range of days, list the registered sources. Errors a user can cause end in one sentence
saying what to do (exit code 2), not a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import sys
from pathlib import Path

from flowlib.config import ConfigError, get_settings

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ValueError, FileNotFoundError)


def _user_errors() -> tuple[type[BaseException], ...]:
    from flowlib.ingest import IngestError
    from flowlib.models import ModelError
    from flowlib.sources import UnknownSource
    from flowlib.warehouse import WarehouseBusy, WarehouseCorrupt

    return USER_ERRORS + (IngestError, ModelError, WarehouseBusy, WarehouseCorrupt, UnknownSource)


#: errno -> what the operator does about it (disk full, read-only or forbidden folder)
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free space (old backups in data/backups, data/tmp) and re-run; "
    "the warehouse was left as it was",
    errno.EDQUOT: "the disk quota is used up: free space and re-run; the warehouse was left as it was",
    errno.EROFS: "the folder is on a read-only file system: point FLOW_DATA_DIR / FLOW_DASHBOARDS_DIR at a "
    "writable folder and re-run",
    errno.EACCES: "permission denied: give the pipeline's user write access to that folder (or point the "
    "FLOW_*_DIR setting elsewhere) and re-run",
    errno.EPERM: "operation not permitted: give the pipeline's user write access to that folder and re-run",
    errno.ENOTDIR: "a file stands where a folder is expected: fix the FLOW_*_DIR setting or move the file away",
    errno.EEXIST: "a file stands where a folder is expected: fix the FLOW_*_DIR setting or move the file away",
}


def explain_os_error(exc: BaseException) -> str | None:
    """One sentence for a file-system failure the user can fix, else None. DuckDB reports
    such failures as its own IOException with the OS text inside."""
    import duckdb

    from flowlib.parsing import printable

    if isinstance(exc, OSError) and exc.errno in _OS_ADVICE:
        where = f" ({printable(str(exc.filename))})" if exc.filename else ""
        return f"{_OS_ADVICE[exc.errno]}{where}."
    if isinstance(exc, duckdb.Error):
        text = str(exc)
        for number, marker in (
            (errno.ENOSPC, "No space left on device"),
            (errno.EROFS, "Read-only file system"),
            (errno.EACCES, "Permission denied"),
        ):
            if marker in text:
                return f"{_OS_ADVICE[number]} (DuckDB: {printable(text.splitlines()[0][:200])})."
    return None


def _dates(args: argparse.Namespace) -> list[str]:
    """The service days a command works on, logged (stderr) so that nobody builds the demo
    fortnight by accident; stdout stays the command's report."""
    from flowlib.demo import DEMO_END, DEMO_START
    from flowlib.pipeline import resolve_service_dates

    if args.first is None and args.last is None:
        first, last, why = DEMO_START.isoformat(), DEMO_END.isoformat(), "the demo fortnight: no --first/--last given"
    else:
        first, last, why = args.first or args.last, args.last or args.first, "--first/--last"
    dates = resolve_service_dates(None, first, last)
    logging.getLogger("flowlib.cli").info(
        "service dates: %s .. %s (%d day%s; %s)", dates[0], dates[-1], len(dates), "s" if len(dates) != 1 else "", why
    )
    return dates


def _add_range(parser: argparse.ArgumentParser) -> None:
    from flowlib.demo import DEMO_END, DEMO_START

    demo = f"{DEMO_START.isoformat()} .. {DEMO_END.isoformat()}"
    parser.add_argument(
        "--first",
        help="first service date (YYYY-MM-DD); alone it means that one day. "
        f"Default without --first and --last: the demo fortnight {demo}",
    )
    parser.add_argument("--last", help="last service date (YYYY-MM-DD); alone it means that one day")


#: Commands that read the source declarations; --sources-dir points them at another folder.
_REGISTRY_OPTION = argparse.ArgumentParser(add_help=False)
_REGISTRY_OPTION.add_argument(
    "--sources-dir",
    type=Path,
    default=None,
    help="folder of source declarations to read instead of FLOW_SOURCES_DIR (default ./sources); "
    "--sources-dir sources/examples loads the real-data examples (hokuriku_stays, toyama_survey, ...)",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flowlib", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="generate the demo landing files (see 'flowlib demo -h')", add_help=False)
    commands.add_parser("sources", help="validate and list the source declarations", parents=[_REGISTRY_OPTION])
    run = commands.add_parser("run", help="the whole night for a range of days, without Airflow", parents=[_REGISTRY_OPTION])
    _add_range(run)
    ingest = commands.add_parser("ingest", help="load one source for a range of days", parents=[_REGISTRY_OPTION])
    ingest.add_argument("source", help="a declaration's name ('flowlib sources' lists them)")
    _add_range(ingest)
    for command in (run, ingest):
        command.add_argument("--force", action="store_true", help="reload unchanged files too (after an HMAC key rotation)")
        command.add_argument(
            "--allow-shrink",
            action="store_true",
            help="accept a re-delivery that removes most of a loaded day (FLOW_MIN_RELOAD_SHARE)",
        )
    commands.add_parser("backup", help="copy the warehouse into data/backups (verified; the build step does it nightly)")
    restore = commands.add_parser("restore", help="replace a damaged warehouse by the newest verified backup")
    restore.add_argument("--from", dest="backup_file", type=Path, default=None, help="a backup file to restore instead")
    marts = commands.add_parser("marts", help="rebuild the marts for a range of days", parents=[_REGISTRY_OPTION])
    _add_range(marts)
    marts.add_argument(
        "--rebuild", action="store_true", help="build even when the warehouse, code and settings are as the last build left them"
    )
    commands.add_parser("dashboards", help="rewrite every dashboard page", parents=[_REGISTRY_OPTION])
    commands.add_parser("opendata", help="write, audit and publish the open data")
    audit = commands.add_parser("audit", help="what an outsider can infer from the published open data")
    audit.add_argument("--folder", help="folder of published files (default: dashboards/exports)")
    audit.add_argument("--k", type=int, help="minimum cell count (default: FLOW_MIN_CELL_COUNT)")

    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["demo"]:
        from flowlib.demo import main as demo_main

        return demo_main(argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return _dispatch(args)
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from flowlib.warehouse import corruption

        sentence = explain_os_error(exc)
        damaged = corruption(exc, get_settings().warehouse_path)
        if sentence is None and damaged is None:
            raise
        print(f"error: {sentence or damaged}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    from flowlib import pipeline
    from flowlib.sources import load_registry

    settings = get_settings()
    if getattr(args, "sources_dir", None) is not None:
        folder = args.sources_dir.expanduser().resolve()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"--sources-dir {args.sources_dir} is not a folder of source declarations; give e.g. sources/examples."
            )
        settings = dataclasses.replace(settings, sources_dir=folder)
    if args.command == "sources":
        for name, spec in load_registry(settings).items():
            print(f"{name:24} {spec.kind.name:14} {spec.format:5} {spec.encoding:10} {spec.landing}")
        return 0
    if args.command == "run":
        print(pipeline.run_all(_dates(args), settings, force=args.force, allow_shrink=args.allow_shrink))
        return 0
    if args.command == "ingest":
        from flowlib.sources import lookup

        lookup(load_registry(settings), args.source, settings)  # an unknown name fails before anything is opened
        pipeline.prepare_warehouse(settings, report_unclaimed=False)
        print(
            json.dumps(
                pipeline.ingest_source(args.source, _dates(args), settings, force=args.force, allow_shrink=args.allow_shrink),
                indent=2,
            )
        )
        return 0
    if args.command == "backup":
        from flowlib.warehouse import backup

        print(backup(settings))
        return 0
    if args.command == "restore":
        from flowlib.warehouse import restore

        chosen, kept = restore(settings, args.backup_file)
        print(
            f"restored {settings.warehouse_path} from {chosen}"
            + (f"; the damaged file is kept as {kept}" if kept else "")
            + "; re-run the days loaded since that backup."
        )
        return 0
    if args.command == "marts":
        print(json.dumps(pipeline.build_marts(_dates(args), settings, rebuild=args.rebuild), indent=2))
        return 0
    if args.command == "dashboards":
        print(pipeline.publish_dashboards(None, settings))
        return 0
    if args.command == "opendata":
        print(json.dumps(pipeline.publish_open_data(settings), indent=2))
        return 0
    if args.command == "audit":
        from pathlib import Path

        from flowlib.disclosure_audit import audit

        folder = Path(args.folder) if args.folder else settings.dashboards_dir / "exports"
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder of published files; run 'flowlib opendata' first.")
        report = audit(folder, args.k or settings.min_cell_count, settings.audit_workers)
        print(report.summary())
        return 0 if report.ok else 1
    raise AssertionError(args.command)


if __name__ == "__main__":
    raise SystemExit(main())
