"""sendfile(2) into a TCP socket (fs/read_write.c: do_sendfile; fs/splice.c:
do_splice_direct, splice_direct_to_actor, splice_to_socket; mm/filemap.c:
filemap_splice_read).

Linux moves a file's page-cache pages through an internal pipe (PIPE_DEF_BUFFERS = 16
pages at a time) into the socket with MSG_SPLICE_PAGES: the pages become the skbs'
fragments, the data is never copied (tcp_sendmsg_locked's splice branch). Each
pipeful goes as one sendmsg, with MSG_MORE while more of the file is to follow
(SPLICE_F_MORE), so only the last segment of the transfer carries PSH.

tuxnet's page cache is the file mapped into memory (``mmap``; an in-memory file's
buffer for ``io.BytesIO`` and the packetdrill runner's files): fragments are
memoryviews over it. Like Linux, what goes on the wire is what the file holds when the
segment is (re)transmitted.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from typing import Any

from tuxnet.skb.zcopy import PAGE_SIZE

__all__ = ["PIPE_DEF_BUFFERS", "file_pages", "splice_direct"]

PIPE_DEF_BUFFERS = 16  # include/linux/pipe_fs_i.h


def file_pages(file: Any) -> memoryview:
    """The page cache of ``file``: its buffer (``getbuffer()``, as io.BytesIO has), or
    the file mapped read-only (an object with ``fileno()``)."""
    getbuffer = getattr(file, "getbuffer", None)
    if getbuffer is not None:
        view: memoryview = getbuffer()
        return view.cast("B") if view.format != "B" else view
    fd = file.fileno()
    size = os.fstat(fd).st_size
    if size == 0:
        return memoryview(b"")
    return memoryview(mmap.mmap(fd, size, access=mmap.ACCESS_READ))


def splice_direct(pages: memoryview, offset: int, count: int,
                  send: Callable[[memoryview, int, bool], int]) -> int:
    """splice_direct_to_actor(): ``count`` bytes of ``pages`` from ``offset``, a pipeful
    (16 pages) per ``send(chunk, file_offset, more)``; stops at a short send. Returns
    the bytes sent (an error after some were sent is not reported, as sendfile)."""
    end = min(offset + count, len(pages))
    total = 0
    pos = offset
    while pos < end:
        lim = min(end, (pos // PAGE_SIZE + PIPE_DEF_BUFFERS) * PAGE_SIZE)
        try:
            n = send(pages[pos:lim], pos, lim < end)
        except OSError:
            if total:
                break
            raise
        total += n
        pos += n
        if pos < lim:
            break
    return total
