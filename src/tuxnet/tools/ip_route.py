"""``ip route``: iproute2 6.1's grammar, output and errors over a tuxnet host
(ip/iproute.c: iproute_modify, iproute_list_flush_or_save, iproute_get, print_route).

``run(host, argv, out, opts)`` handles ``show|list [SELECTOR]``, ``add``, ``del``,
``change``, ``replace``, ``append``, ``prepend``, ``test``, ``flush SELECTOR`` and
``get ADDR [from A] [iif D] [oif D] [tos T] [mark M] [fibmatch]``. Route lines end with
the space iproute2 leaves after every field. Errors go to ``out`` too (the ``ip``
dispatcher has one stream) with ip's exit codes: 2 for kernel answers, 1 for bad
prefixes and unknown devices, 255 for other command-line errors.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.ipv4.devinet import InetState, inet_state
from tuxnet.ipv4.fib_semantics import (
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTAX_ADVMSS,
    RTAX_CC_ALGO,
    RTAX_CWND,
    RTAX_FASTOPEN_NO_COOKIE,
    RTAX_FEATURE_ECN,
    RTAX_FEATURES,
    RTAX_HOPLIMIT,
    RTAX_INITCWND,
    RTAX_INITRWND,
    RTAX_MTU,
    RTAX_QUICKACK,
    RTAX_REORDERING,
    RTAX_RTO_MIN,
    RTAX_RTT,
    RTAX_RTTVAR,
    RTAX_SSTHRESH,
    RTAX_WINDOW,
    RTCF_BROADCAST,
    RTCF_DOREDIRECT,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTN_ANYCAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_NAT,
    RTN_UNICAST,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    RTPROT_BOOT,
    RTPROT_UNSPEC,
    FibAlias,
    FibConfig,
    NetDeviceLike,
    RtnlError,
)
from tuxnet.ipv4.route import Rtable, ip_route_input, ip_route_output_key, proc_net_route
from tuxnet.tools import procfs
from tuxnet.tools.ip_utils import (
    RT_PROTOS,
    RT_SCOPES,
    RT_TABLES,
    RTN_NAMES,
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
from tuxnet.wire.addr import ip_str

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.tools.ip_cmd import IpOptions

__all__ = ["format_route", "run"]

procfs.register("/proc/net/route", proc_net_route)

# ip/iproute.c mx_names[], in RTAX order (the order metrics print in)
_MX_NAMES: dict[int, str] = {
    RTAX_MTU: "mtu", RTAX_WINDOW: "window", RTAX_RTT: "rtt", RTAX_RTTVAR: "rttvar",
    RTAX_SSTHRESH: "ssthresh", RTAX_CWND: "cwnd", RTAX_ADVMSS: "advmss",
    RTAX_REORDERING: "reordering", RTAX_HOPLIMIT: "hoplimit", RTAX_INITCWND: "initcwnd",
    RTAX_FEATURES: "features", RTAX_RTO_MIN: "rto_min", RTAX_INITRWND: "initrwnd",
    RTAX_QUICKACK: "quickack", RTAX_CC_ALGO: "congctl",
    RTAX_FASTOPEN_NO_COOKIE: "fastopen_no_cookie",
}
_TIME_METRICS = {RTAX_RTT: 8, RTAX_RTTVAR: 4, RTAX_RTO_MIN: 1}  # kernel units per ms
_USAGE = "Usage: ip route { list | flush } SELECTOR"


@dataclass(slots=True)
class RouteFilter:
    """ip/iproute.c's ``filter``: what show/flush select and which fields they omit."""

    tb: int = RT_TABLE_MAIN      # 0: all tables
    protocol: int | None = None
    scope: int | None = None
    type: int | None = None
    dev: NetDeviceLike | None = None
    via: tuple[int, int] | None = None
    src: tuple[int, int] | None = None
    metric: int | None = None
    rdst: tuple[int, int] | None = None  # root
    mdst: tuple[int, int] | None = None  # match
    cloned: bool = False

    def accepts(self, fa: FibAlias) -> bool:
        """filter_nlmsg()."""
        fi = fa.fi
        if self.tb and fa.tb_id != self.tb:
            return False
        if self.protocol is not None and fi.protocol != self.protocol:
            return False
        if self.scope is not None and fi.scope != self.scope:
            return False
        if self.type is not None and fa.type != self.type:
            return False
        if self.dev is not None and fi.nh.dev is not self.dev:
            return False
        if self.metric is not None and fi.priority != self.metric:
            return False
        if self.rdst is not None:
            addr, plen = self.rdst
            if plen > fa.plen or not _prefix_match(fa.dst, addr, plen):
                return False
        if self.mdst is not None:
            addr, plen = self.mdst
            if plen < fa.plen or not _prefix_match(fa.dst, addr, fa.plen):
                return False
        if self.via is not None and not _prefix_match(fi.nh.gw, *self.via):
            return False
        return self.src is None or _prefix_match(fi.prefsrc, *self.src)


def _prefix_match(a: int, b: int, plen: int) -> bool:
    """inet_addr_match(): the first ``plen`` bits are equal."""
    if plen == 0:
        return True
    shift = 32 - plen
    return (a >> shift) == (b >> shift)


# -- printing --------------------------------------------------------------------------

def _metrics_text(metrics: dict[int, int], congctl: str, mxlock: int) -> list[str]:
    """print_rta_metrics() in text: ``mtu lock 1400``, ``rtt 10ms``, ``congctl cubic``."""
    out: list[str] = []
    for rtax, name in _MX_NAMES.items():
        locked = bool(mxlock & (1 << rtax))
        if rtax == RTAX_CC_ALGO:
            if congctl:
                out.append(f"{name} {'lock ' if locked else ''}{congctl}")
            continue
        if rtax not in metrics and not locked:
            continue
        val = metrics.get(rtax, 0)
        lock = "lock " if locked else ""
        if rtax in _TIME_METRICS:
            ms = val // _TIME_METRICS[rtax]
            shown = f"{ms / 1e3:g}s" if ms >= 1000 else f"{ms}ms"
            out.append(f"{name} {lock}{shown}")
        elif rtax == RTAX_FEATURES:
            feat = " ecn" if val & RTAX_FEATURE_ECN else ""
            rest = val & ~RTAX_FEATURE_ECN
            out.append(f"{name} {lock}{feat[1:]}" + (f" 0x{val:x}" if rest else ""))
        else:
            out.append(f"{name} {lock}{val}")
    return out


def _metrics_json(metrics: dict[int, int], congctl: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rtax, name in _MX_NAMES.items():
        if rtax == RTAX_CC_ALGO:
            if congctl:
                out["congestion"] = congctl
        elif rtax in metrics:
            val = metrics[rtax]
            if rtax in _TIME_METRICS:
                out[name] = val // _TIME_METRICS[rtax]
            elif rtax == RTAX_FEATURES:
                out["ecn"] = None
            else:
                out[name] = val
    return out


def _rt_flags(flags: int) -> list[str]:
    """print_rt_flags(): the nexthop/route flags named as iproute2 names them."""
    names = []
    if flags & RTNH_F_ONLINK:
        names.append("onlink")
    if flags & RTNH_F_LINKDOWN:
        names.append("linkdown")
    if flags & RTCF_MULTICAST:  # == RTM_F_OFFLOAD_FAILED in rtm_flags
        names.append("rt_offload_failed")
    return names


def format_route(fa: FibAlias, filt: RouteFilter | None = None, details: bool = False,
                 *, json_out: bool = False, show_table: bool = True) -> str | dict[str, Any]:
    """print_route() for one FIB entry: the ``ip route show`` line (trailing space
    included, no newline) or its ``ip -j route`` object."""
    filt = filt or RouteFilter()
    fi = fa.fi
    nh = fi.nh
    words: list[str] = []
    obj: dict[str, Any] = {}
    if fa.type != RTN_UNICAST or details:
        words.append(RTN_NAMES.get(fa.type, str(fa.type)))
        obj["type"] = words[-1]
    dst = "default" if fa.plen == 0 else (
        ip_str(fa.dst) if fa.plen == 32 else f"{ip_str(fa.dst)}/{fa.plen}")
    words.append(dst)
    obj["dst"] = dst
    if fa.tos:
        words.append(f"tos 0x{fa.tos:02x}")
        obj["tos"] = f"0x{fa.tos:02x}"
    if nh.gw and not (filt.via is not None and filt.via[1] == 32):
        words.append(f"via {ip_str(nh.gw)}")
        obj["gateway"] = ip_str(nh.gw)
    if nh.dev is not None and filt.dev is None:
        words.append(f"dev {nh.dev.name}")
        obj["dev"] = nh.dev.name
    if show_table and (fa.tb_id != RT_TABLE_MAIN or details) and not filt.tb:
        words.append(f"table {number_to_name(RT_TABLES, fa.tb_id)}")
        obj["table"] = number_to_name(RT_TABLES, fa.tb_id)
    if (fi.protocol != RTPROT_BOOT or details) and filt.protocol is None:
        words.append(f"proto {number_to_name(RT_PROTOS, fi.protocol)}")
        obj["protocol"] = number_to_name(RT_PROTOS, fi.protocol)
    if (fi.scope != RT_SCOPE_UNIVERSE or details) and filt.scope is None:
        words.append(f"scope {number_to_name(RT_SCOPES, fi.scope)}")
        obj["scope"] = number_to_name(RT_SCOPES, fi.scope)
    if fi.prefsrc and not (filt.src is not None and filt.src[1] == 32):
        words.append(f"src {ip_str(fi.prefsrc)}")
        obj["prefsrc"] = ip_str(fi.prefsrc)
    if fi.priority and filt.metric is None:
        words.append(f"metric {fi.priority}")
        obj["metric"] = fi.priority
    flags = _rt_flags(nh.flags)
    words.extend(flags)
    obj["flags"] = flags
    if fi.metrics or fi.congctl or fi.mxlock:
        words.extend(_metrics_text(fi.metrics, fi.congctl, fi.mxlock))
        obj["metrics"] = [_metrics_json(fi.metrics, fi.congctl)]
    if json_out:
        return obj
    return "".join(w + " " for w in words)


def _cache_flags(flags: int) -> list[str]:
    """print_cache_flags(): the RTCF_* names in iproute2's order."""
    names = []
    for bit, name in ((RTCF_LOCAL, "local"), (RTCF_MULTICAST, "mc"),
                      (RTCF_BROADCAST, "brd"), (RTCF_DOREDIRECT, "redirect")):
        if flags & bit:
            names.append(name)
    return names


def format_cached(rt: Rtable, oneline: bool = False, *, json_out: bool = False,
                  iif_name: str = "", mark: int = 0,
                  dst: int | None = None) -> str | dict[str, Any]:
    """rt_fill_info() + print_route() for a resolved route (``ip route get``); ``dst``
    is the address asked about (shown even when the route rewrote it, as for 0.0.0.0)."""
    words: list[str] = []
    obj: dict[str, Any] = {}
    if rt.type != RTN_UNICAST:
        words.append(RTN_NAMES.get(rt.type, str(rt.type)))
        obj["type"] = words[-1]
    shown = ip_str(rt.daddr if dst is None else dst)
    words.append(shown)
    obj["dst"] = shown
    if rt.src:
        words.append(f"from {ip_str(rt.src)}")
        obj["from"] = ip_str(rt.src)
    if rt.uses_gateway:
        words.append(f"via {ip_str(rt.gw)}")
        obj["gateway"] = ip_str(rt.gw)
    if rt.dev is not None:
        words.append(f"dev {rt.dev.name}")
        obj["dev"] = rt.dev.name
    if not rt.is_input and rt.saddr != rt.src:
        words.append(f"src {ip_str(rt.saddr)}")
        obj["prefsrc"] = ip_str(rt.saddr)
    flags = _rt_flags(rt.flags & RTCF_MULTICAST)
    words.extend(flags)
    obj["flags"] = flags
    if mark:
        words.append(f"mark 0x{mark:x}" if mark >= 16 else f"mark {mark}")
        obj["mark"] = mark
    if not rt.is_input:
        words.append("uid 0")
        obj["uid"] = 0
    cflags = _cache_flags(rt.flags)
    obj["cache"] = cflags
    fi = rt.fi
    second = ["cache"]
    if cflags:
        second.append("<" + ",".join(cflags) + ">")
    if fi is not None and (fi.metrics or fi.congctl or fi.mxlock):
        second.extend(_metrics_text(fi.metrics, fi.congctl, fi.mxlock))
        obj["metrics"] = [_metrics_json(fi.metrics, fi.congctl)]
    if rt.is_input:
        second.append(f"iif {iif_name}")
        obj["iif"] = iif_name
    if json_out:
        return obj
    sep = "\\" if oneline else "\n"
    return "".join(w + " " for w in words) + sep + "    " + "".join(w + " " for w in second)


# -- parsing ---------------------------------------------------------------------------

def _find_dev(st: InetState, name: str) -> NetDeviceLike:
    dev = st.dev_by_name(name)
    if dev is None:
        raise IpError(f'Cannot find device "{name}"', 1)
    return dev


def _get_time(text: str, what: str) -> tuple[int, bool]:
    """get_time_rtt(): milliseconds (ceil) and whether the value was raw (no unit)."""
    num = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = text[len(num):].lower()
    whole = get_unsigned(num) if "." not in num else None
    try:
        t = float(num) if "." in num else float(whole if whole is not None else "x")
    except ValueError:
        raise invarg(f'"{what}" value is invalid\n', text) from None
    if t < 0:
        raise invarg(f'"{what}" value is invalid\n', text)
    if unit in ("s", "sec", "secs"):
        t *= 1000
    elif unit not in ("", "ms", "msec", "msecs"):
        raise invarg(f'"{what}" value is invalid\n', text)
    return math.ceil(t), unit == ""


def _route_type(word: str) -> int | None:
    if word[:1].isdigit():
        return None
    for value, name in RTN_NAMES.items():
        if name == word and value:
            return value
    return None


def _parse_modify(st: InetState, args: ArgStream, delete: bool) -> FibConfig:
    """iproute_modify(): the request an ``ip route add/del/...`` line makes."""
    cfg = FibConfig()
    if delete:
        cfg.type = 0
        cfg.protocol = RTPROT_UNSPEC
    scope: int | None = None
    table: int | None = None
    dst_ok = False
    dev_name = ""
    metric_keys = (("window", RTAX_WINDOW), ("cwnd", RTAX_CWND), ("initcwnd", RTAX_INITCWND),
                   ("initrwnd", RTAX_INITRWND))
    for arg in args:
        if arg == "src":
            a = args.next()
            cfg.prefsrc = _address(a, dst_ok)
        elif arg == "via":
            a = args.next()
            if cfg.gw:
                raise invarg("use nexthop syntax to specify multiple via\n", arg)
            if a == "inet":
                a = args.next()
            cfg.gw = _address(a, dst_ok)
        elif arg in ("tos", "dsfield"):
            a = args.next()
            tos = get_unsigned(a, 255)
            if tos is None:
                raise invarg('"tos" value is invalid\n', a)
            cfg.tos = tos
        elif matches(arg, "metric") or matches(arg, "priority") or arg == "preference":
            a = args.next()
            v = get_unsigned(a)
            if v is None:
                raise invarg('"metric" value is invalid\n', a)
            cfg.priority = v
        elif arg in ("dev", "oif"):
            dev_name = args.next()
        elif arg in ("mtu", "hoplimit", "advmss") or matches(arg, "reordering"):
            name = arg if arg in ("mtu", "hoplimit", "advmss") else "reordering"
            rtax = {"mtu": RTAX_MTU, "hoplimit": RTAX_HOPLIMIT, "advmss": RTAX_ADVMSS,
                    "reordering": RTAX_REORDERING}[name]
            a = args.next()
            if a == "lock":
                cfg.mxlock |= 1 << rtax
                a = args.next()
            v = get_unsigned(a, 255 if rtax == RTAX_HOPLIMIT else 0xFFFFFFFF)
            if v is None:
                raise invarg(f'"{name}" value is invalid\n', a)
            cfg.metrics[rtax] = v
        elif arg in ("rtt", "rto_min") or matches(arg, "rttvar"):
            name = arg if arg in ("rtt", "rto_min") else "rttvar"
            rtax = {"rtt": RTAX_RTT, "rto_min": RTAX_RTO_MIN, "rttvar": RTAX_RTTVAR}[name]
            a = args.next()
            if a == "lock":
                cfg.mxlock |= 1 << rtax
                a = args.next()
            ms, raw = _get_time(a, name)
            if rtax == RTAX_RTO_MIN:
                cfg.mxlock |= 1 << RTAX_RTO_MIN  # iproute2 always locks rto_min
            cfg.metrics[rtax] = ms if raw or rtax == RTAX_RTO_MIN else ms * _TIME_METRICS[rtax]
        elif any(matches(arg, k) for k, _ in metric_keys) or matches(arg, "ssthresh"):
            name, rtax = next(((k, r) for k, r in metric_keys if matches(arg, k)),
                              ("ssthresh", RTAX_SSTHRESH))
            a = args.next()
            if a == "lock":
                cfg.mxlock |= 1 << rtax
                a = args.next()
            v = get_unsigned(a)
            if v is None:
                raise invarg(f'"{name}" value is invalid\n', a)
            cfg.metrics[rtax] = v
        elif matches(arg, "features"):
            a = args.next()
            if a != "ecn":
                raise invarg('"features" value not valid\n', a)
            cfg.metrics[RTAX_FEATURES] = RTAX_FEATURE_ECN
        elif matches(arg, "quickack") or matches(arg, "fastopen_no_cookie"):
            name = "quickack" if matches(arg, "quickack") else "fastopen_no_cookie"
            a = args.next()
            v = get_unsigned(a)
            if v not in (0, 1):
                raise invarg(f'"{name}" value should be 0 or 1\n', a)
            cfg.metrics[RTAX_QUICKACK if name == "quickack" else RTAX_FASTOPEN_NO_COOKIE] = v
        elif matches(arg, "congctl"):
            a = args.next()
            if a == "lock":
                cfg.mxlock |= 1 << RTAX_CC_ALGO
                a = args.next()
            cfg.congctl = a
        elif arg == "onlink":
            cfg.onlink = True
        elif matches(arg, "protocol"):
            a = args.next()
            prot = name_to_number(RT_PROTOS, a)
            if prot is None:
                raise invarg('"protocol" value is invalid\n', a)
            cfg.protocol = prot
        elif matches(arg, "table"):
            a = args.next()
            tid = name_to_number(RT_TABLES, a, 0xFFFFFFFF)
            if tid is None:
                raise invarg('"table" value is invalid\n', a)
            table = tid
        elif matches(arg, "scope"):
            a = args.next()
            sc = name_to_number(RT_SCOPES, a)
            if sc is None:
                raise invarg('invalid "scope" value\n', a)
            scope = sc
        else:
            word = arg
            if matches(word, "to"):
                word = args.next()
            rtype = _route_type(word)
            if rtype is not None:
                cfg.type = rtype
                word = args.next()
            if dst_ok:
                raise duparg2("to", word)
            cfg.dst, cfg.plen, _ = get_prefix(word)
            dst_ok = True
    if not dst_ok:
        raise IpError(_USAGE, 255)
    if dev_name:
        cfg.dev = _find_dev(st, dev_name)
    _complete_modify(cfg, delete, scope, table)
    return cfg


def _address(text: str, family_known: bool) -> int:
    addr = get_addr(text)
    if addr is None:
        fam = "inet" if family_known else "any valid"
        raise IpError(f'Error: {fam} address is expected rather than "{text}".', 1)
    return addr


def _complete_modify(cfg: FibConfig, delete: bool, scope: int | None,
                     table: int | None) -> None:
    """The defaults iproute_modify() fills in: table local for local/broadcast/nat/
    anycast routes, scope host/link/universe by type and nexthop."""
    if table is not None:
        cfg.table = table
    elif cfg.type in (RTN_LOCAL, RTN_BROADCAST, RTN_NAT, RTN_ANYCAST):
        cfg.table = RT_TABLE_LOCAL
    if scope is not None:
        cfg.scope = scope
    elif cfg.type in (RTN_LOCAL, RTN_NAT):
        cfg.scope = RT_SCOPE_HOST
    elif cfg.type in (RTN_BROADCAST, RTN_MULTICAST, RTN_ANYCAST):
        cfg.scope = RT_SCOPE_LINK
    elif cfg.type in (RTN_UNICAST, 0):
        if delete:
            cfg.scope = RT_SCOPE_NOWHERE
        elif not cfg.gw:
            cfg.scope = RT_SCOPE_LINK


def _parse_filter(st: InetState, args: ArgStream) -> RouteFilter:
    """iproute_list_flush_or_save(): the SELECTOR."""
    filt = RouteFilter()
    for arg in args:
        if matches(arg, "table"):
            a = args.next()
            if a in ("all", "cache"):
                filt.tb = 0
            else:
                tid = name_to_number(RT_TABLES, a, 0xFFFFFFFF)
                if tid is None:
                    raise invarg("table id value is invalid\n", a)
                filt.tb = tid
        elif matches(arg, "cached") or matches(arg, "cloned"):
            filt.cloned = True
        elif matches(arg, "protocol"):
            a = args.next()
            prot = name_to_number(RT_PROTOS, a)
            if a != "all" and prot is None:
                raise invarg('invalid "protocol"\n', a)
            filt.protocol = prot
        elif matches(arg, "scope"):
            a = args.next()
            sc = name_to_number(RT_SCOPES, a)
            if a != "all" and sc is None:
                raise invarg('invalid "scope"\n', a)
            filt.scope = sc
        elif matches(arg, "type"):
            a = args.next()
            rtype = _route_type(a)
            if rtype is None:
                raise invarg("node type value is invalid\n", a)
            filt.type = rtype
        elif arg in ("dev", "oif"):
            filt.dev = _find_dev(st, args.next())
        elif matches(arg, "metric") or matches(arg, "priority") or arg == "preference":
            a = args.next()
            v = get_unsigned(a)
            if v is None:
                raise invarg('"metric" value is invalid\n', a)
            filt.metric = v
        elif arg in ("via", "src"):
            addr, plen, _ = get_prefix(args.next())
            if arg == "via":
                filt.via = (addr, plen)
            else:
                filt.src = (addr, plen)
        else:
            word = arg
            if matches(word, "to"):
                word = args.next()
            if matches(word, "root"):
                addr, plen, _ = get_prefix(args.next())
                filt.rdst = (addr, plen)
            elif matches(word, "match"):
                addr, plen, _ = get_prefix(args.next())
                filt.mdst = (addr, plen)
            else:
                if matches(word, "exact"):
                    word = args.next()
                addr, plen, _ = get_prefix(word)
                filt.rdst = filt.mdst = (addr, plen)
    return filt


# -- commands --------------------------------------------------------------------------

def _selected(st: InetState, filt: RouteFilter, what: str) -> list[FibAlias]:
    if filt.tb and st.fib.get_table(filt.tb) is None:
        raise IpError(f"Error: ipv4: FIB table does not exist.\n{what} terminated", 2)
    if filt.cloned:
        return []
    return [fa for fa in st.fib.all_routes() if filt.accepts(fa)]


def _do_list(st: InetState, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    filt = _parse_filter(st, args)
    routes = _selected(st, filt, "Dump")
    if opts.json:
        objs = [format_route(fa, filt, opts.details, json_out=True) for fa in routes]
        out.write(json.dumps(objs, separators=(",", ":")) + "\n")
        return 0
    for fa in routes:
        out.write(f"{format_route(fa, filt, opts.details)}\n")
    return 0


def _do_flush(st: InetState, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    if not args.argv[args.i:]:
        raise IpError('"ip route flush" requires arguments.', 1)
    if args.argv[args.i:] == ["cache"]:
        st.fib.changed()  # rt_cache_flush
        return 0
    filt = _parse_filter(st, args)
    doomed = _selected(st, filt, "Flush")
    if opts.stats:
        if not doomed:
            out.write("Nothing to flush.\n")
            return 0
        out.write(f"\n*** Round 1, deleting {len(doomed)} entries ***\n")
    for fa in doomed:
        fa.fi.dead = True
    st.fib.remove_aliases(doomed)
    if opts.stats:
        out.write("*** Flush is complete after 1 round ***\n")
    return 0


def _do_get(st: InetState, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    """iproute_get()."""
    dst: int | None = None
    src = 0
    iif = oif = ""
    tos = mark = 0
    fibmatch = False
    for arg in args:
        if matches(arg, "from"):
            src, _, _ = get_prefix(args.next())
        elif arg == "iif":
            iif = args.next()
        elif arg in ("oif", "dev"):
            oif = args.next()
        elif matches(arg, "mark"):
            mark = get_unsigned(args.next()) or 0
        elif arg in ("tos", "dsfield"):
            tos = get_unsigned(args.next(), 255) or 0
        elif arg == "fibmatch":
            fibmatch = True
        elif arg in ("connected", "uid", "vrf", "ipproto", "sport", "dport"):
            if arg != "connected":
                args.next()
        else:
            word = args.next() if matches(arg, "to") else arg
            addr, plen, given = get_prefix(word)
            if given and plen != 32:
                out.write(f"Warning: /{plen} as prefix is invalid, only /32 (or none) "
                          "is supported.\n")
            dst = addr
    if dst is None:
        raise IpError("need at least a destination address", 1)
    if iif:
        dev = _find_dev(st, iif)
        rt = ip_route_input(st, dst, src, tos, dev)
    else:
        oif_index = _find_dev(st, oif).ifindex if oif else 0
        rt = ip_route_output_key(st, dst, src, oif_index, tos)
    if rt.error:
        # inet_rtm_getroute: a dropped input (martian, rp_filter) answers -EINVAL
        raise RtnlError(rt.error if rt.input or not iif else 22)
    if fibmatch and rt.fa is not None:
        result = format_route(rt.fa, RouteFilter(tb=0), opts.details, json_out=opts.json,
                              show_table=False)
    else:
        result = format_cached(rt, opts.oneline, json_out=opts.json, iif_name=iif, mark=mark,
                               dst=dst)
    if isinstance(result, dict):
        out.write(json.dumps([result], separators=(",", ":")) + "\n")
    else:
        out.write(result + "\n")
    return 0


_MODIFY = (  # ip/iproute.c do_iproute: command, NLM_F_CREATE, EXCL, REPLACE, APPEND
    ("add", True, True, False, False), ("change", False, False, True, False),
    ("replace", True, False, True, False), ("prepend", True, False, False, False),
    ("append", True, False, False, True), ("test", False, True, False, False),
)


def run(host: Host, argv: list[str], out: TextIO, opts: IpOptions) -> int:
    """do_iproute(): run one ``ip route ...`` command."""
    st = inet_state(host)
    try:
        if not argv:
            return _do_list(st, ArgStream([]), out, opts)
        cmd, args = argv[0], ArgStream(argv[1:])
        for name, create, excl, replace, append in _MODIFY:
            if matches(cmd, name) or (name == "change" and cmd == "chg"):
                cfg = _parse_modify(st, args, delete=False)
                cfg.create, cfg.excl, cfg.replace, cfg.append = create, excl, replace, append
                st.route_add(cfg)
                return 0
        if matches(cmd, "delete"):
            st.route_del(_parse_modify(st, args, delete=True))
            return 0
        if matches(cmd, "list") or matches(cmd, "show") or matches(cmd, "lst"):
            return _do_list(st, args, out, opts)
        if matches(cmd, "get"):
            return _do_get(st, args, out, opts)
        if matches(cmd, "flush"):
            return _do_flush(st, args, out, opts)
        if matches(cmd, "help"):
            out.write(_USAGE + "\n")
            return 255
        raise IpError(f'Command "{cmd}" is unknown, try "ip route help".', 255)
    except IpError as err:
        out.write(f"{err}\n")
        return err.rc
    except RtnlError as err:
        out.write(f"{err}\n")
        return 2
