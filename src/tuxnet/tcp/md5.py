"""TCP MD5 signatures, RFC 2385 (net/ipv4/tcp.c: tcp_inbound_md5_hash,
tcp_md5_hash_key; net/ipv4/tcp_ipv4.c: tcp_v4_parse_md5_keys, tcp_md5_do_lookup,
tcp_md5_do_add/del, tcp_v4_md5_hash_skb; include/net/tcp.h: tcp_inbound_hash).

setsockopt(TCP_MD5SIG / TCP_MD5SIG_EXT) takes a ``struct tcp_md5sig``: the peer
address (a sockaddr_in in 128 bytes), flags (TCP_MD5SIG_FLAG_PREFIX: an address prefix,
TCP_MD5SIG_FLAG_IFINDEX: one L3 domain), the prefix length, the key length (0 deletes
the key) and up to 80 key bytes. A segment to a peer with a key carries option 19
(``nop,nop,md5``, 18 bytes: kind, length, 16-byte digest) whose digest is MD5 over the
IPv4 pseudo-header, the 20-byte TCP header with a zero checksum (no options), the
payload and the key (RFC 2385 2.0). A SYN with MD5 offers no timestamps (they would not
fit with the MSS, window scale and SACK-permitted).

Input (tcp_inbound_hash, before any TCP processing, listeners and request sockets
too): a segment without the option from a peer that has a key is dropped
(TCP_MD5NOTFOUND, TcpExtTCPMD5NotFound); with the option but no key:
TCP_MD5UNEXPECTED (TCPMD5Unexpected); a wrong digest: TCP_MD5FAILURE (TCPMD5Failure);
two signature options: TCP_AUTH_HDR. TCP-AO (RFC 5925) is not implemented.
"""

from __future__ import annotations

import errno
import hashlib
import struct
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.socket.core import sock_errno
from tuxnet.tcp.defs import TCPOLEN_MD5SIG_ALIGNED

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCPOLEN_MD5SIG", "TCPOLEN_MD5SIG_ALIGNED", "TCPOPT_MD5SIG", "TcpMd5Key",
           "tcp_inbound_hash", "tcp_md5_do_lookup", "tcp_md5_option", "tcp_md5_sign",
           "tcp_parse_md5sig_option", "tcp_v4_md5_hash", "tcp_v4_parse_md5_keys"]

TCPOPT_MD5SIG = 19
TCPOLEN_MD5SIG = 18
TCP_MD5SIG = 14
TCP_MD5SIG_EXT = 32
TCP_MD5SIG_MAXKEYLEN = 80
TCP_MD5SIG_FLAG_PREFIX = 0x1
TCP_MD5SIG_FLAG_IFINDEX = 0x2
AF_INET = 2
IPPROTO_TCP = 6
# struct tcp_md5sig: sockaddr_storage (128), u8 flags, u8 prefixlen, u16 keylen,
# int ifindex, u8 key[80]
_TCP_MD5SIG = struct.Struct("=128sBBHi80s")
_PSEUDO = struct.Struct("!IIBBH")
_MD5_WORD = bytes((1, 1, TCPOPT_MD5SIG, TCPOLEN_MD5SIG))
_M32 = 0xFFFFFFFF


class TcpMd5Key:
    """struct tcp_md5sig_key: a key for one peer address prefix (and L3 domain)."""

    __slots__ = ("addr", "flags", "key", "l3index", "prefixlen")

    def __init__(self, addr: int, prefixlen: int, l3index: int, flags: int,
                 key: bytes) -> None:
        self.addr = addr
        self.prefixlen = prefixlen
        self.l3index = l3index
        self.flags = flags
        self.key = key

    def matches(self, addr: int) -> bool:
        """The peer address falls in the key's prefix."""
        plen = self.prefixlen
        if not plen:
            return True
        mask = (_M32 << (32 - plen)) & _M32
        return (addr & mask) == (self.addr & mask)


def tcp_md5_do_lookup(sk: TcpSock, l3index: int, addr: int) -> TcpMd5Key | None:
    """tcp_md5_do_lookup(): the longest-prefix key for ``addr``; a key bound to an L3
    domain (TCP_MD5SIG_FLAG_IFINDEX) matches only there."""
    keys = sk.md5sig_info
    if not keys:
        return None
    best: TcpMd5Key | None = None
    for k in keys:
        if k.flags & TCP_MD5SIG_FLAG_IFINDEX and k.l3index != l3index:
            continue
        if k.matches(addr) and (best is None or k.prefixlen > best.prefixlen):
            best = k
    return best


def _find_exact(sk: TcpSock, addr: int, prefixlen: int, l3index: int,
                flags: int) -> TcpMd5Key | None:
    """tcp_md5_do_lookup_exact()."""
    for k in sk.md5sig_info or ():
        if k.addr == addr and k.prefixlen == prefixlen and k.l3index == l3index and \
                (k.flags & TCP_MD5SIG_FLAG_IFINDEX) == (flags & TCP_MD5SIG_FLAG_IFINDEX):
            return k
    return None


def tcp_v4_parse_md5_keys(sk: TcpSock, optname: int, optval: bytes) -> None:
    """tcp_v4_parse_md5_keys(): add, replace (same address/prefix/L3 domain) or delete
    (keylen 0) a key; EINVAL for a short struct, a non-IPv4 address, a too long key or
    a bad prefix, ENOENT to delete a key that is not there, ENODEV for a bad ifindex."""
    if len(optval) < _TCP_MD5SIG.size:
        raise sock_errno(errno.EINVAL)
    addr_raw, flags, prefixlen, keylen, ifindex, key = _TCP_MD5SIG.unpack_from(optval)
    family = struct.unpack_from("=H", addr_raw)[0]
    if family != AF_INET:
        raise sock_errno(errno.EINVAL)
    addr = struct.unpack_from("!I", addr_raw, 4)[0]
    if optname == TCP_MD5SIG_EXT and flags & TCP_MD5SIG_FLAG_PREFIX:
        if prefixlen > 32:
            raise sock_errno(errno.EINVAL)
    else:
        prefixlen = 32
    l3index = 0
    if optname == TCP_MD5SIG_EXT and flags & TCP_MD5SIG_FLAG_IFINDEX and ifindex:
        if not any(getattr(d, "ifindex", 0) == ifindex for d in sk.host.devices.values()):
            raise sock_errno(errno.ENODEV)
        l3index = ifindex
    if optname != TCP_MD5SIG_EXT:
        flags = 0
    if not keylen:
        old = _find_exact(sk, addr, prefixlen, l3index, flags)
        if old is None:
            raise sock_errno(errno.ENOENT)
        assert sk.md5sig_info is not None
        sk.md5sig_info.remove(old)
        return
    if keylen > TCP_MD5SIG_MAXKEYLEN:
        raise sock_errno(errno.EINVAL)
    old = _find_exact(sk, addr, prefixlen, l3index, flags)
    if old is not None:
        old.key = bytes(key[:keylen])
        return
    if sk.md5sig_info is None:
        sk.md5sig_info = []
    sk.md5sig_info.append(TcpMd5Key(addr, prefixlen, l3index, flags, bytes(key[:keylen])))


def tcp_v4_md5_hash(key: TcpMd5Key, saddr: int, daddr: int, segment: bytes | bytearray |
                    memoryview) -> bytes:
    """tcp_v4_md5_hash_skb() (RFC 2385 2.0): MD5 over the pseudo-header, the fixed TCP
    header with a zero checksum, the payload, then the key."""
    seg = bytes(segment)
    hl = (seg[12] >> 4) << 2
    h = hashlib.md5(_PSEUDO.pack(saddr, daddr, 0, IPPROTO_TCP, len(seg)))
    h.update(seg[:16])
    h.update(b"\0\0")  # check
    h.update(seg[18:20])
    h.update(seg[hl:])
    h.update(key.key)
    return h.digest()


def tcp_md5_option() -> bytes:
    """The option space of a signed segment: ``nop,nop,md5`` with the digest to fill."""
    return _MD5_WORD + bytes(16)


def tcp_md5_sign(th: bytearray | memoryview, opt_off: int, key: TcpMd5Key, saddr: int,
                 daddr: int, payload: bytes | bytearray | memoryview) -> None:
    """tcp_v4_md5_hash_skb() into the option reserved at ``th[opt_off:]`` (header
    filled, checksum not yet computed)."""
    hl = (th[12] >> 4) << 2
    h = hashlib.md5(_PSEUDO.pack(saddr, daddr, 0, IPPROTO_TCP, hl + len(payload)))
    h.update(bytes(th[:16]))
    h.update(b"\0\0")
    h.update(bytes(th[18:20]))
    h.update(bytes(payload))
    h.update(key.key)
    th[opt_off + 4:opt_off + 20] = h.digest()


def tcp_parse_md5sig_option(seg: bytes | bytearray | memoryview) -> tuple[int, int]:
    """tcp_parse_auth_options(): (offset of the digest or -1, number of MD5 options)."""
    hl = (seg[12] >> 4) << 2
    i = 20
    where = -1
    count = 0
    while i < hl:
        kind = seg[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= hl:
            break
        size = seg[i + 1]
        if size < 2 or i + size > hl:
            break
        if kind == TCPOPT_MD5SIG and size == TCPOLEN_MD5SIG:
            where = i + 2
            count += 1
        i += size
    return where, count


def tcp_inbound_hash(sk: TcpSock, seg: bytes | bytearray | memoryview, saddr: int,
                     daddr: int, l3index: int) -> R | None:
    """tcp_inbound_hash() -> tcp_inbound_md5_hash(): the drop reason for a segment
    (``seg``: TCP header and payload) whose signature ``sk`` (the listener for a
    request socket) does not accept, else None."""
    where, count = tcp_parse_md5sig_option(seg)
    if count > 1:
        return R.TCP_AUTH_HDR
    key = tcp_md5_do_lookup(sk, l3index, saddr) if sk.md5sig_info else None
    tcpext = sk.host.mib.tcpext
    if where < 0:
        if key is not None:
            tcpext.TCPMD5NotFound += 1
            return R.TCP_MD5NOTFOUND
        return None
    if key is None:
        tcpext.TCPMD5Unexpected += 1
        return R.TCP_MD5UNEXPECTED
    if bytes(seg[where:where + 16]) != tcp_v4_md5_hash(key, saddr, daddr, seg):
        tcpext.TCPMD5Failure += 1
        return R.TCP_MD5FAILURE
    return None
