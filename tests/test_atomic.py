"""The one atomic writer: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import stat

import pytest

from flowlib.atomic import atomic_write, write_bytes_atomic, write_text_atomic


def test_replaces_readable_by_the_web_server_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "page.html"
    assert write_text_atomic(path, "一\n") and path.read_bytes() == "一\n".encode()
    assert write_bytes_atomic(path, b"two") and path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["page.html"]


def test_unchanged_content_is_left_alone_when_asked(tmp_path):
    path = tmp_path / "data.csv"
    assert atomic_write(path, lambda handle: handle.write("a,b\r\n"), newline="")
    mtime = path.stat().st_mtime_ns
    assert not atomic_write(path, lambda handle: handle.write("a,b\r\n"), newline="")
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == b"a,b\r\n"
    assert write_bytes_atomic(path, b"a,b\r\n")  # not asked: rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]


def test_a_failing_writer_keeps_the_previous_file_whole(tmp_path):
    path = tmp_path / "data.csv"
    write_text_atomic(path, "yesterday")

    def failing(handle):
        handle.write("half of tod")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_text() == "yesterday" and [p.name for p in tmp_path.iterdir()] == ["data.csv"]
