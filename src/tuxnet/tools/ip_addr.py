"""``ip address``: iproute2 6.1's grammar, output and errors over a tuxnet host
(ip/ipaddress.c: ipaddr_modify, ipaddr_list_flush_or_save, print_linkinfo,
print_addrinfo).

``run(host, argv, out, opts)`` handles ``add|change|replace IFADDR dev IFNAME [brd +|-|A]
[scope S] [label L] [metric N] [noprefixroute]``, ``del IFADDR dev IFNAME``,
``show|list [dev] [IFNAME] [up] [scope S] [to PREFIX] [label PATTERN] [primary|secondary]``
and ``flush`` with the same selector. Only IPv4 exists in tuxnet, so no inet6 lines are
printed. The link line reads the device through getattr with defaults (``flags``,
``mtu``, ``qdisc``, ``operstate``, ``tx_queue_len``, ``dev_addr``, ``broadcast``,
``type``, and for veth-like pairs ``iflink`` / ``link_netns`` / ``link_netnsid``).
"""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.ipv4.devinet import (
    IFA_F_NOPREFIXROUTE,
    IFA_F_SECONDARY,
    InetState,
    InIfAddr,
    inet_state,
)
from tuxnet.ipv4.fib_semantics import (
    MASKS,
    RT_SCOPE_HOST,
    RT_SCOPE_UNIVERSE,
    NetDeviceLike,
    RtnlError,
)
from tuxnet.ipv4.route import proc_net_route
from tuxnet.tools import procfs
from tuxnet.tools.ip_utils import (
    RT_SCOPES,
    ArgStream,
    IpError,
    duparg2,
    get_addr,
    get_prefix,
    get_unsigned,
    invarg,
    matches,
    name_to_number,
    number_to_name,
)
from tuxnet.wire.addr import ip_str, mac_str

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.tools.ip_cmd import IpOptions

__all__ = ["format_link_header", "run"]

procfs.register("/proc/net/route", proc_net_route)

# ip/ipaddress.c print_link_flags(): the order the flag names print in
_IFF_NAMES = (
    (0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
    (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"),
    (0x800, "SLAVE"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"), (0x40000, "ECHO"),
)
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40
# include/uapi/linux/if.h IF_OPER_*, as ip prints them
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# include/uapi/linux/if_arp.h ARPHRD_* -> ll_type_n2a names
_LINK_TYPES = {1: "ether", 772: "loopback", 65534: "none", 776: "sit", 768: "ipip"}
_LFT = "valid_lft forever preferred_lft forever"
_INFINITY_LIFE_TIME = 0xFFFFFFFF


def _link_flags(flags: int) -> list[str]:
    names = []
    if flags & IFF_UP and not flags & IFF_RUNNING:
        names.append("NO-CARRIER")
    rest = flags & ~IFF_RUNNING
    for bit, name in _IFF_NAMES:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"{rest:x}")
    return names


def _operstate(dev: NetDeviceLike) -> str:
    state = getattr(dev, "operstate", None)
    if isinstance(state, int) and 0 <= state < len(_OPERSTATES):
        return _OPERSTATES[state]
    if isinstance(state, str) and state:
        return state.upper()
    return "UNKNOWN"


def _qdisc(dev: NetDeviceLike) -> str:
    q = getattr(dev, "qdisc", None)
    if isinstance(q, str):
        return q
    kind = getattr(q, "kind", None) if q is not None else None
    if kind:
        return str(kind)
    if dev.flags & IFF_LOOPBACK or getattr(dev, "priv_flags", 0) & (1 << 21):  # IFF_NO_QUEUE
        return "noqueue"
    return "pfifo_fast" if dev.flags & IFF_UP else "noop"


def _link_type(dev: NetDeviceLike) -> str:
    t = getattr(dev, "type", None)
    if isinstance(t, int) and t in _LINK_TYPES:
        return _LINK_TYPES[t]
    return "loopback" if dev.flags & IFF_LOOPBACK else "ether"


def _macs(dev: NetDeviceLike) -> tuple[str, str]:
    loop = bool(dev.flags & IFF_LOOPBACK)
    addr = bytes(getattr(dev, "dev_addr", b"") or b"\0" * 6)
    brd = getattr(dev, "broadcast", None)
    brd = bytes(brd) if brd else (b"\0" * 6 if loop else b"\xff" * 6)
    if loop:
        brd = b"\0" * 6
    return mac_str(addr), mac_str(brd)


def _peer(st: InetState, dev: NetDeviceLike) -> tuple[str, dict[str, Any]]:
    """The ``@peer`` suffix (IFLA_LINK) and its JSON keys."""
    iflink = getattr(dev, "iflink", None)
    if not isinstance(iflink, int) or not iflink:
        return "", {}
    other_ns = (getattr(dev, "link_netns", None) is not None
                or getattr(dev, "link_netnsid", None) is not None)
    if other_ns:
        return f"@if{iflink}", {"link_index": iflink}
    if iflink == dev.ifindex:
        return "", {}
    other = st.dev_by_index(iflink)
    if other is None:
        return "@NONE", {}
    return f"@{other.name}", {"link": other.name}


def format_link_header(st: InetState, dev: NetDeviceLike) -> tuple[list[str], dict[str, Any]]:
    """print_linkinfo() as ``ip addr`` prints it: the two link lines and the JSON keys."""
    suffix, link_keys = _peer(st, dev)
    flags = _link_flags(dev.flags)
    peer = None
    if "link" in link_keys:
        peer = st.dev_by_name(link_keys["link"])
    if peer is not None and not peer.flags & IFF_UP:
        flags.append("M-DOWN")  # the link (IFLA_LINK) device is down
    qlen = getattr(dev, "tx_queue_len", 1000)
    line1 = (f"{dev.ifindex}: {dev.name}{suffix}: <{','.join(flags)}> mtu {dev.mtu} "
             f"qdisc {_qdisc(dev)} state {_operstate(dev)} group default qlen {qlen}")
    ltype = _link_type(dev)
    mac, brd = _macs(dev)
    line2 = f"    link/{ltype} {mac} brd {brd}" if ltype != "none" else "    link/none "
    netns = getattr(dev, "link_netns", None)
    if netns is not None:
        line2 += f" link-netns {netns}"
    obj: dict[str, Any] = {"ifindex": dev.ifindex, **link_keys, "ifname": dev.name,
                           "flags": flags, "mtu": dev.mtu, "qdisc": _qdisc(dev),
                           "operstate": _operstate(dev), "group": "default", "txqlen": qlen,
                           "link_type": ltype}
    if ltype != "none":
        obj["address"] = mac
        obj["broadcast"] = brd
    nsid = getattr(dev, "link_netnsid", None)
    if netns is not None or nsid is not None:
        obj["link_netnsid"] = nsid if isinstance(nsid, int) else 0
    return [line1, line2], obj


def format_addr(ifa: InIfAddr) -> tuple[str, dict[str, Any]]:
    """print_addrinfo() for one IPv4 address: ``    inet A/L ... LABEL`` and JSON."""
    words = [f"    inet {ip_str(ifa.local)}/{ifa.prefixlen}"]
    obj: dict[str, Any] = {"family": "inet", "local": ip_str(ifa.local),
                           "prefixlen": ifa.prefixlen}
    if ifa.rt_priority:
        words.append(f"metric {ifa.rt_priority}")
        obj["metric"] = ifa.rt_priority
    if ifa.broadcast:
        words.append(f"brd {ip_str(ifa.broadcast)}")
        obj["broadcast"] = ip_str(ifa.broadcast)
    scope = number_to_name(RT_SCOPES, ifa.scope)
    words.append(f"scope {scope}")
    obj["scope"] = scope
    if ifa.flags & IFA_F_SECONDARY:
        words.append("secondary")
        obj["secondary"] = True
    if ifa.flags & IFA_F_NOPREFIXROUTE:
        words.append("noprefixroute")
        obj["noprefixroute"] = True
    words.append(ifa.label)
    obj["label"] = ifa.label
    obj["valid_life_time"] = _INFINITY_LIFE_TIME
    obj["preferred_life_time"] = _INFINITY_LIFE_TIME
    return " ".join(words), obj


class _AddrFilter:
    """ipaddr_list_flush_or_save()'s ``filter``."""

    def __init__(self) -> None:
        self.dev: NetDeviceLike | None = None
        self.up = False
        self.scope: int | None = None
        self.pfx: tuple[int, int] | None = None
        self.label: str | None = None
        self.primary: bool | None = None  # True: primary only, False: secondary only

    @property
    def on_addresses(self) -> bool:
        return (self.scope is not None or self.pfx is not None or self.label is not None
                or self.primary is not None)

    def accepts(self, ifa: InIfAddr) -> bool:
        if self.scope is not None and ifa.scope != self.scope:
            return False
        if self.pfx is not None:
            addr, plen = self.pfx
            if (ifa.local ^ addr) & MASKS[plen]:
                return False
        if self.label is not None and not fnmatch.fnmatchcase(ifa.label, self.label):
            return False
        secondary = bool(ifa.flags & IFA_F_SECONDARY)
        return self.primary is None or self.primary != secondary


def _parse_filter(st: InetState, args: ArgStream) -> _AddrFilter:
    filt = _AddrFilter()
    dev_name = ""
    for arg in args:
        if arg == "to":
            a = args.next()
            try:
                addr, plen, _ = get_prefix(a)
            except IpError:
                raise invarg('invalid "to"\n', a) from None
            filt.pfx = (addr, plen)
        elif arg == "scope":
            a = args.next()
            sc = name_to_number(RT_SCOPES, a)
            if sc is None and a != "all":
                raise invarg('invalid "scope"\n', a)
            filt.scope = sc
        elif arg == "up":
            filt.up = True
        elif arg in ("primary", "secondary"):
            filt.primary = arg == "primary"
        elif arg in ("permanent", "dynamic", "tentative", "deprecated", "dadfailed"):
            pass  # every tuxnet address is permanent and never tentative
        elif arg == "label":
            filt.label = args.next()
        else:
            if arg == "dev":
                arg = args.next()
            elif matches(arg, "help"):
                raise IpError("Usage: ip address {add|change|replace} IFADDR dev IFNAME", 255)
            if dev_name:
                raise duparg2("dev", arg)
            dev_name = arg
    if dev_name:
        dev = st.dev_by_name(dev_name)
        if dev is None:
            raise IpError(f'Device "{dev_name}" does not exist.', 1)
        filt.dev = dev
    return filt


def _selected(st: InetState, filt: _AddrFilter) -> list[tuple[NetDeviceLike, list[InIfAddr]]]:
    out = []
    for dev in st.devices():
        if filt.dev is not None and dev is not filt.dev:
            continue
        if filt.up and not dev.flags & IFF_UP:
            continue
        idev = st.in_dev_get(dev)
        ifas = [ifa for ifa in (idev.ifa_list if idev is not None else ()) if filt.accepts(ifa)]
        if filt.on_addresses and not ifas:
            continue
        out.append((dev, ifas))
    return out


def _do_list(st: InetState, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    filt = _parse_filter(st, args)
    selected = _selected(st, filt)
    # iproute2 6.1 quirks: a `label` selector prints no link lines at all, a family
    # (set by `to PREFIX`) drops the link/ether line and its JSON keys
    family = filt.pfx is not None
    if opts.json:
        objs = []
        for dev, ifas in selected:
            _, obj = format_link_header(st, dev)
            if filt.label is not None:
                obj = {}
            elif family:
                for key in ("link_type", "address", "broadcast", "link_netnsid"):
                    obj.pop(key, None)
            obj["addr_info"] = [format_addr(ifa)[1] for ifa in ifas]
            objs.append(obj)
        out.write(json.dumps(objs, separators=(",", ":")) + "\n")
        return 0
    for dev, ifas in selected:
        if opts.oneline:
            for ifa in ifas:
                out.write(f"{dev.ifindex}: {dev.name}{format_addr(ifa)[0]}\\       {_LFT}\n")
            continue
        lines, _ = format_link_header(st, dev)
        if filt.label is not None:
            lines = []
        elif family:
            lines = lines[:1]
        for line in lines:
            out.write(line + "\n")
        for ifa in ifas:
            out.write(format_addr(ifa)[0] + "\n")
            out.write(f"       {_LFT}\n")
    return 0


def _do_flush(st: InetState, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    if not args.argv[args.i:]:
        raise IpError("Flush requires arguments.", 1)
    filt = _parse_filter(st, args)
    doomed = [ifa for _, ifas in _selected(st, filt) for ifa in ifas]
    if opts.stats and not doomed:
        out.write("Nothing to flush.\n")
        return 0
    if opts.stats:
        out.write(f"\n*** Round 1, deleting {len(doomed)} addresses ***\n")
    for ifa in doomed:
        st.del_ifa(ifa)  # a secondary already gone with its primary is skipped
    if opts.stats:
        out.write("*** Flush is complete after 1 round ***\n")
    return 0


def _do_modify(st: InetState, args: ArgStream, out: TextIO, cmd: str) -> int:
    """ipaddr_modify()."""
    local: tuple[int, int, bool] | None = None
    dev_name = ""
    label: str | None = None
    brd: int | str | None = None
    scope: int | None = None
    metric = 0
    flags = 0
    for arg in args:
        if arg in ("peer", "remote", "anycast"):
            raise IpError(f'Error: "{arg}" is not supported by tuxnet.', 255)
        if matches(arg, "broadcast") or arg == "brd":
            a = args.next()
            if brd is not None:
                raise IpError(f'Error: duplicate "broadcast": "{a}" is the second value.', 255)
            if a in ("+", "-"):
                brd = a
            else:
                addr = get_addr(a)
                if addr is None:
                    raise IpError(f'Error: inet address is expected rather than "{a}".', 1)
                brd = addr
        elif arg == "scope":
            a = args.next()
            sc = name_to_number(RT_SCOPES, a)
            if sc is None:
                raise invarg("invalid scope value.", a)
            scope = sc
        elif arg == "dev":
            dev_name = args.next()
        elif arg == "label":
            label = args.next()
        elif matches(arg, "metric") or matches(arg, "priority") or matches(arg, "preference"):
            a = args.next()
            m = get_unsigned(a)
            if m is None:
                raise invarg('"metric" value is invalid\n', a)
            metric = m
        elif matches(arg, "valid_lft") or matches(arg, "preferred_lft"):
            if args.next() != "forever":
                raise IpError("Error: tuxnet addresses have forever lifetimes only.", 255)
        elif arg == "noprefixroute":
            flags |= IFA_F_NOPREFIXROUTE
        elif arg in ("home", "nodad", "mngtmpaddr", "autojoin"):
            pass  # IPv6-only flags: the kernel ignores them for inet
        else:
            if arg == "local":
                arg = args.next()
            if local is not None:
                raise duparg2("local", arg)
            local = get_prefix(arg)
    if not dev_name:
        raise IpError('Not enough information: "dev" argument is required.', 1)
    dev = st.dev_by_name(dev_name)
    if dev is None:
        raise IpError(f'Cannot find device "{dev_name}"', 1)
    if cmd == "del":
        if local is None:
            raise RtnlError(95)  # EOPNOTSUPP
        addr, plen, given = local
        if not given:
            out.write("Warning: Executing wildcard deletion to stay compatible with old "
                      "scripts.\n         Explicitly specify the prefix length "
                      f"({ip_str(addr)}/32) to avoid this warning.\n         This special "
                      "behaviour is likely to disappear in further releases,\n         fix "
                      "your scripts!\n")
        st.addr_del(dev, addr, plen if given else None, label)
        return 0
    if local is None:
        raise RtnlError(22)  # EINVAL: no IFA_LOCAL
    addr, plen, _ = local
    broadcast = 0
    if isinstance(brd, int):
        broadcast = brd
    elif brd is not None and plen <= 30:
        host = ~MASKS[plen] & 0xFFFFFFFF
        broadcast = addr | host if brd == "+" else addr & ~host
    if scope is None:  # default_scope()
        scope = RT_SCOPE_HOST if addr >> 24 == 127 else RT_SCOPE_UNIVERSE
    st.addr_add(dev, addr, plen, broadcast=broadcast, scope=scope, label=label or "",
                metric=metric, flags=flags, replace=cmd != "add")
    return 0


def run(host: Host, argv: list[str], out: TextIO, opts: IpOptions) -> int:
    """do_ipaddr(): run one ``ip address ...`` command."""
    st = inet_state(host)
    try:
        if not argv:
            return _do_list(st, ArgStream([]), out, opts)
        cmd, args = argv[0], ArgStream(argv[1:])
        if matches(cmd, "add"):
            return _do_modify(st, args, out, "add")
        if matches(cmd, "change") or cmd == "chg" or matches(cmd, "replace"):
            return _do_modify(st, args, out, "replace")
        if matches(cmd, "delete"):
            return _do_modify(st, args, out, "del")
        if matches(cmd, "list") or matches(cmd, "show") or matches(cmd, "lst"):
            return _do_list(st, args, out, opts)
        if matches(cmd, "flush"):
            return _do_flush(st, args, out, opts)
        raise IpError(f'Command "{cmd}" is unknown, try "ip address help".', 255)
    except IpError as err:
        out.write(f"{err}\n")
        return err.rc
    except RtnlError as err:
        out.write(f"{err}\n")
        return 2
