"""``StreamSocket.sendfile`` end to end between two simulated hosts: Python's
socket.sendfile interface, Linux's splice path underneath (the file's pages become the
skbs' fragments; MSG_MORE between pipefuls, PSH at the end)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from _tcppair import pair, recv_exactly

from tuxnet.socket.sendfile import PIPE_DEF_BUFFERS
from tuxnet.tcp.sock import tcp_cb


def test_sendfile_bytesio_in_chunks_with_position() -> None:
    net, cli, srv = pair()
    data = random.Random(3).randbytes(300_000)
    f = io.BytesIO(data)
    got = bytearray()
    for off in range(0, len(data), 60_000):
        assert cli.sendfile(f, off, 60_000) == 60_000
        assert f.tell() == off + 60_000
        got += recv_exactly(srv, 60_000)
    assert bytes(got) == data
    net.settle()
    assert not cli.sk.tcp_rtx_queue  # all acknowledged


def test_sendfile_pages_are_referenced_not_copied() -> None:
    net, cli, srv = pair()
    data = bytearray(b"z" * 40_000)
    f = io.BytesIO(data)
    assert cli.sendfile(f) == 40_000
    skbs = list(cli.sk.tcp_rtx_queue) + list(cli.sk.sk_write_queue)
    assert all(skb.frags and not skb.headlen() for skb in skbs)
    # the fragments are views of the file's own buffer (its page cache): a change to
    # the file before a segment leaves is what the peer receives
    buf = f.getbuffer()
    buf[30_000] = ord("Q")
    # one pipeful (16 pages) per sendmsg: only the end of the transfer carries PSH
    start = tcp_cb(skbs[0]).seq
    psh = [(tcp_cb(s).end_seq - start) & 0xFFFFFFFF for s in skbs
           if tcp_cb(s).tcp_flags & 0x08]
    assert psh == [40_000]
    got = recv_exactly(srv, 40_000)
    assert got[30_000:30_001] == b"Q" and got.count(b"z") == 39_999
    del buf, skbs
    net.settle()


def test_sendfile_real_file_offset_and_count(tmp_path: Path) -> None:
    net, cli, srv = pair()
    data = random.Random(5).randbytes(3 * PIPE_DEF_BUFFERS * 4096 + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with path.open("rb") as f:
        assert cli.sendfile(f, 1000, 50_000) == 50_000
        assert f.tell() == 51_000
        assert recv_exactly(srv, 50_000) == data[1000:51_000]
        assert cli.sendfile(f, 51_000) == len(data) - 51_000  # to the end of the file
        assert recv_exactly(srv, len(data) - 51_000) == data[51_000:]
    net.settle()


def test_sendfile_python_argument_checks(tmp_path: Path) -> None:
    _, cli, _ = pair()
    path = tmp_path / "t.txt"
    path.write_text("hello")
    with path.open("r") as text, pytest.raises(ValueError, match="binary mode"):
        cli.sendfile(text)
    with pytest.raises(ValueError, match="positive integer"):
        cli.sendfile(io.BytesIO(b"x"), 0, 0)
    with pytest.raises(TypeError):
        cli.sendfile(io.BytesIO(b"x"), 0, 1.5)  # type: ignore[arg-type]
    cli.setblocking(False)
    with pytest.raises(ValueError, match="non-blocking"):
        cli.sendfile(io.BytesIO(b"x"))
    cli.setblocking(True)
    assert cli.sendfile(io.BytesIO(b"")) == 0
