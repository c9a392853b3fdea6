"""Passed disclosure audits, remembered by a digest of what they audited.

The audit (:func:`flowlib.disclosure_audit.audit`) is a function of the files' bytes, k and
its own code, HiGHS included: the same files audited again give the same verdict. A night
audits its open-data set twice, in the build's settlement and again when it publishes the
same bytes, and a night without new data audits what the night before audited; each audit
solves for 15-20 s on the demo fortnight. So a passed audit is recorded under the digest of
the CSV files' names and bytes (all the audit reads), k, the audit module's source and the versions of the solvers
it calls, and :func:`audit_once` returns that verdict for a folder with the same digest
without solving again.

Only passes are recorded. A folder with exposed cells is solved every time: its exposures
are what the settlement withholds for, and it is never published. Any change to a file, to
k, to ``disclosure_audit.py`` or to numpy, scipy or highspy gives another digest, so a
stale verdict cannot be found.

A folder that differs is still mostly the same programs: the settlement's next round
withholds a few rows, the next night adds a day. So every audit also keeps what it found
for each component (:class:`flowlib.disclosure_audit.BlockVerdict`), passed or not, under
the digest of that component's program (``block_digest``: its cells, relations, the values
they name, k and the same code digest) in ``blocks/<folder digest>.json``; the next audit
solves only the components no kept file knows. The newest ``BLOCK_FILES_KEPT`` files are
kept (a night writes up to six: the settlement's rounds and the publication).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from concurrent.futures import Executor
from dataclasses import fields
from functools import cache
from importlib import metadata
from pathlib import Path

from flowlib import disclosure_audit
from flowlib.atomic import write_text_atomic
from flowlib.disclosure_audit import AuditReport

log = logging.getLogger(__name__)

#: verdicts kept (the newest by modification time); a night adds at most two
KEPT = 30
#: component verdict files kept (the newest by modification time)
BLOCK_FILES_KEPT = 12
#: report fields that describe a failed audit only, or sets of cells, so never stored
_NOT_STORED = {"exposed", "relaxed_cells", "inconsistent_cells", "seconds", "reused", "published"}


@cache
def _audit_code() -> str:
    """The audit's own source and the solver versions it runs on."""
    versions = ";".join(f"{name}={metadata.version(name)}" for name in ("numpy", "scipy", "highspy"))
    source = Path(disclosure_audit.__file__).read_bytes()
    return hashlib.sha256(source + versions.encode()).hexdigest()


def folder_digest(folder: Path, k: int) -> str:
    """SHA-256 over the files of ``folder`` the audit reads (name and bytes, in name order;
    ``disclosure_audit.AUDITED_FILES``), k and the audit's code. Nothing else counts: not the
    catalogue and the index (they carry the time they were written), nor a published file
    the audit does not read (the night's forecast, written after the settlement's audit,
    would otherwise make the publication's audit of the same counts a new one)."""
    digest = hashlib.sha256(f"k={k};audit={_audit_code()}".encode())
    audited = (folder / f"{name}.csv" for name in sorted(disclosure_audit.AUDITED_FILES))
    for path in (p for p in audited if p.is_file()):
        name = path.name.encode()
        data = path.read_bytes()
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@disclosure_audit.paused_cycle_collection()
def audit_once(folder: Path, k: int, workers: int, verdicts: Path | None, pool: Executor | None = None) -> AuditReport:
    """The audit of ``folder``: a recorded pass of the same digest if ``verdicts`` holds one,
    else :func:`flowlib.disclosure_audit.audit` (in ``pool``'s processes when given), recorded
    when it passes."""
    if verdicts is None:
        return disclosure_audit.audit(folder, k, workers, pool=pool)
    started = time.perf_counter()
    digest = folder_digest(folder, k)
    recorded = verdicts / f"{digest}.json"
    stored = _read(recorded)
    if stored is not None:
        report = AuditReport(**{f.name: stored[f.name] for f in fields(AuditReport) if f.name in stored})
        report.reused = True
        report.seconds = time.perf_counter() - started
        recorded.touch()  # kept among the newest while it is still in use
        log.info("open-data audit: the same files, k and audit code passed before (%s); not solved again", digest[:12])
        return report
    memory = block_memory(verdicts)
    report = disclosure_audit.audit(folder, k, workers, memory, pool)
    remember_blocks(verdicts, digest, memory)
    if report.ok:
        verdicts.mkdir(parents=True, exist_ok=True)
        # the counts only (what the files said is not kept, and is large): no deep copy of it
        stored = {f.name: getattr(report, f.name) for f in fields(report) if f.name not in _NOT_STORED}
        write_text_atomic(recorded, json.dumps(stored, sort_keys=True, indent=1) + "\n")
        _prune(verdicts)
    return report


def _read(recorded: Path) -> dict | None:
    """A recorded pass, or None when there is none: also when another night's pruning removed
    it meanwhile or it cannot be read whole (the folder is solved again, never trusted)."""
    try:
        stored = json.loads(recorded.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and isinstance(stored.get("k"), int) else None


def _prune(verdicts: Path) -> None:
    recorded = sorted(verdicts.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in recorded[KEPT:]:
        old.unlink(missing_ok=True)


def block_memory(verdicts: Path) -> disclosure_audit.BlockMemory:
    """The component verdicts of the newest kept audits (a file that cannot be read whole is
    left out: its components are solved again, never trusted)."""
    memory = disclosure_audit.BlockMemory(_audit_code())
    files = sorted((verdicts / "blocks").glob("*.json"), key=lambda p: p.stat().st_mtime)
    for path in files[-BLOCK_FILES_KEPT:]:
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            found = {
                digest: disclosure_audit.BlockVerdict(
                    [(int(i), float(low), float(high)) for i, low, high in item["narrow"]],
                    bool(item["relaxed"]),
                    bool(item["inconsistent"]),
                )
                for digest, item in stored.items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            log.warning("audit: component verdicts %s unreadable; their components are solved again", path.name)
            continue
        memory.known.update(found)
    return memory


def remember_blocks(verdicts: Path, digest: str, memory: disclosure_audit.BlockMemory) -> None:
    """Keep every component verdict this audit needed, then only the newest files."""
    folder = verdicts / "blocks"
    folder.mkdir(parents=True, exist_ok=True)
    stored = {
        key: {"narrow": [list(item) for item in verdict.narrow], "relaxed": verdict.relaxed, "inconsistent": verdict.inconsistent}
        for key, verdict in sorted(memory.used.items())
    }
    write_text_atomic(folder / f"{digest}.json", json.dumps(stored, sort_keys=True) + "\n")
    kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[BLOCK_FILES_KEPT:]:
        old.unlink(missing_ok=True)
