"""ARP, RFC 826, over the generic neighbour table (net/ipv4/arp.c).

One :class:`Arp` per host, made by :func:`arp_tbl` and kept as ``host.arp_tbl``; its
``tbl`` is the ``arp_cache`` :class:`~tuxnet.ipv4.neighbour.NeighTable`.

How the rest of the stack talks to it:

* IPv4 output (the neighbour half of ip_finish_output2):
  ``host.arp_tbl.ip_neigh_output(skb, dev, nexthop, confirm=False) -> int``; the skb's
  data starts at the IPv4 header (network header set), ``skb.protocol`` is ETH_P_IP. It
  resolves (queueing while INCOMPLETE), pushes the Ethernet header and calls ``xmit``.
* TCP's forward-progress hint: ``ipv4_confirm_neigh(dev, nexthop)`` (neigh_confirm).
* Receive: ``arp_rcv(skb, dev) -> NET_RX_*`` with skb.data at the ARP header (after
  eth_type_trans, ``pkt_type`` set).
* devinet/link events: ``arp_netdev_event(dev, event, addrs=...)`` (UP, CHANGEADDR,
  NOTIFY_PEERS send gratuitous ARP as devinet.c does; CHANGE with carrier loss, DOWN
  flush); ``arp_send_gratuitous(dev, addr)`` on its own.

Hooks (set by :func:`arp_init` or as attributes; defaults in brackets):
``xmit(skb) -> int`` dev_queue_xmit [drop, DEV_READY]; ``is_local(addr, dev) -> bool``
[False]; ``select_src(dev, dst) -> int`` inet_select_addr(dev, dst, RT_SCOPE_LINK) [0];
``confirm_addr(dev|None, dst, local, scope) -> bool`` inet_confirm_addr [False];
``on_unreachable(skb)`` dst_link_failure, i.e. ICMP host unreachable, must not free the
skb [nothing]; optional ``addr_type(addr, dev) -> RTN_*`` inet_addr_type_dev_table
[derived from is_local], ``route_input(tip, sip, dev) -> (RTN_*, out_dev) | None``
ip_route_input_noref [local or no route], ``route_output_dev(dst, src) -> dev | None``
for arp_filter [no filtering].
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.neigh_defs import (
    NEIGH_UPDATE_F_OVERRIDE,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_REACHABLE,
    NUD_STALE,
    NUD_VALID,
    NeighError,
    NetDev,
)
from tuxnet.ipv4.neighbour import Neighbour, NeighTable
from tuxnet.skb import PACKET_HOST, PACKET_OTHERHOST, SkBuff, alloc_skb
from tuxnet.sysctl import SysctlError
from tuxnet.wire.addr import ip_str
from tuxnet.wire.arp import ARP_HLEN, ARPHRD_ETHER, ARPOP_REPLY, ARPOP_REQUEST, ArpRepr
from tuxnet.wire.ethernet import ETH_P_ARP, ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["Arp", "arp_init", "arp_seq_show", "arp_tbl", "neigh_stat_seq_show"]

# include/uapi/linux/if.h, if_arp.h, if_packet.h, rtnetlink.h, net/arp.h
IFF_LOOPBACK = 0x8
IFF_POINTOPOINT = 0x10
IFF_NOARP = 0x80
ARPHRD_IEEE802 = 6
PACKET_LOOPBACK = 5
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_MULTICAST = 5
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
ATF_COM = 0x02
ATF_PERM = 0x04
NET_RX_SUCCESS = 0
NET_RX_DROP = 1
_LL_RESERVED_SPACE = 16  # LL_RESERVED_SPACE(dev): ETH_HLEN rounded up to HH_DATA_MOD
_ETH = struct.Struct("!6s6sH")
_ARP_FIXED = struct.Struct("!HHBBH")


def _is_multicast(a: int) -> bool:
    return a & 0xF0000000 == 0xE0000000  # ipv4_is_multicast


def _is_loopback(a: int) -> bool:
    return a >> 24 == 127  # ipv4_is_loopback


class Arp:
    """arp_tbl plus net/ipv4/arp.c: the ARP half of the neighbour layer of one host."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._xmit: Callable[[SkBuff], int] = self._no_xmit
        self.is_local: Callable[[int, Any], bool] = lambda addr, dev: False
        self.select_src: Callable[[Any, int], int] = lambda dev, dst: 0
        self.confirm_addr: Callable[[Any, int, int, int], bool] = lambda d, a, b, s: False
        self.on_unreachable: Callable[[SkBuff], None] = lambda skb: None
        self.addr_type: Callable[[int, Any], int] | None = None
        self.route_input: Callable[[int, int, Any], tuple[int, Any] | None] | None = None
        self.route_output_dev: Callable[[int, int], Any] | None = None
        self.app_probes = 0  # neigh_app_ns requests (arpd is not modelled)
        self._proxy_qlen = 0  # in_dev->arp_parms->qlen
        self.tbl = NeighTable(host, self, self._xmit, id="arp_cache", protocol=ETH_P_IP)

    @property
    def xmit(self) -> Callable[[SkBuff], int]:
        """The ``xmit`` hook (dev_queue_xmit); setting it sets the table's too."""
        return self._xmit

    @xmit.setter
    def xmit(self, fn: Callable[[SkBuff], int]) -> None:
        self._xmit = fn
        self.tbl.xmit = fn  # neigh output calls it directly, no wrapper frame

    def _no_xmit(self, skb: SkBuff) -> int:
        self.host.kfree_skb(skb, SkbDropReason.DEV_READY, "dev_queue_xmit")
        return 1  # NET_XMIT_DROP

    def _conf(self, dev: NetDev, key: str) -> int:
        """IN_DEV_CONF_GET with conf.all combined (conf.default for unknown devices)."""
        try:
            return self.host.sysctl.in_dev_conf(dev.name, key)
        except SysctlError:
            return self.host.sysctl.get_int(f"net.ipv4.conf.default.{key}")

    def inet_addr_type(self, addr: int, dev: NetDev | None) -> int:
        """inet_addr_type_dev_table: BROADCAST, MULTICAST, LOCAL or UNICAST."""
        if self.addr_type is not None:
            return self.addr_type(addr, dev)
        if addr == 0 or addr == 0xFFFFFFFF:
            return RTN_BROADCAST
        if _is_multicast(addr):
            return RTN_MULTICAST
        return RTN_LOCAL if self.is_local(addr, dev) else RTN_UNICAST

    # -- neigh_ops -------------------------------------------------------------------
    def constructor(self, n: Neighbour) -> int:
        """arp_constructor: loopback/point-to-point key 0.0.0.0; multicast, NOARP,
        loopback and broadcast entries are NOARP with a computed address."""
        dev = n.dev
        if dev.flags & (IFF_LOOPBACK | IFF_POINTOPOINT):
            n.primary_key = 0
        addr = n.primary_key
        n.type = self.inet_addr_type(addr, dev)
        tbl = self.tbl
        if not dev.dev_addr:  # no header_ops: arp_direct_ops
            n.nud_state = NUD_NOARP
            n.output = tbl.neigh_direct_output
            return 0
        if n.type == RTN_MULTICAST:
            n.nud_state = NUD_NOARP
            n.ha = b"\x01\x00\x5e" + (addr & 0x7FFFFF).to_bytes(3, "big")  # ip_eth_mc_map
        elif dev.flags & (IFF_NOARP | IFF_LOOPBACK):
            n.nud_state = NUD_NOARP
            n.ha = bytes(dev.dev_addr)
        elif n.type == RTN_BROADCAST or dev.flags & IFF_POINTOPOINT:
            n.nud_state = NUD_NOARP
            n.ha = bytes(dev.broadcast)
        n.output = tbl.neigh_resolve_output  # arp_hh_ops: output == connected_output
        return 0

    def is_multicast(self, key: int) -> bool:
        """arp_is_multicast."""
        return _is_multicast(key)

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        """arp_error_report: dst_link_failure (ICMP host unreachable), then drop."""
        self.on_unreachable(skb)
        self.host.kfree_skb(skb, SkbDropReason.NEIGH_FAILED, "arp_error_report")

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        """arp_solicit: broadcast request while INCOMPLETE, unicast to the cached
        address in PROBE; the source address follows arp_announce."""
        dev = n.dev
        target = n.primary_key
        saddr = 0
        announce = self._conf(dev, "arp_announce")
        if announce == 1:  # restrict announcements of saddr in same subnet
            if skb is not None:
                saddr = _ip_saddr(skb)
                if not (self.inet_addr_type(saddr, dev) == RTN_LOCAL and
                        self.confirm_addr(dev, target, saddr, RT_SCOPE_HOST)):
                    saddr = 0
        elif announce != 2 and skb is not None:  # 0: announce any local address
            s = _ip_saddr(skb)
            if self.inet_addr_type(s, dev) == RTN_LOCAL:
                saddr = s
        if not saddr:
            saddr = self.select_src(dev, target)
        p = n.parms
        probes = n.probes - p.var("ucast_solicit")
        dst_hw: bytes | None = None
        if probes < 0:
            dst_hw = n.ha
        elif probes - p.var("app_solicit") < 0:
            self.app_probes += 1  # neigh_app_ns: a request for arpd, no frame
            return
        self.arp_send(ARPOP_REQUEST, ETH_P_ARP, target, dev, saddr, dst_hw, dev.dev_addr,
                      None)

    # -- sending ---------------------------------------------------------------------
    def arp_create(self, op: int, ptype: int, dest_ip: int, dev: NetDev, src_ip: int,
                   dest_hw: bytes | None, src_hw: bytes | None,
                   target_hw: bytes | None) -> SkBuff:
        """arp_create: an skb with Ethernet + ARP headers; a missing dest_hw means
        broadcast, a missing target_hw zeros."""
        skb = alloc_skb(ARP_HLEN + _LL_RESERVED_SPACE)
        skb.reserve(_LL_RESERVED_SPACE)
        skb.reset_network_header()
        arp = skb.put(ARP_HLEN)
        skb.dev = dev
        skb.protocol = ETH_P_ARP
        src_hw = bytes(src_hw) if src_hw is not None else bytes(dev.dev_addr)
        dest_hw = bytes(dest_hw) if dest_hw is not None else bytes(dev.broadcast)
        _ETH.pack_into(skb.push(14), 0, dest_hw, src_hw, ptype)
        tha = bytes(target_hw) if target_hw is not None else bytes(len(dev.dev_addr))
        ArpRepr(op, src_hw, src_ip, tha, dest_ip, getattr(dev, "type", ARPHRD_ETHER)).emit(arp)
        return skb

    def arp_send(self, op: int, ptype: int, dest_ip: int, dev: NetDev, src_ip: int,
                 dest_hw: bytes | None, src_hw: bytes | None,
                 target_hw: bytes | None) -> None:
        """arp_send_dst: build and transmit, unless the device is IFF_NOARP."""
        if dev.flags & IFF_NOARP:
            return
        self.arp_xmit(self.arp_create(op, ptype, dest_ip, dev, src_ip, dest_hw, src_hw,
                                      target_hw))

    def arp_xmit(self, skb: SkBuff) -> None:
        """arp_xmit: NF_ARP_OUT (not modelled), then dev_queue_xmit."""
        self.xmit(skb)

    def arp_send_gratuitous(self, dev: NetDev, addr: int) -> None:
        """Gratuitous ARP (RFC 5227 2.4 announcement) as inetdev_send_gratuitous_arp
        sends it: a broadcast request with sender = target = ``addr``, tha zero."""
        self.arp_send(ARPOP_REQUEST, ETH_P_ARP, addr, dev, addr, None, dev.dev_addr, None)

    def inetdev_send_gratuitous_arp(self, dev: NetDev, addrs: list[int] | tuple[int, ...]
                                    ) -> None:
        """inetdev_send_gratuitous_arp: one announcement per address of the device."""
        for a in addrs:
            self.arp_send_gratuitous(dev, a)

    # -- device events ---------------------------------------------------------------
    def arp_netdev_event(self, dev: NetDev, event: str, *,
                         addrs: list[int] | tuple[int, ...] = (),
                         carrier_ok: bool = True, noarp_changed: bool = False) -> None:
        """arp_netdev_event + the ARP side of inetdev_event: ``UP`` and ``CHANGEADDR``
        announce the addresses when arp_notify is set, ``NOTIFY_PEERS`` always;
        ``CHANGEADDR`` flushes the entries; ``CHANGE`` with the carrier lost flushes
        all but PERMANENT (arp_evict_nocarrier); ``DOWN`` flushes (arp_ifdown)."""
        if event == "CHANGEADDR":
            self.tbl.neigh_changeaddr(dev)
        elif event == "CHANGE":
            if noarp_changed:
                self.tbl.neigh_changeaddr(dev)
            if not carrier_ok and self._conf(dev, "arp_evict_nocarrier"):
                self.tbl.neigh_carrier_down(dev)
        elif event == "DOWN":
            self.arp_ifdown(dev)
        if (event == "NOTIFY_PEERS" or
                (event in ("UP", "CHANGEADDR") and self._conf(dev, "arp_notify"))):
            self.inetdev_send_gratuitous_arp(dev, addrs)

    def arp_ifdown(self, dev: NetDev) -> None:
        """arp_ifdown: neigh_ifdown(&arp_tbl, dev)."""
        self.tbl.neigh_ifdown(dev)

    # -- IPv4 output -----------------------------------------------------------------
    def ipv4_neigh_lookup_noref(self, dev: NetDev, key: int) -> Neighbour | None:
        """__ipv4_neigh_lookup_noref: loopback and point-to-point use key 0.0.0.0."""
        if dev.flags & (IFF_LOOPBACK | IFF_POINTOPOINT):
            key = 0
        return self.tbl.lookup_noref(key, dev)

    def ip_neigh_output(self, skb: SkBuff, dev: NetDev, nexthop: int,
                        confirm: bool = False) -> int:
        """The neighbour half of ip_finish_output2: find or create the entry for the
        next hop, sock_confirm_neigh when ``confirm``, then neigh_output. A full table
        drops the packet with NEIGH_CREATEFAIL and returns -EINVAL."""
        tbl = self.tbl
        # __ipv4_neigh_lookup_noref, inline: loopback and point-to-point use key 0.0.0.0
        n = tbl.lookup_noref(0 if dev.flags & (IFF_LOOPBACK | IFF_POINTOPOINT) else nexthop,
                             dev)
        if n is None:
            try:
                n = tbl.neigh_create(nexthop, dev, want_ref=False)
            except NeighError:  # the table is full (gc_thresh3)
                self.host.kfree_skb(skb, SkbDropReason.NEIGH_CREATEFAIL, "ip_finish_output2")
                return -errno.EINVAL
        if confirm:
            tbl.neigh_confirm(n)
        return tbl.neigh_output(n, skb)

    def ipv4_confirm_neigh(self, dev: NetDev, nexthop: int) -> None:
        """__ipv4_confirm_neigh: neigh_confirm on the next hop's entry, if any."""
        self.tbl.neigh_confirm(self.ipv4_neigh_lookup_noref(dev, nexthop))

    # -- receiving -------------------------------------------------------------------
    def arp_rcv(self, skb: SkBuff, dev: NetDev) -> int:
        """arp_rcv: ignore what is not for us, check lengths, then arp_process."""
        if skb.dev is None:
            skb.dev = dev
        if dev.flags & IFF_NOARP or skb.pkt_type in (PACKET_OTHERHOST, PACKET_LOOPBACK):
            self.host.consume_skb(skb, "arp_rcv")
            return NET_RX_SUCCESS
        alen = len(dev.dev_addr)
        if not skb.pskb_may_pull(8 + 2 * (alen + 4)):  # arp_hdr_len
            self.host.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL, "arp_rcv")
            return NET_RX_DROP
        data = skb.data
        if data[4] != alen or data[5] != 4:
            self.host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "arp_rcv")
            return NET_RX_DROP
        return self.arp_process(skb, dev)

    def arp_ignore(self, dev: NetDev, sip: int, tip: int) -> bool:
        """arp_ignore: 1 = only for addresses on the incoming device, 2 = and sip in
        their subnet, 3 = not for scope host addresses, 8 = never."""
        mode = self._conf(dev, "arp_ignore")
        in_dev: NetDev | None = dev
        if mode == 1:
            sip, scope = 0, RT_SCOPE_HOST
        elif mode == 2:
            scope = RT_SCOPE_HOST
        elif mode == 3:
            sip, scope, in_dev = 0, RT_SCOPE_LINK, None
        else:
            return mode == 8  # 8: never reply; 0 and 4-7: reply
        return not self.confirm_addr(in_dev, sip, tip, scope)

    def arp_filter(self, sip: int, tip: int, dev: NetDev) -> bool:
        """arp_filter: answer only if the route back to sip leaves through ``dev``."""
        if self.route_output_dev is None:
            return False
        out = self.route_output_dev(sip, tip)
        if out is None:
            return True
        if out is not dev:
            self.host.mib.tcpext.ArpFilter += 1  # LINUX_MIB_ARPFILTER
            return True
        return False

    def arp_accept(self, dev: NetDev, sip: int) -> bool:
        """arp_accept: 1 = learn from gratuitous ARP, 2 = only for sip in a subnet of
        the incoming device."""
        mode = self._conf(dev, "arp_accept")
        if mode == 1:
            return True
        if mode == 2:
            return self.confirm_addr(dev, sip, 0, RT_SCOPE_LINK)
        return False

    def _route_input_type(self, tip: int, sip: int, dev: NetDev) -> tuple[int, Any] | None:
        """ip_route_input_noref, as far as ARP needs it: martians fail, local
        addresses are RTN_LOCAL; other routes only through the ``route_input`` hook."""
        if self.route_input is not None:
            return self.route_input(tip, sip, dev)
        if (_is_multicast(sip) or sip == 0xFFFFFFFF or
                (_is_loopback(sip) and not self._conf(dev, "route_localnet"))):
            return None  # martian source
        if tip == 0xFFFFFFFF or tip >> 24 == 0:
            return None
        if self.is_local(tip, dev):
            return (RTN_LOCAL, None)
        return None

    def _arp_is_garp(self, dev: NetDev, op: int, sip: int, tip: int, sha: bytes,
                     tha: bytes) -> tuple[bool, int]:
        """arp_is_garp: sip == tip (and tha == sha for a reply) for a unicast sip."""
        is_garp = sip == tip
        if is_garp and op == ARPOP_REPLY:
            is_garp = tha == sha
        addr_type = -1
        if is_garp:
            addr_type = self.inet_addr_type(sip, dev)
            is_garp = addr_type == RTN_UNICAST
        return is_garp, addr_type

    def arp_process(self, skb: SkBuff, dev: NetDev, locally_enqueued: bool = False) -> int:
        """arp_process: answer requests for our addresses (and proxies), learn the
        sender when the request is for us or an entry exists, and take replies."""
        host = self.host
        tbl = self.tbl
        data = bytes(skb.data[:ARP_HLEN])
        hrd, pro, _hln, _pln, op = _ARP_FIXED.unpack_from(data)
        if (hrd not in (ARPHRD_ETHER, ARPHRD_IEEE802) or pro != ETH_P_IP or
                op not in (ARPOP_REQUEST, ARPOP_REPLY)):
            host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "arp_process")
            return NET_RX_DROP
        sha = data[8:14]
        sip = int.from_bytes(data[14:18], "big")
        tha = data[18:24]
        tip = int.from_bytes(data[24:28], "big")
        if _is_multicast(tip) or (_is_loopback(tip) and not self._conf(dev, "route_localnet")):
            host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "arp_process")
            return NET_RX_DROP
        if sip == tip and self._conf(dev, "drop_gratuitous_arp"):
            host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "arp_process")
            return NET_RX_DROP
        if sip == 0:  # RFC 2131 / RFC 5227 address probe: answer, learn nothing
            if (op == ARPOP_REQUEST and self.inet_addr_type(tip, dev) == RTN_LOCAL and
                    not self.arp_ignore(dev, sip, tip)):
                self.arp_send(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha, dev.dev_addr, sha)
            host.consume_skb(skb, "arp_process")
            return NET_RX_SUCCESS
        if op == ARPOP_REQUEST:
            rt = self._route_input_type(tip, sip, dev)
            if rt is not None:
                rt_type, out_dev = rt
                if rt_type == RTN_LOCAL:
                    dont_send = self.arp_ignore(dev, sip, tip)
                    if not dont_send and self._conf(dev, "arp_filter"):
                        dont_send = self.arp_filter(sip, tip, dev)
                    if not dont_send:
                        n = tbl.neigh_event_ns(sha, sip, dev)
                        if n is not None:
                            self.arp_send(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha,
                                          dev.dev_addr, sha)
                            tbl.neigh_release(n)
                    host.consume_skb(skb, "arp_process")
                    return NET_RX_SUCCESS
                if (self._conf(dev, "forwarding") and rt_type == RTN_UNICAST and
                        self._proxy_ok(dev, out_dev, sip, tip)):
                    return self._proxy_reply(skb, dev, sip, tip, sha, locally_enqueued)
        n = tbl.neigh_lookup_create(sip, dev, False)
        is_garp, addr_type = False, -1
        accept = self.arp_accept(dev, sip)
        if n is not None or accept:
            is_garp, addr_type = self._arp_is_garp(dev, op, sip, tip, sha, tha)
        if accept and n is None and (
                is_garp or (op == ARPOP_REPLY and (
                    addr_type == RTN_UNICAST or
                    (addr_type < 0 and self.inet_addr_type(sip, dev) == RTN_UNICAST)))):
            n = tbl.neigh_lookup_create(sip, dev, True)
        if n is not None:
            # several replies back to back: keep the first (locktime), unless gratuitous
            override = host.loop.now_ns() > n.updated + n.parms.locktime or is_garp
            # broadcast replies and requests do not prove reachability
            state = NUD_REACHABLE
            if op != ARPOP_REPLY or skb.pkt_type != PACKET_HOST:
                state = NUD_STALE
            tbl.neigh_update(n, sha, state, NEIGH_UPDATE_F_OVERRIDE if override else 0)
            tbl.neigh_release(n)
        host.consume_skb(skb, "arp_process")
        return NET_RX_SUCCESS

    # -- proxy ARP -------------------------------------------------------------------
    def _proxy_ok(self, dev: NetDev, out_dev: Any, sip: int, tip: int) -> bool:
        """arp_fwd_proxy || arp_fwd_pvlan || pneigh entry for another device."""
        if out_dev is not dev:
            if self._conf(dev, "proxy_arp"):
                imi = self._conf(dev, "medium_id")
                if imi == 0:
                    return True
                if imi != -1 and out_dev is not None:
                    omi = self._conf(out_dev, "medium_id")
                    if omi not in (imi, -1):
                        return True
            return self.tbl.pneigh_lookup(tip, dev, False) is not None
        return sip != tip and bool(self._conf(dev, "proxy_arp_pvlan"))

    def _proxy_reply(self, skb: SkBuff, dev: NetDev, sip: int, tip: int, sha: bytes,
                     locally_enqueued: bool) -> int:
        tbl = self.tbl
        n = tbl.neigh_event_ns(sha, sip, dev)
        if n is not None:
            tbl.neigh_release(n)
        p = tbl.parms_for(dev)
        if locally_enqueued or skb.pkt_type == PACKET_HOST or p.proxy_delay == 0:
            self.arp_send(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha, dev.dev_addr, sha)
            self.host.consume_skb(skb, "arp_process")
            return NET_RX_SUCCESS
        self._pneigh_enqueue(skb, dev, p.proxy_delay, p.var("proxy_qlen"))
        return NET_RX_SUCCESS

    def _pneigh_enqueue(self, skb: SkBuff, dev: NetDev, delay: int, qlen: int) -> None:
        """pneigh_enqueue: answer after a random part of proxy_delay (parp_redo)."""
        if self._proxy_qlen > qlen:
            self.host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "pneigh_enqueue")
            return
        self._proxy_qlen += 1

        def redo() -> None:
            self._proxy_qlen -= 1
            self.arp_process(skb, dev, locally_enqueued=True)
        self.host.loop.call_later(self.host.rng.randrange(delay), redo)


def _ip_saddr(skb: SkBuff) -> int:
    """ip_hdr(skb)->saddr of a packet waiting for resolution."""
    nh = skb.skb_network_header() if skb.skb_network_offset() >= 0 else skb.data
    return int.from_bytes(nh[12:16], "big") if len(nh) >= 20 else 0


def arp_tbl(host: Host) -> Arp:
    """The host's ARP (arp_init on first use), kept as ``host.arp_tbl``."""
    arp = getattr(host, "arp_tbl", None)
    if not isinstance(arp, Arp):
        arp = Arp(host)
        setattr(host, "arp_tbl", arp)  # noqa: B010  (Host has no slot for it)
    return arp


def arp_init(host: Host, **hooks: Any) -> Arp:
    """Create (or find) the host's ARP and set its hooks by name (see the module
    docstring: xmit, is_local, select_src, confirm_addr, on_unreachable, addr_type,
    route_input, route_output_dev)."""
    arp = arp_tbl(host)
    for name, fn in hooks.items():
        if name not in _HOOKS:
            raise TypeError(f"arp_init: unknown hook {name!r}")
        setattr(arp, name, fn)
    return arp


_HOOKS = frozenset({"xmit", "is_local", "select_src", "confirm_addr", "on_unreachable",
                    "addr_type", "route_input", "route_output_dev"})


def _arp_state_to_flags(state: int) -> int:
    """arp_state_to_flags: PERMANENT 0x6 (ATF_PERM|ATF_COM), valid 0x2, else 0."""
    if state & NUD_PERMANENT:
        return ATF_PERM | ATF_COM
    return ATF_COM if state & NUD_VALID else 0


def arp_seq_show(host: Host) -> str:
    """/proc/net/arp (arp_seq_show): NOARP-only entries are skipped, proxies last."""
    lines = ["IP address       HW type     Flags       HW address            Mask     Device\n"]
    arp = getattr(host, "arp_tbl", None)
    if isinstance(arp, Arp):
        for n in arp.tbl.neighbours():
            if not n.nud_state & ~NUD_NOARP:
                continue
            hatype = getattr(n.dev, "type", ARPHRD_ETHER)
            hw = ":".join(f"{b:02x}" for b in n.ha)
            lines.append(f"{ip_str(n.primary_key):<16} 0x{hatype:<10x}0x"
                         f"{_arp_state_to_flags(n.nud_state):<10x}{hw:<17}     *        "
                         f"{n.dev.name}\n")
        for pn in arp.tbl.pneighbours():
            dev = pn.dev
            hatype = getattr(dev, "type", ARPHRD_ETHER) if dev is not None else 0
            lines.append(f"{ip_str(pn.key):<16} 0x{hatype:<10x}0x{0x08 | ATF_PERM:<10x}"
                         f"00:00:00:00:00:00     *        "
                         f"{dev.name if dev is not None else '*'}\n")
    return "".join(lines)


def neigh_stat_seq_show(host: Host) -> str:
    """/proc/net/stat/arp_cache (neigh_stat_seq_show): one hex line per CPU."""
    out = ["entries  allocs   destroys hash_grows lookups  hits     res_failed "
           "rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs "
           "unresolved_discards table_fulls\n"]
    tbl = arp_tbl(host).tbl
    tbl.run_deferred()
    for st in tbl.stats:
        out.append(f"{tbl.entries:08x} {st.allocs:08x} {st.destroys:08x} "
                   f"{st.hash_grows:08x}   {st.lookups:08x} {st.hits:08x} "
                   f"{st.res_failed:08x}   {st.rcv_probes_mcast:08x}         "
                   f"{st.rcv_probes_ucast:08x}         {st.periodic_gc_runs:08x}         "
                   f"{st.forced_gc_runs:08x}       {st.unres_discards:08x}            "
                   f"{st.table_fulls:08x}\n")
    return "".join(out)


def _register_proc() -> None:
    from tuxnet.tools import procfs

    procfs.register("/proc/net/arp", arp_seq_show)
    procfs.register("/proc/net/stat/arp_cache", neigh_stat_seq_show)


_register_proc()
