"""``ip neigh``: iproute2 6.1's ip/ipneigh.c over a tuxnet host's ARP table.

``run(host, argv, out, opts) -> int`` (called by :mod:`tuxnet.tools.ip_cmd`) takes the
words after ``ip [OPTIONS] neigh`` and returns ip's exit status: 0, 1 (Cannot find
device, bad address, ``neigh get`` usage), 2 (the kernel refused: ``RTNETLINK answers:
...`` or ``Error: <extack>.``) or 255 (usage errors, which ip ends with exit(-1)).
Everything ip prints, errors included, goes to ``out``.

Output follows print_neigh after iproute2 5.16's spacing fix: every attribute ends
with a space, the cache info (``-s``) keeps its leading spaces, hence
``10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01  ref 1 used 2/2/1probes 0 STALE``.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.ipv4.arp import arp_tbl
from tuxnet.ipv4.neigh_defs import (
    NTF_EXT_LEARNED,
    NTF_PROXY,
    NTF_ROUTER,
    NTF_USE,
    NUD_DELAY,
    NUD_FAILED,
    NUD_INCOMPLETE,
    NUD_NOARP,
    NUD_NONE,
    NUD_PERMANENT,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    NeighError,
    NetDev,
)
from tuxnet.ipv4.neigh_rtnl import NeighInfo, neigh_add, neigh_delete, neigh_dump, neigh_get
from tuxnet.wire.addr import ip_str

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["format_neigh", "run"]

_MAX_ROUNDS = 10
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_OCT = re.compile(r"0[0-7]*")
_DEC = re.compile(r"[1-9][0-9]*")
_USER_HZ = 100  # get_user_hz(): clock_t ticks per second
_STATE_NAMES = (("INCOMPLETE", NUD_INCOMPLETE), ("REACHABLE", NUD_REACHABLE),
                ("STALE", NUD_STALE), ("DELAY", NUD_DELAY), ("PROBE", NUD_PROBE),
                ("FAILED", NUD_FAILED), ("NOARP", NUD_NOARP), ("PERMANENT", NUD_PERMANENT))
# lib/rt_names.c rtnl_rtprot_tab (and /etc/iproute2/rt_protos)
_RTPROT = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated",
           9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
           15: "ntk", 16: "dhcp", 17: "mrouted", 18: "keepalived", 42: "babel", 99: "openr",
           186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}
_USAGE = (
    "Usage: ip neigh { add | del | change | replace }\n"
    "                { ADDR [ lladdr LLADDR ] [ nud STATE ] proxy ADDR }\n"
    "                [ dev DEV ] [ router ] [ use ] [ managed ] [ extern_learn ]\n"
    "                [ protocol PROTO ]\n"
    "\n"
    "\tip neigh { show | flush } [ proxy ] [ to PREFIX ] [ dev DEV ] [ nud STATE ]\n"
    "\t\t\t\t  [ vrf NAME ] [ nomaster ]\n"
    "\tip neigh get { ADDR | proxy ADDR } dev DEV\n"
    "\n"
    "STATE := { delay | failed | incomplete | noarp | none |\n"
    "           permanent | probe | reachable | stale }\n")


class _Exit(Exception):
    """ip printed a message and exits with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _matches(prefix: str, word: str) -> bool:
    """iproute2 matches(): a non-empty prefix of ``word``."""
    return bool(prefix) and word.startswith(prefix)


def _strtoul0(text: str) -> int | None:
    """strtoul(text, &end, 0) that must consume the whole word."""
    if _HEX.fullmatch(text):
        return int(text, 16)
    if _OCT.fullmatch(text):
        return int(text, 8)
    if _DEC.fullmatch(text):
        return int(text)
    return None


def _get_addr_ipv4(text: str) -> int | None:
    """get_addr_ipv4: up to four dot-separated parts, missing ones zero (10.1 is
    10.1.0.0), each a C number (0x1f, 017) of at most 255."""
    parts = text.split(".")
    if len(parts) > 4:
        return None
    value = 0
    for i, part in enumerate(parts):
        n = _strtoul0(part)
        if n is None or n > 255:
            return None
        value |= n << (24 - 8 * i)
    return value


class _Cmd:
    """One ``ip neigh`` invocation."""

    def __init__(self, host: Host, out: TextIO, opts: Any) -> None:
        self.host = host
        self.out = out
        self.stats = int(getattr(opts, "stats", 0))
        self.json = bool(getattr(opts, "json", False))
        self.arp = arp_tbl(host)

    def p(self, text: str) -> None:
        self.out.write(text)

    # -- argument helpers ------------------------------------------------------------
    def next_arg(self, argv: list[str], i: int) -> str:
        if i + 1 >= len(argv):
            self.p('Command line is not complete. Try option "help"\n')
            raise _Exit(255)
        return argv[i + 1]

    def invarg(self, msg: str, arg: str) -> _Exit:
        self.p(f'Error: argument "{arg}" is wrong: {msg}\n')
        return _Exit(255)

    def duparg(self, key: str, arg: str) -> _Exit:
        self.p(f'Error: duplicate "{key}": "{arg}" is the second value.\n')
        return _Exit(255)

    def duparg2(self, key: str, arg: str) -> _Exit:
        self.p(f'Error: either "{key}" is duplicate, or "{arg}" is a garbage.\n')
        return _Exit(255)

    def usage(self) -> _Exit:
        self.p(_USAGE)
        return _Exit(255)

    def get_addr(self, text: str) -> int:
        a = _get_addr_ipv4(text)
        if a is None:
            self.p(f'Error: any valid address is expected rather than "{text}".\n')
            raise _Exit(1)
        return a

    def get_prefix(self, text: str) -> tuple[int, int]:
        if text in ("default", "any", "all"):
            return 0, 0
        addr, _, plen = text.partition("/")
        a = _get_addr_ipv4(addr)
        bits = 32
        if plen:
            bits = int(plen) if plen.isdigit() else -1
        if a is None or not 0 <= bits <= 32:
            self.p(f'Error: any valid prefix is expected rather than "{text}".\n')
            raise _Exit(1)
        return a, bits

    def nud_state_a2n(self, arg: str) -> int | None:
        """nud_state_a2n: a state name (some by prefix) or a single-bit number."""
        if _matches(arg, "permanent"):
            return NUD_PERMANENT
        if _matches(arg, "reachable"):
            return NUD_REACHABLE
        named = {"noarp": NUD_NOARP, "none": NUD_NONE, "stale": NUD_STALE,
                 "incomplete": NUD_INCOMPLETE, "delay": NUD_DELAY, "probe": NUD_PROBE}
        if arg in named:
            return named[arg]
        if _matches(arg, "failed"):
            return NUD_FAILED
        try:
            v = int(arg, 0)
        except ValueError:
            return None
        if v >= 0x100 or v < 0 or v & (v - 1):
            return None
        return v

    def find_dev(self, name: str) -> NetDev | None:
        dev = self.host.devices.get(name)
        return dev  # type: ignore[return-value]

    def nodev(self, name: str) -> _Exit:
        self.p(f'Cannot find device "{name}"\n')
        return _Exit(1)

    def rtnl_error(self, err: NeighError) -> None:
        if err.msg:
            self.p(f"Error: {err.msg}{'' if err.msg.endswith('.') else '.'}\n")
        else:
            self.p(f"RTNETLINK answers: {os.strerror(err.errno)}\n")

    # -- add / change / replace / delete ---------------------------------------------
    def modify(self, cmd: str, argv: list[str]) -> int:
        """ipneigh_modify."""
        state = NUD_PERMANENT
        ndm_flags = 0
        lla: str | None = None
        dev_name: str | None = None
        dst: int | None = None
        dev_ok = False
        protocol = 0
        managed = False
        i = 0
        while i < len(argv):
            a = argv[i]
            if _matches(a, "lladdr"):
                v = self.next_arg(argv, i)
                if lla is not None:
                    raise self.duparg("lladdr", v)
                lla = v
                i += 1
            elif a == "nud":
                v = self.next_arg(argv, i)
                s = self.nud_state_a2n(v)
                if s is None:
                    raise self.invarg("nud state is bad", v)
                state = s
                i += 1
            elif _matches(a, "proxy"):
                v = self.next_arg(argv, i)
                if _matches(v, "help"):
                    raise self.usage()
                if dst is not None:
                    raise self.duparg("address", v)
                dst = self.get_addr(v)
                dev_ok = True
                ndm_flags |= NTF_PROXY
                i += 1
            elif a == "router":
                ndm_flags |= NTF_ROUTER
            elif a == "use":
                ndm_flags |= NTF_USE
            elif a == "managed":
                managed = True
                state = NUD_NONE
            elif _matches(a, "extern_learn"):
                ndm_flags |= NTF_EXT_LEARNED
            elif a == "dev":
                dev_name = self.next_arg(argv, i)
                dev_ok = True
                i += 1
            elif _matches(a, "protocol"):
                v = self.next_arg(argv, i)
                proto = self._rtprot(v)
                if proto is None:
                    raise self.invarg('"protocol" value is invalid\n', v)
                protocol = proto
                i += 1
            else:
                if a == "to":
                    a = self.next_arg(argv, i)
                    i += 1
                if _matches(a, "help"):
                    a = self.next_arg(argv, i)
                    i += 1
                if dst is not None:
                    raise self.duparg2("to", a)
                dst = self.get_addr(a)
            i += 1
        if not dev_ok or dst is None:
            self.p("Device and destination are required arguments.\n")
            raise _Exit(255)
        lladdr = self._ll_addr_a2n(lla) if lla is not None and lla != "null" else None
        dev = None
        if dev_name is not None:
            dev = self.find_dev(dev_name)
            if dev is None:
                raise self.nodev(dev_name)
        tbl = self.arp.tbl
        if managed:
            ndm_flags |= NTF_USE  # NTF_EXT_MANAGED: resolved now, not auto-refreshed
        try:
            if cmd == "del":
                neigh_delete(tbl, dst, dev, proxy=bool(ndm_flags & NTF_PROXY))
            else:
                neigh_add(tbl, dst, dev, lladdr=lladdr, state=state,
                          create=cmd in ("add", "replace"), excl=cmd == "add",
                          replace=cmd in ("change", "replace"), ndm_flags=ndm_flags,
                          protocol=protocol)
        except NeighError as err:
            self.rtnl_error(err)
            raise _Exit(2) from None
        return 0

    def _ll_addr_a2n(self, text: str) -> bytes:
        """ll_addr_a2n: hex bytes separated by ':'."""
        out = bytearray()
        for part in text.split(":"):
            try:
                v = int(part, 16)
            except ValueError:
                v = -1
            if not 0 <= v <= 255:
                self.p(f'"{part}" is invalid lladdr.\n')
                raise _Exit(1)
            out.append(v)
        return bytes(out)

    @staticmethod
    def _rtprot(text: str) -> int | None:
        for num, name in _RTPROT.items():
            if name == text:
                return num
        try:
            v = int(text, 0)
        except ValueError:
            return None
        return v if 0 <= v <= 255 else None

    # -- show / flush ----------------------------------------------------------------
    def show_or_flush(self, argv: list[str], flush: bool) -> int:
        """do_show_or_flush."""
        if flush and not argv:
            self.p("Flush requires arguments.\n")
            return 1
        fstate = ~(NUD_PERMANENT | NUD_NOARP) if flush else 0xFF & ~NUD_NOARP
        state_given = False
        dev_name: str | None = None
        unused = False
        proxy = False
        pfx: tuple[int, int] | None = None
        protocol = 0
        master = False
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "dev":
                v = self.next_arg(argv, i)
                if dev_name is not None:
                    raise self.duparg("dev", v)
                dev_name = v
                i += 1
            elif a == "master":
                v = self.next_arg(argv, i)
                if self.find_dev(v) is None:
                    raise self.invarg("Device does not exist\n", v)
                master = True  # no device has a master here: nothing matches
                i += 1
            elif a == "vrf":
                raise self.invarg("Not a valid VRF name\n", self.next_arg(argv, i))
            elif a == "nomaster":
                pass
            elif a == "unused":
                unused = True
            elif a == "nud":
                v = self.next_arg(argv, i)
                if not state_given:
                    state_given = True
                    fstate = 0
                s = self.nud_state_a2n(v)
                if s is None:
                    if v != "all":
                        raise self.invarg("nud state is bad", v)
                    s = ~0 & ~NUD_NOARP if flush else ~0
                fstate |= s if s else 0x100
                i += 1
            elif a == "proxy":
                proxy = True
            elif _matches(a, "protocol"):
                v = self.next_arg(argv, i)
                proto = self._rtprot(v)
                if proto is None:
                    if v != "all":
                        raise self.invarg('invalid "protocol"\n', v)
                    proto = 0
                protocol = proto
                i += 1
            else:
                if a == "to":
                    a = self.next_arg(argv, i)
                    i += 1
                if _matches(a, "help"):
                    raise self.usage()
                pfx = self.get_prefix(a)
            i += 1
        index = 0
        if dev_name is not None:
            dev = self.find_dev(dev_name)
            if dev is None:
                raise self.nodev(dev_name)
            index = dev.ifindex

        def selected(e: NeighInfo) -> bool:
            if master or (index and e.ifindex != index):
                return False
            if (not fstate & e.state and not e.flags & (NTF_PROXY | NTF_EXT_LEARNED) and
                    (e.state or not fstate & 0x100)):
                return False
            if pfx is not None and pfx[1] > 0:
                mask = (0xFFFFFFFF << (32 - pfx[1])) & 0xFFFFFFFF
                if (e.dst ^ pfx[0]) & mask:
                    return False
            if protocol and e.protocol != protocol:
                return False
            return not (unused and e.refcnt)

        tbl = self.arp.tbl
        if flush:
            return self._flush(selected, proxy, index)
        entries = [e for e in neigh_dump(tbl, proxy=proxy) if selected(e)]
        if self.json:
            self.p(json.dumps([self._json(e, index) for e in entries],
                              separators=(",", ":")) + "\n")
        else:
            for e in entries:
                self.p(format_neigh(e, stats=self.stats, filter_index=index))
        return 0

    def _flush(self, selected: Any, proxy: bool, index: int) -> int:
        tbl = self.arp.tbl
        rounds = 0
        state_mask = ~0
        while rounds < _MAX_ROUNDS:
            batch = [e for e in neigh_dump(tbl, proxy=proxy)
                     if selected(e) and (e.state & state_mask or not e.state)]
            if self.stats >= 2:
                for e in batch:
                    self.p(format_neigh(e, stats=self.stats, filter_index=index))
            if not batch:
                if self.stats:
                    if rounds == 0:
                        self.p("Nothing to flush.\n")
                    else:
                        self.p(f"*** Flush is complete after {rounds} round"
                               f"{'s' if rounds > 1 else ''} ***\n")
                return 0
            rounds += 1
            for e in batch:
                dev = self._dev_by_index(e.ifindex)
                try:
                    neigh_delete(tbl, e.dst, dev, proxy=bool(e.flags & NTF_PROXY))
                except NeighError as err:
                    self.p(f"Failed to send flush request: {os.strerror(err.errno)}\n")
                    return 1
            if self.stats:
                self.p(f"\n*** Round {rounds}, deleting {len(batch)} entries ***\n")
            state_mask &= ~NUD_FAILED
        self.p(f"*** Flush not complete bailing out after {_MAX_ROUNDS} rounds\n")
        return 1

    def _dev_by_index(self, ifindex: int) -> NetDev | None:
        for dev in self.host.devices.values():
            if getattr(dev, "ifindex", None) == ifindex:
                return dev  # type: ignore[return-value]
        return None

    def _json(self, e: NeighInfo, index: int) -> dict[str, object]:
        d: dict[str, object] = {"dst": ip_str(e.dst)}
        if not index and e.ifindex:
            d["dev"] = e.dev
        if e.lladdr is not None:
            d["lladdr"] = ":".join(f"{b:02x}" for b in e.lladdr)
        for bit, name in ((NTF_ROUTER, "router"), (NTF_PROXY, "proxy"),
                          (NTF_EXT_LEARNED, "extern_learn")):
            if e.flags & bit:
                d[name] = None
        if self.stats and e.probes is not None:
            if e.refcnt:
                d["refcnt"] = e.refcnt
            d["used"] = e.used // _USER_HZ
            d["confirmed"] = e.confirmed // _USER_HZ
            d["updated"] = e.updated // _USER_HZ
            d["probes"] = e.probes
        if e.state:
            d["state"] = [name for name, bit in _STATE_NAMES if e.state & bit]
        if e.protocol:
            d["protocol"] = _RTPROT.get(e.protocol, str(e.protocol))
        return d

    # -- get -------------------------------------------------------------------------
    def get(self, argv: list[str]) -> int:
        """ipneigh_get."""
        dev_name: str | None = None
        dst: int | None = None
        dev_ok = False
        proxy = False
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "dev":
                dev_name = self.next_arg(argv, i)
                dev_ok = True
                i += 1
            elif _matches(a, "proxy"):
                v = self.next_arg(argv, i)
                if _matches(v, "help"):
                    raise self.usage()
                if dst is not None:
                    raise self.duparg("address", v)
                dst = self.get_addr(v)
                dev_ok = proxy = True
                i += 1
            else:
                if a == "to":
                    a = self.next_arg(argv, i)
                    i += 1
                if _matches(a, "help"):
                    raise self.usage()
                if dst is not None:
                    raise self.duparg2("to", a)
                dst = self.get_addr(a)
            i += 1
        if not dev_ok or dst is None:
            self.p("Device and address are required arguments.\n")
            return 1
        dev = None
        if dev_name is not None:
            dev = self.find_dev(dev_name)
            if dev is None:
                self.p(f'Cannot find device "{dev_name}"\n')
                return 1
        try:
            e = neigh_get(self.arp.tbl, dst, dev, proxy=proxy)
        except NeighError as err:
            self.rtnl_error(err)
            return 2
        if self.json:
            self.p(json.dumps([self._json(e, 0)], separators=(",", ":")) + "\n")
        else:
            self.p(format_neigh(e, stats=self.stats, filter_index=0))
        return 0


def format_neigh(e: NeighInfo, *, stats: int = 0, filter_index: int = 0) -> str:
    """print_neigh (iproute2 6.1, text mode) for one entry, newline included."""
    parts = [f"{ip_str(e.dst)} "]
    if not filter_index and e.ifindex:
        parts.append(f"dev {e.dev} ")
    if e.lladdr is not None:
        parts.append("lladdr " + ":".join(f"{b:02x}" for b in e.lladdr) + " ")
    if e.flags & NTF_ROUTER:
        parts.append("router ")
    if e.flags & NTF_PROXY:
        parts.append("proxy ")
    if e.flags & NTF_EXT_LEARNED:
        parts.append("extern_learn ")
    if stats and e.probes is not None:
        if e.refcnt:
            parts.append(f" ref {e.refcnt}")
        parts.append(f" used {e.used // _USER_HZ}/{e.confirmed // _USER_HZ}/"
                     f"{e.updated // _USER_HZ}")
        parts.append(f"probes {e.probes} ")
    for name, bit in _STATE_NAMES:
        if e.state & bit:
            parts.append(f"{name} ")
    if e.protocol:
        parts.append(f"proto {_RTPROT.get(e.protocol, str(e.protocol))} ")
    parts.append("\n")
    return "".join(parts)


def run(host: Host, argv: list[str], out: TextIO, opts: Any = None) -> int:
    """do_ipneigh: ``ip neigh [add|del|change|chg|replace|get|show|list|lst|flush]``."""
    cmd = _Cmd(host, out, opts)
    try:
        if not argv:
            return cmd.show_or_flush([], False)
        verb, rest = argv[0], argv[1:]
        if _matches(verb, "add"):
            return cmd.modify("add", rest)
        if _matches(verb, "change") or verb == "chg":
            return cmd.modify("change", rest)
        if _matches(verb, "replace"):
            return cmd.modify("replace", rest)
        if _matches(verb, "delete"):
            return cmd.modify("del", rest)
        if _matches(verb, "get"):
            return cmd.get(rest)
        if _matches(verb, "show") or _matches(verb, "lst") or _matches(verb, "list"):
            return cmd.show_or_flush(rest, False)
        if _matches(verb, "flush"):
            return cmd.show_or_flush(rest, True)
        if _matches(verb, "help"):
            raise cmd.usage()
        out.write(f'Command "{verb}" is unknown, try "ip neigh help".\n')
        return 255
    except _Exit as ex:
        return ex.code
