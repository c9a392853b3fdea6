"""Publishing the open data: write every file into a staging folder, audit, then swap.

The nightly ``publish_open_data`` step (after ``build_marts``). Readers of
``dashboards/exports/`` never see a half-written or an unaudited set:

1. the new set is written into a fresh version folder ``dashboards/.opendata/<stamp>/``
   (a copy of the current set first, so files whose content did not change keep their
   modification time): the indicator CSVs (:func:`flowlib.indicator_mart.export_indicator_csv`)
   and every mart file with the catalogue (:func:`flowlib.exports.write_open_data`);
2. :func:`flowlib.disclosure_audit.audit` solves, from these files alone, what an outsider
   could infer about every hidden cell (or, for the very bytes the build's settlement or an
   earlier night audited and passed, :func:`flowlib.audit_verdicts.audit_once` returns that
   pass);
3. only when no cell is exposed, the ``exports`` link is replaced in one ``rename`` by a
   link to the new version (atomic on POSIX); the previous version is kept for a rollback,
   older ones are removed. When a cell is exposed, :class:`DisclosureError` names it and the
   published set stays as it was (the rejected version is left for inspection).

The first run on a dashboards folder whose ``exports`` is a plain folder moves that folder
into ``.opendata/`` and links to it, so the swap is atomic from then on.

A night with nothing new keeps the published set: when the warehouse (every table), the
code and the settings have the digest they had when it was written
(:func:`flowlib.build_state.state_digest`, recorded with the set's file digest in
``data/open_data_published.json``) and its files are still those bytes, writing and auditing
again would publish the same files (only the catalogue's ``generated_at`` would move).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flowlib.config import Settings, get_settings

log = logging.getLogger(__name__)

EXPORTS_LINK = "exports"
VERSIONS_DIR = ".opendata"
#: versions kept besides the current one (for a rollback by hand: relink exports)
KEEP_PREVIOUS = 1


class DisclosureError(RuntimeError):
    """The audit found cells an outsider could narrow below k; nothing was published."""


@dataclass(frozen=True)
class Publication:
    folder: Path
    files: int
    cells: int
    hidden: int
    exposed: int
    seconds: float

    def summary(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "files": self.files,
            "cells": self.cells,
            "hidden": self.hidden,
            "exposed": self.exposed,
            "audit_seconds": round(self.seconds, 1),
        }


def current_version(dashboards_dir: Path) -> Path | None:
    """The folder ``exports`` points to (or is), None before the first publication."""
    link = dashboards_dir / EXPORTS_LINK
    if link.is_symlink():
        return link.resolve()
    return link if link.is_dir() else None


def _adopt_plain_folder(dashboards_dir: Path, versions: Path) -> None:
    """Move a plain ``exports`` folder (written before versions existed) under .opendata/."""
    link = dashboards_dir / EXPORTS_LINK
    if link.is_dir() and not link.is_symlink():
        target = versions / f"adopted-{datetime.now():%Y%m%dT%H%M%S%f}"
        os.rename(link, target)
        os.symlink(os.path.relpath(target, dashboards_dir), link)


def _new_version(versions: Path, current: Path | None) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    folder = versions / stamp
    if current is not None and current.is_dir():
        shutil.copytree(current, folder, copy_function=shutil.copy2)
    else:
        folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    return folder


def _swap(dashboards_dir: Path, folder: Path) -> None:
    link = dashboards_dir / EXPORTS_LINK
    temporary = dashboards_dir / f".{EXPORTS_LINK}.{os.getpid()}.link"
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(folder, dashboards_dir), temporary)
    os.replace(temporary, link)


def _prune(versions: Path, keep: set[Path]) -> None:
    published = sorted(
        (p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("rejected-")),
        key=lambda p: p.name.rsplit("-", 1)[-1],
    )  # by stamp
    for old in published[: -(KEEP_PREVIOUS + 1)]:
        if old.resolve() not in keep:
            shutil.rmtree(old, ignore_errors=True)


def write_files(  # type: ignore[no-untyped-def]
    con, settings: Settings, folder: Path, *, for_audit: bool = False, changed: Collection[str] | None = None
) -> list[Path]:
    """Every open-data file into ``folder`` (the indicator CSVs first: the catalogue lists them).

    The disclosure settlement writes ``for_audit``: only the CSV files the audit reads
    (:data:`flowlib.disclosure_audit.AUDITED_FILES`), and after its first round only those
    whose mart is among the relations ``changed`` since the folder was written (a file is a
    function of its mart alone: ``select *`` of the published rows; the others are the same
    bytes again; tests/disclosure/test_settlement_world.py holds this to writing every file)."""
    from flowlib.exports import DATASETS, write_open_data
    from flowlib.indicator_mart import DRIVERS_TABLE, INDICATOR_TABLE, export_indicator_csv

    schema, name = INDICATOR_TABLE.split(".")
    indicator = {INDICATOR_TABLE, DRIVERS_TABLE}
    if con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0] and (changed is None or indicator & set(changed)):
        export_indicator_csv(con, folder)
    if not for_audit:
        return write_open_data(con, settings, folder)
    from flowlib.disclosure_audit import AUDITED_FILES

    only = {d.name for d in DATASETS if d.name in AUDITED_FILES and (changed is None or d.source in changed)}
    return write_open_data(con, settings, folder, only=only)


def _kept(settings: Settings, current: Path | None, state: str) -> Publication | None:
    """The published set, when it was written from this state and is still as written."""
    from flowlib.build_state import files_digest

    try:
        recorded = json.loads(settings.open_data_state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if current is None or recorded.get("version") != current.name or recorded.get("state") != state:
        return None
    if recorded.get("files_digest") != files_digest(current):
        return None  # changed by hand since: write and audit it again
    summary = recorded["summary"]
    return Publication(current, summary["files"], summary["cells"], summary["hidden"], summary["exposed"], 0.0)


def publish_open_data(settings: Settings | None = None) -> Publication:
    """Write, audit and (when nothing is exposed) publish the open data; see the module doc."""
    from flowlib.atomic import write_text_atomic
    from flowlib.audit_verdicts import audit_once
    from flowlib.build_state import files_digest, state_digest
    from flowlib.warehouse import reader

    settings = settings or get_settings()
    dashboards_dir = settings.dashboards_dir
    versions = dashboards_dir / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    _adopt_plain_folder(dashboards_dir, versions)
    current = current_version(dashboards_dir)
    with reader(settings) as con:
        state = state_digest(con, settings, (), skip=frozenset())
    kept = _kept(settings, current, state)
    if kept is not None:
        log.info("open data: warehouse, code and settings as when %s was published; the set is kept", kept.folder.name)
        return kept
    folder = _new_version(versions, current)
    try:
        with reader(settings) as con:
            paths = write_files(con, settings, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    report = audit_once(folder, settings.min_cell_count, settings.audit_workers, settings.audit_verdicts_dir)
    log.info("open-data audit of %s:\n%s", folder.name, report.summary())
    if not report.ok:
        rejected = folder.with_name(f"rejected-{folder.name}")
        os.rename(folder, rejected)
        first = report.exposed[0].describe() if report.exposed else "relations are inconsistent"
        raise DisclosureError(
            f"open data not published: {len(report.exposed)} cell(s) exposed, first {first}; "
            f"the previous set stays in {dashboards_dir / EXPORTS_LINK}, the rejected one is in {rejected}."
        )
    _swap(dashboards_dir, folder)
    _prune(versions, {folder.resolve()} | ({current.resolve()} if current else set()))
    publication = Publication(folder, len(paths), report.cells, report.hidden, len(report.exposed), report.seconds)
    record = {"version": folder.name, "state": state, "files_digest": files_digest(folder), "summary": publication.summary()}
    write_text_atomic(settings.open_data_state_file, json.dumps(record, indent=1, sort_keys=True))
    return publication
