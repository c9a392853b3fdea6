"""Keyed pseudonymisation of personal ids at the door of the warehouse.

Card numbers and device ids are personal data. They are replaced by a keyed HMAC-SHA-256
before anything is written, so the warehouse can link a visitor's taps across facilities
without ever holding the id itself. An unkeyed hash would not do: card numbers are short
enough to enumerate.
"""

from __future__ import annotations

import hashlib
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


#: SHA-256's block size: HMAC pads (or first hashes) the key to this many bytes (RFC 2104).
SHA256_BLOCK_BYTES = 64


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA-256 (RFC 2104, section 2), so that
    HMAC(key, m) = SHA-256(outer || SHA-256(inner || m)).

    Ingest computes the pseudonyms inside DuckDB with its ``sha256`` (the staging macro
    ``flow_pseudonym`` in sql/ingest/stage_rows.sql): a million ids hash there in a fraction
    of the time ``hmac.digest`` takes called once per id from Python, on every core, and no
    kept library offers a vectorised HMAC. This function is the one place the construction is
    written down; tests/test_pseudonym_sql.py holds the SQL to ``hmac.digest`` for arbitrary
    ids and keys. The pads are as secret as the key and live only in the writer's session.
    """
    block = hashlib.sha256(key).digest() if len(key) > SHA256_BLOCK_BYTES else key
    block = block.ljust(SHA256_BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


#: What the key fingerprint is an HMAC of: a fixed, public label. The fingerprint tells two
#: keys apart without revealing either. (Guessing a key from it is exactly as hard as
#: guessing it from any pseudonym, which is why short keys are refused in config.py.)
FINGERPRINT_LABEL = b"nagasaki-tourism-flow/key-fingerprint/v1"
FINGERPRINT_HEX_LENGTH = 16


def key_fingerprint(key: bytes) -> str:
    """A short keyed fingerprint of the pseudonymisation key, recorded per load.

    HMAC(key, fixed label), truncated to 64 bits: equal keys give equal fingerprints, the
    key cannot be recovered from it, and 64 bits are plenty to tell a handful of keys apart.
    """
    return hmac.digest(key, FINGERPRINT_LABEL, "sha256").hex()[:FINGERPRINT_HEX_LENGTH]
