"""Random ids made reproducible: the same rendered content, the same bytes.

folium (page elements) and Great Expectations (Data Docs blocks) name what they render with
fresh random ids. Neither id means anything outside its page, so each page's ids are
replaced by their rank of first appearance: every id and every reference to it keep one
name, and rendering the same content again writes the same bytes (a rerun is byte-identical).
"""

from __future__ import annotations

import re
from collections.abc import Callable


def number_ids(text: str, pattern: re.Pattern[str], name: Callable[[int], str]) -> str:
    """Every match of ``pattern`` in ``text`` replaced by ``name(rank)``, the rank (1, 2, ...)
    of its first appearance; equal matches get equal names."""
    rank: dict[str, str] = {}
    return pattern.sub(lambda m: rank.setdefault(m.group(0), name(len(rank) + 1)), text)
