"""The IPv4 protocol family of one host: inet_init, the protocol and raw-socket
registries, per-host IPv4 state (net/ipv4/af_inet.c, protocol.c, inetpeer.c, route.c's
ip_idents).

``inet_init(host)`` (idempotent) does what af_inet.c's inet_init and the per-netns
init do for tuxnet:

* registers ``ip_rcv`` for ETH_P_IP and ``arp_rcv`` for ETH_P_ARP with the device layer
  (dev_add_pack), and ICMP as IPPROTO_ICMP (icmp_rcv, icmp_err);
* calls ``arp_init`` with its hooks bound to devinet and route (xmit = dev_queue_xmit,
  is_local/addr_type = the local table, select_src = inet_select_addr, confirm_addr =
  inet_confirm_addr, route_input = ip_route_input, on_unreachable = ICMP host
  unreachable as ipv4_link_failure sends it);
* creates the per-host :class:`Ipv4` state (``host.ipv4``): the reassembly queues
  (IpDefrag, whose timeout sends ICMP time exceeded / fragment reassembly), the learned
  path MTUs (PmtuCache), the inet_peer table (ICMP and ip_error rate limits,
  redirects), the ip_idents IP-ID generator, the ICMP global credit and
  ``st.sysctls``, the integer sysctls the packet path reads (:class:`SysctlCache`).

Transport protocols register with ``inet_add_protocol(host, proto, handler,
err_handler=None)``: ``handler(skb) -> int`` gets each datagram for the host with
skb.data at its transport header (network header set, ``skb.dst`` the input route,
``skb.cb`` an :class:`InetSkbParm`) and owns it; a negative return resubmits to protocol
``-ret`` (ip_protocol_deliver_rcu). ``err_handler(skb, info)`` gets each ICMP error
quoting that protocol: skb.data at the quoted IPv4 header (at least its header + 8
bytes linear), ``skb.skb_transport_header()`` at the ICMP header (type, code), ``info``
the MTU of a frag-needed (0 when PMTU discovery is off), the pointer of a parameter
problem, the gateway of a redirect; it must not free the skb.

Raw sockets (traceroute, ping) are ``inet_add_raw_hook(host, protocol, rcv, err)``:
``rcv(skb)`` gets its own clone of every locally delivered datagram of ``protocol``,
data at the IPv4 header, and must free it; ``err(skb, info)`` sees ICMP errors quoting
``protocol`` (as raw_err, which also learns the path MTU from a frag-needed).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from tuxnet.core.netcore import NetCore, get_core, register_protocol_handler
from tuxnet.ipv4.arp import Arp, arp_init
from tuxnet.ipv4.devinet import IFA_F_SECONDARY, InetState, inet_state
from tuxnet.ipv4.fib_semantics import RT_SCOPE_LINK, RTN_LOCAL
from tuxnet.ipv4.ip_fragment import IpDefrag
from tuxnet.ipv4.pmtu import PmtuCache
from tuxnet.wire.ethernet import ETH_P_ARP, ETH_P_IP
from tuxnet.wire.ipv4 import IPPROTO_ICMP

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = [
    "HZ",
    "IPSKB_DOREDIRECT",
    "IPSKB_FORWARDED",
    "IPSKB_FRAG_PMTU",
    "IPSKB_REROUTED",
    "InetPeer",
    "InetSkbParm",
    "IpIdents",
    "Ipv4",
    "NetProtocol",
    "RawHook",
    "SysctlCache",
    "inet_add_protocol",
    "inet_add_raw_hook",
    "inet_confirm_addr",
    "inet_del_protocol",
    "inet_del_raw_hook",
    "inet_init",
    "ip_state",
    "ipcb",
    "jiffies",
]

HZ = 1000  # CONFIG_HZ of the distribution kernels tuxnet follows
NSEC_PER_JIFFY = 1_000_000_000 // HZ
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF  # include/linux/jiffies.h: wraps 5 min after boot
IP_IDENTS_SZ = 2048  # route.c: the smallest ip_idents table
INET_PEER_THRESHOLD = 65536 + 128  # inetpeer.c: inet_peer_threshold
INET_PEER_MINTTL = 120 * HZ  # inetpeer.c: inet_peer_minttl, 120 s
_GOLDEN_RATIO_64 = 0x61C8864680B583EB  # include/linux/hash.h
_MASK64 = (1 << 64) - 1
_IDENT_FLOWS_MAX = 4096  # flows whose ip_idents bucket is remembered

# include/net/ip.h: IPCB(skb)->flags
IPSKB_FORWARDED = 1
IPSKB_XFRM_TUNNEL_SIZE = 2
IPSKB_XFRM_TRANSFORMED = 4
IPSKB_FRAG_COMPLETE = 8
IPSKB_REROUTED = 16
IPSKB_DOREDIRECT = 32
IPSKB_FRAG_PMTU = 64

Handler = Callable[["SkBuff"], int]
ErrHandler = Callable[["SkBuff", int], object]
RawRcv = Callable[["SkBuff"], object]


def jiffies(host: Host) -> int:
    """The jiffies counter of ``host`` (unsigned long on 64-bit, INITIAL_JIFFIES at t=0)."""
    return INITIAL_JIFFIES + host.loop.now_ns() // NSEC_PER_JIFFY


class InetSkbParm:
    """struct inet_skb_parm (IPCB(skb)): what the IPv4 layer keeps in skb->cb."""

    __slots__ = ("flags", "frag_max_size", "ignore_df", "iif", "optlen", "pmtudisc", "srr")

    def __init__(self) -> None:
        self.flags = 0
        self.frag_max_size = 0
        self.iif = 0
        self.optlen = 0
        self.srr = 0
        self.ignore_df = False  # skb->ignore_df (no slot on SkBuff)
        self.pmtudisc = 1  # the sender's IP_MTU_DISCOVER mode (socket-less: WANT)

    def copy(self) -> InetSkbParm:
        """skb->cb is copied with the skb (__copy_skb_header)."""
        n = InetSkbParm()
        n.flags = self.flags
        n.frag_max_size = self.frag_max_size
        n.iif = self.iif
        n.optlen = self.optlen
        n.srr = self.srr
        n.ignore_df = self.ignore_df
        n.pmtudisc = self.pmtudisc
        return n

    def __repr__(self) -> str:
        return (f"<InetSkbParm flags={self.flags:#x} frag_max_size={self.frag_max_size} "
                f"iif={self.iif}>")


def ipcb(skb: SkBuff) -> InetSkbParm:
    """IPCB(skb): the skb's InetSkbParm, made (zeroed) if another layer owned cb."""
    cb = skb.cb
    if cb.__class__ is InetSkbParm:
        return cb
    cb = skb.cb = InetSkbParm()
    return cb


class NetProtocol:
    """struct net_protocol: a transport's handler and err_handler."""

    __slots__ = ("err_handler", "handler", "icmp_strict_tag_validation")

    def __init__(self, handler: Handler, err_handler: ErrHandler | None,
                 icmp_strict_tag_validation: bool) -> None:
        self.handler = handler
        self.err_handler = err_handler
        self.icmp_strict_tag_validation = icmp_strict_tag_validation


class RawHook:
    """A raw socket bound to one protocol (raw_v4_input / raw_icmp_error)."""

    __slots__ = ("err", "protocol", "rcv")

    def __init__(self, protocol: int, rcv: RawRcv | None, err: ErrHandler | None) -> None:
        self.protocol = protocol
        self.rcv = rcv
        self.err = err


class InetPeer:
    """struct inet_peer: per remote address rate-limit state (ICMP, ip_error and
    redirects share rate_tokens/rate_last, as in Linux)."""

    __slots__ = ("daddr", "dtime", "n_redirects", "rate_last", "rate_tokens")

    def __init__(self, daddr: int, now: int) -> None:
        self.daddr = daddr
        self.rate_tokens = 0
        self.n_redirects = 0
        self.rate_last = now - 60 * HZ  # inet_getpeer: the first ICMP is never limited
        self.dtime = now

    def __repr__(self) -> str:
        return f"<InetPeer {self.daddr:#010x} tokens={self.rate_tokens}>"


class IpIdents:
    """ip_idents / ip_tstamps (net/ipv4/route.c): the IP ID generator for datagrams
    without a socket-private counter; a keyed hash of (daddr, saddr, protocol) picks a
    bucket, and an idle bucket jumps by a random amount (ip_idents_reserve)."""

    __slots__ = ("_buckets", "_key", "_rng", "idents", "tstamps")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._key = rng.getrandbits(64)  # net->ipv4.ip_id_key
        self.idents = [0] * IP_IDENTS_SZ
        self.tstamps = [0] * IP_IDENTS_SZ
        # the hash is a pure function of the flow under a fixed key: remembered per flow
        # (bounded), as the 128-bit products cost more than a dict lookup here
        self._buckets: dict[tuple[int, int, int], int] = {}

    def bucket(self, daddr: int, saddr: int, protocol: int) -> int:
        """siphash_3u32(daddr, saddr, protocol, ip_id_key) & mask, with hash_64 mixing."""
        flow = (daddr, saddr, protocol)
        b = self._buckets.get(flow)
        if b is not None:
            return b
        h = (((daddr << 32) | saddr) ^ (protocol << 56) ^ self._key) & _MASK64
        h = (h * _GOLDEN_RATIO_64) & _MASK64
        h ^= h >> 29
        h = (h * _GOLDEN_RATIO_64) & _MASK64
        b = (h >> 40) & (IP_IDENTS_SZ - 1)
        if len(self._buckets) >= _IDENT_FLOWS_MAX:
            self._buckets.clear()
        self._buckets[flow] = b
        return b

    def reserve(self, bucket: int, segs: int, now: int) -> int:
        """ip_idents_reserve: take ``segs`` ids from the bucket; returns the first."""
        now &= 0xFFFFFFFF
        old = self.tstamps[bucket]
        delta = 0
        if old != now:
            self.tstamps[bucket] = now
            # get_random_u32_below(span), drawn exactly as random.Random.randrange(span)
            # does (rejection sampling on span.bit_length() bits) without its two frames
            span = (now - old) & 0xFFFFFFFF
            getrandbits = self._rng.getrandbits
            k = span.bit_length()
            delta = getrandbits(k)
            while delta >= span:
                delta = getrandbits(k)
        ident = (self.idents[bucket] + segs + delta) & 0xFFFFFFFF
        self.idents[bucket] = ident
        return (ident - segs) & 0xFFFFFFFF


class SysctlCache(dict[str, int]):
    """The per-net copies of integer sysctls (Linux reads ``net->ipv4.sysctl_*``
    fields, not /proc/sys): ``cache[name]`` (or ``get_int(name)``) reads the sysctl
    once, then a watch (``sysctl.watch``) re-reads it after every change, so a write
    takes effect on the next packet exactly as an uncached read would. A dict whose
    ``__missing__`` loads: a warm read is one subscript, no Python frame."""

    __slots__ = ("_sysctl",)

    def __init__(self, sysctl: Any) -> None:
        super().__init__()
        self._sysctl = sysctl

    def get_int(self, name: str) -> int:
        """The current value of the integer sysctl ``name``."""
        return self[name]

    def __missing__(self, name: str) -> int:
        sysctl = self._sysctl
        v: int = sysctl.get_int(name)

        def changed(_name: str, _value: object) -> None:
            # re-read by the name asked for (an alias scales its target's value)
            self[name] = sysctl.get_int(name)

        sysctl.watch(name, changed)
        self[name] = v
        return v


class Ipv4:
    """struct netns_ipv4 and friends: the IPv4 state of one host (``host.ipv4``)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.inet: InetState = inet_state(host)
        self.core: NetCore = get_core(host)
        # a stream of our own so IP-ID and ICMP credit draws leave host.rng alone
        self.rng = random.Random(f"tuxnet:{host.seed}:{host.name}:ipv4")
        self.protos: list[NetProtocol | None] = [None] * 256  # inet_protos[]
        self.raw: dict[int, list[RawHook]] = {}
        self.peers: dict[int, InetPeer] = {}
        self.idents = IpIdents(self.rng)
        self.defrag = IpDefrag(host)
        self.pmtu = PmtuCache(host)
        self.icmp_global_credit = 0  # net->ipv4.icmp_global_credit
        self.icmp_global_stamp = 0
        # ping sockets (net/ipv4/ping.c): ping_rcv(skb) -> True when a socket took it,
        # ping_err(skb, info) for errors quoting an echo request
        self.ping_rcv: Callable[[SkBuff], bool] | None = None
        self.ping_err: ErrHandler | None = None
        self.arp: Arp = arp_init(host)
        self.packet_types: list[Any] = []
        self.sysctls = SysctlCache(host.sysctl)

    def __repr__(self) -> str:
        protos = [i for i, p in enumerate(self.protos) if p is not None]
        return f"<Ipv4 {self.host.name} protos={protos}>"

    def getpeer(self, daddr: int) -> InetPeer:
        """inet_getpeer_v4: the peer for ``daddr``, created on first use; idle peers go
        once the table passes inet_peer_threshold (inet_peer_gc)."""
        now = jiffies(self.host)
        peer = self.peers.get(daddr)
        if peer is None:
            if len(self.peers) >= INET_PEER_THRESHOLD:
                self.peers = {a: p for a, p in self.peers.items()
                              if now - p.dtime < INET_PEER_MINTTL}
            peer = self.peers[daddr] = InetPeer(daddr, now)
        peer.dtime = now
        return peer

    def select_ident(self, daddr: int, saddr: int, protocol: int, segs: int = 1) -> int:
        """__ip_select_ident: the next 16-bit IP ID towards (daddr, saddr, protocol)."""
        idents = self.idents
        b = idents._buckets.get((daddr, saddr, protocol))  # bucket()'s memo, read inline
        if b is None:
            b = idents.bucket(daddr, saddr, protocol)
        now = INITIAL_JIFFIES + self.host.loop.now_ns() // NSEC_PER_JIFFY  # jiffies
        return idents.reserve(b, segs, now) & 0xFFFF


def ip_state(host: Host) -> Ipv4:
    """The host's IPv4 state (inet_init on first use)."""
    try:
        return host.ipv4  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        return inet_init(host)


def inet_confirm_addr(st: InetState, dev: Any, dst: int, local: int, scope: int) -> int:
    """inet_confirm_addr / confirm_addr_indev: a primary address of scope at most
    ``scope`` equal to ``local`` (any when 0) on ``dev`` (any device when None) whose
    subnet holds ``dst`` and ``local``; 0 when there is none."""
    devs = [dev] if dev is not None else st.devices()
    for d in devs:
        idev = st.in_dev_get(d)
        if idev is None:
            continue
        addr = 0
        same = False
        for ifa in idev.ifa_list:
            if ifa.flags & IFA_F_SECONDARY:
                continue
            if not addr and (local == ifa.local or not local) and ifa.scope <= scope:
                addr = ifa.local
                if same:
                    break
            if not same:
                same = (not local or ifa.match(local)) and (not dst or ifa.match(dst))
                if same and addr:
                    if local or not dst:
                        break
                    if ifa.match(addr):  # the chosen address is in dst's subnet too
                        break
                    if ifa.scope <= scope:
                        addr = ifa.local
                        break
                    same = False
        if same and addr:
            return addr
    return 0


def _register_arp_notifier(host: Host, st: Ipv4) -> None:
    """arp_netdev_event on the device chain: announce on up (arp_notify), flush on
    down, carrier loss and address change."""
    from tuxnet.core.netcore import register_netdevice_notifier

    names = {"NETDEV_UP": "UP", "NETDEV_DOWN": "DOWN", "NETDEV_CHANGE": "CHANGE",
             "NETDEV_CHANGEADDR": "CHANGEADDR"}

    def notify(event: str, dev: Any) -> None:
        name = names.get(event)
        if name is None:
            return
        idev = st.inet.in_dev_get(dev)
        addrs = [ifa.local for ifa in idev.ifa_list] if idev is not None else []
        st.arp.arp_netdev_event(dev, name, addrs=addrs, carrier_ok=bool(dev.carrier))

    register_netdevice_notifier(host, notify)


def _bind_arp(host: Host, st: Ipv4) -> None:
    """arp_init with the hooks devinet/route/ICMP provide."""
    from tuxnet.core.dev import dev_queue_xmit
    from tuxnet.ipv4.icmp import ipv4_link_failure
    from tuxnet.ipv4.route import ip_route_input, ip_route_output_key

    inet = st.inet
    fib = inet.fib

    def addr_type(addr: int, dev: Any) -> int:
        return fib.addr_type(addr, None)  # inet_addr_type_dev_table

    def is_local(addr: int, dev: Any) -> bool:
        return fib.addr_type(addr, None) == RTN_LOCAL

    def select_src(dev: Any, dst: int) -> int:
        return inet.inet_select_addr(dev, dst, RT_SCOPE_LINK)

    def confirm_addr(dev: Any, dst: int, local: int, scope: int) -> bool:
        return bool(inet_confirm_addr(inet, dev, dst, local, scope))

    def route_input(tip: int, sip: int, dev: Any) -> tuple[int, Any] | None:
        rt = ip_route_input(inet, tip, sip, 0, dev)
        if not rt.input:
            return None  # martian: ip_route_input_noref failed
        return rt.type, rt.dev

    def route_output_dev(dst: int, src: int) -> Any:
        rt = ip_route_output_key(inet, dst, src)
        return None if rt.error else rt.dev

    def on_unreachable(skb: SkBuff) -> None:
        ipv4_link_failure(host, skb)

    arp_init(host, xmit=dev_queue_xmit, is_local=is_local, addr_type=addr_type,
             select_src=select_src, confirm_addr=confirm_addr, route_input=route_input,
             route_output_dev=route_output_dev, on_unreachable=on_unreachable)


def inet_init(host: Host) -> Ipv4:
    """inet_init: IPv4 on ``host`` (see the module doc); returns the state, and is a
    no-op returning the same state when called again."""
    st: Ipv4 | None = host.__dict__.get("ipv4")
    if st is not None:
        return st
    from tuxnet.ipv4.icmp import icmp_err, icmp_rcv, ip_expire_icmp
    from tuxnet.ipv4.ip_input import ip_rcv

    st = Ipv4(host)
    setattr(host, "ipv4", st)  # noqa: B010 - Host has no typed attribute for it
    st.defrag.on_timeout = lambda skb: ip_expire_icmp(host, skb)
    _bind_arp(host, st)
    arp = st.arp
    _register_arp_notifier(host, st)
    st.packet_types = [
        register_protocol_handler(host, ETH_P_IP, ip_rcv, name="ip_rcv"),
        register_protocol_handler(host, ETH_P_ARP, arp.arp_rcv, name="arp_rcv"),
    ]
    inet_add_protocol(host, IPPROTO_ICMP, partial(icmp_rcv, host),  # no Python frame
                      lambda skb, info: icmp_err(host, skb, info))
    # inet_init registers UDP at boot, so a datagram to a closed port gets a port
    # unreachable (NoPorts), not a protocol unreachable
    from tuxnet.ipv4.udp import udp_init
    from tuxnet.tcp.ipv4 import tcp_v4_init

    udp_init(host)
    tcp_v4_init(host)  # a SYN to a closed port gets a RST, as on Linux
    return st


def inet_add_protocol(host: Host, protocol: int, handler: Handler,
                      err_handler: ErrHandler | None = None, *,
                      icmp_strict_tag_validation: bool = False) -> int:
    """inet_add_protocol: register a transport; 0, or -1 when another handler holds
    the slot (registering the same handler again is a no-op returning 0)."""
    if not 0 <= protocol <= 255:
        raise ValueError(f"protocol {protocol} out of range")
    st = ip_state(host)
    cur = st.protos[protocol]
    if cur is not None:
        if cur.handler is handler or cur.handler == handler:
            cur.err_handler = err_handler
            cur.icmp_strict_tag_validation = icmp_strict_tag_validation
            return 0
        return -1
    st.protos[protocol] = NetProtocol(handler, err_handler, icmp_strict_tag_validation)
    return 0


def inet_del_protocol(host: Host, protocol: int, handler: Handler) -> int:
    """inet_del_protocol: 0, or -1 when ``handler`` is not the registered one."""
    st = ip_state(host)
    cur = st.protos[protocol]
    if cur is None or not (cur.handler is handler or cur.handler == handler):
        return -1
    st.protos[protocol] = None
    return 0


def inet_add_raw_hook(host: Host, protocol: int, rcv: RawRcv | None = None,
                      err: ErrHandler | None = None) -> RawHook:
    """A raw socket for ``protocol`` (see the module doc); returns its handle."""
    hook = RawHook(protocol, rcv, err)
    ip_state(host).raw.setdefault(protocol, []).append(hook)
    return hook


def inet_del_raw_hook(host: Host, hook: RawHook) -> None:
    """Close a raw socket made by inet_add_raw_hook (ValueError if unknown)."""
    lst = ip_state(host).raw.get(hook.protocol, [])
    lst.remove(hook)

