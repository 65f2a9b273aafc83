"""Writes past the page cache land the same bytes as cached ones, whatever the filesystem
allows."""

import errno
import os
import threading

import pytest

from strata_node.common import direct_io
from strata_node.common.direct_io import ALIGNMENT, pwrite_direct

CHUNK = 64 * ALIGNMENT


def write_in_chunks(path, content: bytes) -> None:
    for position in range(0, len(content), CHUNK):
        piece = content[position:position + CHUNK]
        pwrite_direct(path, position, piece, ends_file=position + len(piece) == len(content))


@pytest.mark.parametrize("length", [0 * CHUNK + 1, ALIGNMENT, 3 * CHUNK, 3 * CHUNK + 17, 2 * CHUNK - 1])
def test_a_file_written_in_chunks_has_exactly_its_bytes_and_length(tmp_path, length):
    content = os.urandom(length)
    write_in_chunks(tmp_path / "000005.ldb", content)
    assert (tmp_path / "000005.ldb").read_bytes() == content


def test_a_filesystem_that_refuses_o_direct_gets_the_bytes_through_the_cache(tmp_path, monkeypatch):
    real_open = os.open

    def refusing(path, flags, *args):
        if flags & direct_io.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(direct_io, "O_DIRECT", direct_io.O_DIRECT or 0o40000)
    monkeypatch.setattr(direct_io.os, "open", refusing)
    content = os.urandom(2 * CHUNK + 5)
    write_in_chunks(tmp_path / "f", content)
    assert (tmp_path / "f").read_bytes() == content


def test_an_unaligned_write_that_does_not_end_the_file_is_not_padded(tmp_path):
    path = tmp_path / "f"
    pwrite_direct(path, 0, b"abc", ends_file=False)
    pwrite_direct(path, 3, b"defg", ends_file=True)
    assert path.read_bytes() == b"abcdefg"


def test_a_failed_write_kept_with_its_traceback_does_not_stop_a_larger_write_after_it(tmp_path, monkeypatch):
    def failing(fd, data, position):
        raise OSError(errno.ENOSPC, "No space left on device")

    def scenario(outcome: list) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(direct_io.os, "pwrite", failing)
            try:
                pwrite_direct(tmp_path / "e", 0, b"x" * ALIGNMENT, ends_file=True)
            except OSError as e:
                outcome.append(e)  # kept, as a stored failure keeps it
        pwrite_direct(tmp_path / "g", 0, b"y" * (8 * ALIGNMENT), ends_file=True)  # a larger buffer
        outcome.append((tmp_path / "g").read_bytes() == b"y" * (8 * ALIGNMENT))

    outcome: list = []
    thread = threading.Thread(target=scenario, args=(outcome,))  # a thread of its own: a fresh buffer
    thread.start()
    thread.join()
    assert isinstance(outcome[0], OSError) and outcome[1] is True
