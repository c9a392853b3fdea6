"""Input digests: a Python mart whose inputs and code are unchanged keeps its rows.

The marts estimated in Python (the gravity model of `flowlib.opportunities`, the crowding
forecast of `flowlib.forecast`) are deterministic functions of what they read: the same
published cells, the same code and the same library versions give the same rows, bit for bit
(their random draws are seeded from their keys). Each unit of work (a cut, a facility's
series) stores the digest of its inputs beside its rows, in the same transaction; the next
build recomputes only the units whose digest changed. A rerun, or a catch-up that changes one
source, then refits what it changed and nothing else.

What goes into a digest is the caller's to say, and must be everything the unit reads:
``code_fingerprint`` covers the module, its SQL folder and the libraries that compute.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.metadata import version
from pathlib import Path

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@cache
def code_fingerprint(module_file: str, sql_folder: str, packages: tuple[str, ...]) -> bytes:
    """The code that decides a unit's rows: the module's source, its queries
    (``sql/<sql_folder>/*.sql``) and the versions of the libraries that compute."""
    digest = hashlib.sha256()
    digest.update(Path(module_file).read_bytes())
    for path in sorted((PROJECT_ROOT / "sql" / sql_folder).glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    for package in packages:
        digest.update(f"{package}=={version(package)}".encode())
    return digest.digest()


def input_digest(code: bytes, *parts: object) -> str:
    """One hex digest of the code fingerprint and every input part, in order.

    Frames and series are hashed as their CSV text with the index (floats in their shortest
    round-tripping form, so any change of value changes the digest); anything else by its
    ``repr``, type included, so ``None``, ``"None"`` and a missing part differ.
    """
    digest = hashlib.sha256(code)
    for part in parts:
        if isinstance(part, (pd.DataFrame, pd.Series)):
            text = f"{type(part).__name__}:{part.to_csv()}"
        else:
            text = f"{type(part).__name__}:{part!r}"
        digest.update(len(text).to_bytes(8, "big") + text.encode())
    return digest.hexdigest()
