"""Keyed pseudonymisation of personal ids at the door of the warehouse.

Card numbers and device ids are personal data. They are replaced by a keyed HMAC-SHA-256
before anything is written, so the warehouse can link a visitor's taps across facilities
without ever holding the id itself. An unkeyed hash would not do: card numbers are short
enough to enumerate.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

PSEUDONYM_HEX_LENGTH = 64


def pseudonymise(value: str, key: bytes) -> str:
    """HMAC-SHA-256 of one id as 64 lower-case hex characters."""
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


def pseudonymise_many(values: Iterable[str | None], key: bytes) -> list[str | None]:
    """Pseudonymise a column, hashing each distinct id once (ids repeat across taps)."""
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        hashed = cache.get(value)
        if hashed is None:
            hashed = pseudonymise(value, key)
            cache[value] = hashed
        out.append(hashed)
    return out
