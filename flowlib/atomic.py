"""One way to replace a file so that no reader ever sees half of it.

Pages, open data, GX results, assets and the demo's landing files are all read while the
pipeline may be rewriting them (the web server, the next task, the landing scan). Each is
written to a hidden ``.<name>.<random>.tmp`` file in the same folder, flushed to disk, then
renamed over the target in one step; a failure removes the temporary file and leaves the
previous file whole. ``flowlib.dashboards.publish.sweep_stale_temp_files`` removes what a
killed run leaves behind (the same name pattern).
"""

from __future__ import annotations

import filecmp
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO

#: mkstemp makes 0600; the dashboards web server reads the files as another user.
FILE_MODE = 0o644


def _replace(path: Path, fill: Callable[[BinaryIO], None], skip_unchanged: bool) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if skip_unchanged and path.is_file() and filecmp.cmp(temp_name, path, shallow=False):
            Path(temp_name).unlink()
            return False
        os.chmod(temp_name, FILE_MODE)
        os.replace(temp_name, path)
        return True
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes, *, skip_unchanged: bool = False) -> bool:
    """Replace ``path`` by ``data`` in one step. With ``skip_unchanged``, equal content
    leaves the file (and its modification time) alone and returns False."""
    return _replace(path, lambda handle: handle.write(data), skip_unchanged)


def write_text_atomic(path: Path, text: str, *, encoding: str = "utf-8", skip_unchanged: bool = False) -> bool:
    """:func:`write_bytes_atomic` for text (no newline translation)."""
    return write_bytes_atomic(path, text.encode(encoding), skip_unchanged=skip_unchanged)


def atomic_write(
    path: Path,
    write: Callable[[TextIO], None],
    encoding: str = "utf-8",
    newline: str | None = None,
    *,
    skip_unchanged: bool = True,
) -> bool:
    """Replace ``path`` by what ``write`` writes to a text handle (streamed, for large CSVs);
    returns False and leaves ``path`` alone when the new content equals the old one."""

    def fill(handle: BinaryIO) -> None:
        text = io.TextIOWrapper(handle, encoding=encoding, newline=newline)  # type: ignore[type-var]
        write(text)
        text.flush()
        text.detach()  # the binary handle stays open for the fsync

    return _replace(path, fill, skip_unchanged)
