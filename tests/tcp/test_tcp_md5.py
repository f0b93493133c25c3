"""TCP MD5 signatures (tcp/md5.py, RFC 2385): keys set with TCP_MD5SIG sign every
segment (the digest checked here against RFC 2385 2.0 computed independently); a
missing, unexpected or wrong signature is dropped with Linux's drop reason and
counter; setsockopt's errors."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import struct

import pytest
from _tcpwire import MS, SEC, A, B, Seg, Wire, listener

from tuxnet.tcp import proto
from tuxnet.tcp.md5 import TCP_MD5SIG, TCP_MD5SIG_EXT, tcp_v4_parse_md5_keys
from tuxnet.tcp.mss import tcp_current_mss
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sock import TcpSock
from tuxnet.wire.tcp import TcpView

KEY = b"tuxnet-md5-secret"


def md5sig(addr: int, key: bytes, *, family: int = 2, keylen: int | None = None,
           flags: int = 0, prefixlen: int = 0) -> bytes:
    """struct tcp_md5sig."""
    sa = struct.pack("=HH4s", family, 0, addr.to_bytes(4, "big")).ljust(128, b"\0")
    return struct.pack("=128sBBHi80s", sa, flags, prefixlen,
                       len(key) if keylen is None else keylen, 0, key)


def _digest(seg: Seg, key: bytes) -> bytes:
    """RFC 2385 2.0: pseudo-header, header without options (checksum 0), data, key."""
    d = seg.data
    hl = (d[12] >> 4) * 4
    pseudo = struct.pack("!IIBBH", seg.saddr, seg.daddr, 0, 6, len(d))
    return hashlib.md5(pseudo + d[:16] + b"\0\0" + d[18:20] + d[hl:] + key).digest()


def _sig(seg: Seg) -> bytes | None:
    opts = seg.options
    i = opts.find(bytes((19, 18)))
    return None if i < 0 else opts[i + 2:i + 18]


def _connect(w: Wire, client_key: bytes | None, server_key: bytes | None) -> TcpSock:
    lst = listener(w.b)
    if server_key is not None:
        tcp_v4_parse_md5_keys(lst, TCP_MD5SIG, md5sig(A, server_key))
    c = proto.tcp_v4_init_sock(w.a)
    if client_key is not None:
        tcp_v4_parse_md5_keys(c, TCP_MD5SIG, md5sig(B, client_key))
    with contextlib.suppress(BlockingIOError):
        proto.inet_stream_connect(c, B, 8080, 0)
    return c


def test_signed_connection_carries_valid_digests() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, KEY, KEY)
    w.run(20 * MS)
    assert c.sk_state == 1
    proto.tcp_sendmsg(c, bytes(range(256)) * 20, 0x40, 0)
    w.run(100 * MS)
    assert len(w.log) > 5
    for seg in w.log:
        assert _sig(seg) == _digest(seg, KEY)
    syn = w.log[0]
    assert bytes((8, 10)) not in syn.options[20:]  # no timestamps beside MD5 on a SYN
    mib = w.b.mib.tcpext
    assert mib.TCPMD5Failure == mib.TCPMD5NotFound == mib.TCPMD5Unexpected == 0
    # the option's 20 bytes come out of each segment (tcp_current_mss)
    assert tcp_current_mss(c) == 1440 == max(x.payload_len for x in w.sent("a"))


def test_wrong_key_is_a_failure_and_the_syn_is_dropped() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, b"another key", KEY)
    w.run(2 * SEC)
    assert c.sk_state == 2  # still SYN_SENT: every SYN dropped, no SYN-ACK
    assert w.b.mib.tcpext.TCPMD5Failure >= 2
    assert not w.sent("b")


def test_unsigned_syn_to_a_keyed_listener_is_not_found() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, None, KEY)
    w.run(2 * SEC)
    assert c.sk_state == 2 and w.b.mib.tcpext.TCPMD5NotFound >= 2


def test_signature_without_a_key_is_unexpected() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, KEY, None)
    w.run(2 * SEC)
    assert c.sk_state == 2 and w.b.mib.tcpext.TCPMD5Unexpected >= 2


def test_established_segment_with_bad_digest_is_dropped() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, KEY, KEY)
    w.run(20 * MS)
    bad: list[int] = []

    def corrupt(seg: Seg) -> bool:  # a forged copy: the digest no longer matches
        if seg.src == "a" and seg.payload_len and not bad:
            bad.append(1)
            data = bytearray(seg.data)
            data[-1] ^= 0xFF
            TcpView(data).fill_checksum(A, B)  # a valid checksum, a wrong digest
            w.inject(w.b, bytes(data))
        return False

    w.drop = corrupt
    proto.tcp_sendmsg(c, b"x" * 100, 0x40, 0)
    w.run(100 * MS)
    assert w.b.mib.tcpext.TCPMD5Failure == 1
    assert c.snd_una == c.write_seq  # the genuine segment went through


def test_setsockopt_errors() -> None:
    w = Wire()
    sk = proto.tcp_v4_init_sock(w.a)
    for optval, err in ((md5sig(B, KEY)[:100], errno.EINVAL),
                        (md5sig(B, KEY, family=10), errno.EINVAL),
                        (md5sig(B, b"k" * 80, keylen=81), errno.EINVAL),
                        (md5sig(B, b"", keylen=0), errno.ENOENT)):
        with pytest.raises(OSError) as e:
            tcp_v4_parse_md5_keys(sk, TCP_MD5SIG, optval)
        assert e.value.errno == err
    tcp_v4_parse_md5_keys(sk, TCP_MD5SIG_EXT, md5sig(B & 0xFFFFFF00, b"net", flags=1,
                                                     prefixlen=24))
    tcp_v4_parse_md5_keys(sk, TCP_MD5SIG, md5sig(B, b"host"))
    sk.inet_daddr = B
    key = sk.tcp_md5_key()
    assert key is not None and key.key == b"host"  # the longest prefix wins
    tcp_v4_parse_md5_keys(sk, TCP_MD5SIG, md5sig(B, b"", keylen=0))
    key = sk.tcp_md5_key()
    assert key is not None and key.key == b"net"


def test_reset_of_a_keyed_connection_is_signed() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, KEY, KEY)
    w.run(20 * MS)
    c.sock_flags.add("SOCK_LINGER")
    c.sk_lingertime = 0
    proto.tcp_close(c)  # SO_LINGER 0: abort with a RST
    w.run(20 * MS)
    rst = [x for x in w.sent("a") if x.flags & 0x04]
    assert rst and _sig(rst[-1]) == _digest(rst[-1], KEY)


def test_time_wait_acks_stay_signed() -> None:
    w = Wire(delay_ns=1 * MS)
    c = _connect(w, KEY, KEY)
    w.run(20 * MS)
    srv = next(sk for sk in tcp_net(w.b).all_socks if sk.sk_state == 1)
    proto.tcp_close(c)  # the client ends in TIME_WAIT
    w.run(5 * MS)
    proto.tcp_close(srv)
    w.run(20 * MS)
    n = len(w.sent("a"))
    last_fin = next(x for x in reversed(w.sent("b")) if x.flags & 0x01)
    w.inject(w.a, last_fin.data)  # a retransmitted FIN: TIME_WAIT answers with an ACK
    w.run(5 * MS)
    acks = w.sent("a")[n:]
    assert acks and all(_sig(x) == _digest(x, KEY) for x in acks)
