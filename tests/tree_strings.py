"""Every string value in a parsed JSON or YAML tree (keys excluded), for tests that check
what a file says wherever in it that is: compose service definitions, GeoJSON properties."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def strings(node: Any) -> Iterator[str]:
    """The string values below node, depth first."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
