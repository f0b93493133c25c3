"""``tuxnet ethtool``: ethtool 6.1's grammar, output and errors over a tuxnet host.

    tuxnet ethtool DEV                      settings (link modes, speed, link detected)
    tuxnet ethtool -i DEV                   driver information
    tuxnet ethtool -g DEV | -G DEV [rx N] [rx-mini N] [rx-jumbo N] [tx N]
    tuxnet ethtool -k DEV | -K DEV FEATURE on|off ...
    tuxnet ethtool -S DEV                   driver statistics
    tuxnet ethtool -c DEV | -C DEV [rx-usecs N] [rx-frames N] [tx-usecs N] ...
    tuxnet ethtool -l DEV | -L DEV [rx N] [tx N] [other N] [combined N]
    tuxnet ethtool -x DEV | -X DEV [equal N | weight W0 W1 ... | default] [start N]
                                   [hkey XX:XX:...] [hfunc FUNC]

``run(host, argv, out, err)`` runs one command line against ``host`` (what ethtool
prints on stdout goes to ``out``, its error messages to ``err``) and returns ethtool's
exit code; ``main`` runs it on the demonstration host. ethtool 6.1 talks netlink for
settings, features, rings, channels and coalescing (errors read ``netlink error: ...``,
with the kernel's extack message and attribute offset where Linux gives one) and the
ioctl interface for -i, -S, -x and -X (errors read ``Cannot ...: <strerror>``).
``--json`` works with no command here: in 6.1 only -k (and commands tuxnet does not
model) take it; -k --json is not modelled yet (#3).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TextIO

from tuxnet.core.netcore import set_rss_indir_default
from tuxnet.core.netdevice import Coalesce, NetDevice
from tuxnet.tools.ethtool_fmt import (
    FEATURE_STRINGS,
    LEGACY_FLAGS,
    RSS_HASH_FUNCS,
    feature_states,
    flag_pattern_match,
    format_channels,
    format_coalesce,
    format_drvinfo,
    format_features,
    format_rings,
    format_rxfh,
    format_settings,
    format_stats,
)

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["EthtoolError", "main", "run"]

ETHTOOL_VERSION = "6.1"
_BAD_ARGS = "ethtool: bad command line argument(s)\nFor more information run ethtool -h"
_INT_MAX = 0x7FFFFFFF
_U32_MAX = 0xFFFFFFFF


class EthtoolError(Exception):
    """ethtool gives up: ``message`` (may be empty) goes to stderr, exit code ``rc``."""

    def __init__(self, message: str, rc: int) -> None:
        super().__init__(message)
        self.rc = rc


def _bad_args() -> EthtoolError:
    """ethtool.c exit_bad_args()."""
    return EthtoolError(_BAD_ARGS, 1)


def _strerror(err: int) -> str:
    return os.strerror(err)


def _nl_error(err: int, rc: int, extack: str = "", offset: int | None = None) -> EthtoolError:
    """netlink/nlsock.c nlsock_process_ack: the extack line (with the offending
    attribute's offset) then the errno line."""
    lines = []
    if extack:
        lines.append(f"netlink error: {extack}" + (f" (offset {offset})" if offset else ""))
    lines.append(f"netlink error: {_strerror(err)}")
    return EthtoolError("\n".join(lines), rc)


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _header_len(devname: str, flags: bool) -> int:
    """ETHTOOL_A_*_HEADER nest: the device name attribute, plus ETHTOOL_A_HEADER_FLAGS
    when the request sets flags (compact bitsets)."""
    return 4 + _align4(4 + len(devname) + 1) + (8 if flags else 0)


# struct nlmsghdr (16) + struct genlmsghdr (4): where the first attribute starts
_NLMSG_GENL_HDR = 20


@dataclass
class _Ctx:
    host: Host
    devname: str
    args: list[str]
    out: TextIO


def _no_device(rc: int) -> EthtoolError:
    """The kernel's ethnl_parse_header_dev_get for an unknown name."""
    return _nl_error(errno.ENODEV, rc, "no device matches name", _NLMSG_GENL_HDR + 4)


def _dev(ctx: _Ctx, rc: int = 1, ioctl: str = "") -> NetDevice:
    """The device called ``ctx.devname``: a netlink ENODEV (exit ``rc``), or for ioctl
    commands ``ioctl: No such device``."""
    dev = ctx.host.devices.get(ctx.devname)
    if isinstance(dev, NetDevice):
        return dev
    if ioctl:
        raise EthtoolError(f"{ioctl}: {_strerror(errno.ENODEV)}", rc)
    raise _no_device(rc)


def _no_args(ctx: _Ctx) -> None:
    if ctx.args:
        raise _bad_args()


def _os_err(exc: OSError) -> int:
    return exc.errno if exc.errno else errno.EINVAL


# -- get commands ----------------------------------------------------------------------

def _gset(ctx: _Ctx) -> int:
    _no_args(ctx)
    ctx.out.write(format_settings(_dev(ctx)))
    return 0


# drivers without get_drvinfo nor rtnl_link_ops: ethtool_get_drvinfo gives EOPNOTSUPP
_NO_DRVINFO = frozenset({"loopback"})


def _gdrv(ctx: _Ctx) -> int:
    _no_args(ctx)
    what = "Cannot get driver information"
    dev = _dev(ctx, 71, what)
    if type(dev).driver_name in _NO_DRVINFO:
        raise EthtoolError(f"{what}: {_strerror(errno.EOPNOTSUPP)}", 71)
    ctx.out.write(format_drvinfo(dev.get_drvinfo()))
    return 0


def _gring(ctx: _Ctx) -> int:
    _no_args(ctx)
    dev = _dev(ctx)
    try:
        rp = dev.get_ringparam()
    except OSError as exc:
        raise _nl_error(_os_err(exc), 1) from None
    ctx.out.write(format_rings(dev.name, rp))
    return 0


def _gfeatures(ctx: _Ctx) -> int:
    _no_args(ctx)
    ctx.out.write(format_features(_dev(ctx)))
    return 0


def _gstats(ctx: _Ctx) -> int:
    _no_args(ctx)
    dev = _dev(ctx, 96, "Cannot get stats strings information")
    try:
        stats = dev.get_ethtool_stats()
    except OSError:
        stats = []
    if not stats:
        raise EthtoolError("no stats available", 94)
    ctx.out.write(format_stats(stats))
    return 0


def _coalesce_supported(dev: NetDevice) -> frozenset[str]:
    """ethtool_ops.supported_coalesce_params as Coalesce field names (a driver may set
    ``supported_coalesce_params``; by default every modelled field)."""
    own = getattr(dev, "supported_coalesce_params", None)
    if isinstance(own, (set, frozenset, list, tuple)):
        return frozenset(str(x) for x in own)
    return frozenset(f.name for f in fields(Coalesce))


def _gcoalesce(ctx: _Ctx) -> int:
    _no_args(ctx)
    dev = _dev(ctx)
    try:
        c = dev.get_coalesce()
    except OSError as exc:
        raise _nl_error(_os_err(exc), 1) from None
    ctx.out.write(format_coalesce(dev.name, c, _coalesce_supported(dev)))
    return 0


def _gchannels(ctx: _Ctx) -> int:
    _no_args(ctx)
    dev = _dev(ctx)
    try:
        ch = dev.get_channels()
    except OSError as exc:
        raise _nl_error(_os_err(exc), 1) from None
    ctx.out.write(format_channels(dev.name, ch))
    return 0


# -- set commands: netlink parameters (netlink/parser.c) --------------------------------

@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "u32" | "bool"


def _parse_params(cmd: str, args: Sequence[str], table: Sequence[_Param]
                  ) -> list[tuple[_Param, int]]:
    """nl_parser: ``name value`` pairs, in command-line order; parser errors exit 1."""
    known = {p.name: p for p in table}
    seen: set[str] = set()
    out: list[tuple[_Param, int]] = []
    i = 0
    while i < len(args):
        name = args[i]
        p = known.get(name)
        if p is None:
            raise EthtoolError(f"ethtool ({cmd}): unknown parameter '{name}'", 1)
        if name in seen:
            raise EthtoolError(f"ethtool ({cmd}): duplicate parameter '{name}'", 1)
        if i + 1 >= len(args):
            raise EthtoolError(f"ethtool ({cmd}): no value for parameter '{name}'", 1)
        raw = args[i + 1]
        value = _parse_bool(raw) if p.kind == "bool" else _parse_u32(raw)
        if value is None:
            raise EthtoolError(
                f"ethtool ({cmd}): invalid value '{raw}' for parameter '{name}'", 1)
        seen.add(name)
        out.append((p, value))
        i += 2
    return out


def _parse_u32(text: str) -> int | None:
    """netlink/parser.c parse_u32: decimal, or hex after 0x; nothing else."""
    try:
        if text[:2] in ("0x", "0X"):
            value = int(text[2:], 16) if text[2:] and text[2:].isalnum() else -1
        else:
            value = int(text, 10) if text.isdigit() else -1
    except ValueError:
        return None
    return value if 0 <= value <= _U32_MAX else None


def _parse_bool(text: str) -> int | None:
    return {"on": 1, "off": 0}.get(text)


def _attr_offset(devname: str, index: int, *, flags: bool = False) -> int:
    """Where the ``index``-th parameter attribute (8 bytes each) sits in the request."""
    return _NLMSG_GENL_HDR + _header_len(devname, flags) + 8 * index


_RING_PARAMS = (_Param("rx", "u32"), _Param("rx-mini", "u32"), _Param("rx-jumbo", "u32"),
                _Param("tx", "u32"), _Param("rx-buf-len", "u32"), _Param("cqe-size", "u32"),
                _Param("tx-push", "bool"))
_RING_UNSUPPORTED = {"rx-buf-len": "setting rx buf len not supported",
                     "cqe-size": "setting cqe size not supported",
                     "tx-push": "setting tx push not supported"}


def _sring(ctx: _Ctx) -> int:
    """-G (netlink/rings.c nl_sring; net/ethtool/rings.c ethnl_set_rings)."""
    rc = 81
    params = _parse_params("-G", ctx.args, _RING_PARAMS)
    dev = _dev(ctx, rc)
    try:
        cur = dev.get_ringparam()
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    pos = {p.name: k for k, (p, _) in enumerate(params)}
    want = {p.name: v for p, v in params}
    for name, msg in _RING_UNSUPPORTED.items():
        if name in want:  # the driver does not declare these (supported_ring_params)
            raise _nl_error(errno.EOPNOTSUPP, rc, msg, _attr_offset(dev.name, pos[name]))
    # ethnl_set_rings: within the pre-set maximums, checked in this order
    for name, mx in (("rx", cur.rx_max_pending), ("rx-mini", cur.rx_mini_max_pending),
                     ("rx-jumbo", cur.rx_jumbo_max_pending), ("tx", cur.tx_max_pending)):
        if name in want and want[name] > mx:
            raise _nl_error(errno.EINVAL, rc, "requested ring size exceeds maximum",
                            _attr_offset(dev.name, pos[name]))
    changed = {k: v for k, v in want.items()
               if v != getattr(cur, {"rx": "rx_pending", "rx-mini": "rx_mini_pending",
                                     "rx-jumbo": "rx_jumbo_pending",
                                     "tx": "tx_pending"}[k])}
    if not changed:
        return 0  # nothing modified: the driver is not called
    try:
        dev.set_ringparam(rx=want.get("rx"), rx_mini=want.get("rx-mini"),
                          rx_jumbo=want.get("rx-jumbo"), tx=want.get("tx"))
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    return 0


# ethtool 6.1 -C parameters, in ETHTOOL_A_COALESCE_* attribute order (the kernel
# reports the first unsupported one in this order), with the Coalesce field modelled
_COALESCE_PARAMS: tuple[tuple[str, str, str | None], ...] = (
    ("rx-usecs", "u32", "rx_usecs"), ("rx-frames", "u32", "rx_max_frames"),
    ("rx-usecs-irq", "u32", None), ("rx-frames-irq", "u32", None),
    ("tx-usecs", "u32", "tx_usecs"), ("tx-frames", "u32", "tx_max_frames"),
    ("tx-usecs-irq", "u32", None), ("tx-frames-irq", "u32", None),
    ("stats-block-usecs", "u32", None), ("adaptive-rx", "bool", "use_adaptive_rx"),
    ("adaptive-tx", "bool", "use_adaptive_tx"), ("pkt-rate-low", "u32", None),
    ("rx-usecs-low", "u32", None), ("rx-frames-low", "u32", None),
    ("tx-usecs-low", "u32", None), ("tx-frames-low", "u32", None),
    ("pkt-rate-high", "u32", None), ("rx-usecs-high", "u32", None),
    ("rx-frames-high", "u32", None), ("tx-usecs-high", "u32", None),
    ("tx-frames-high", "u32", None), ("sample-interval", "u32", None),
    ("cqe-mode-tx", "bool", None), ("cqe-mode-rx", "bool", None),
)


def _scoalesce(ctx: _Ctx) -> int:
    """-C (netlink/coalesce.c nl_scoalesce; net/ethtool/coalesce.c
    ethnl_set_coalesce)."""
    rc = 1
    table = [_Param(name, kind) for name, kind, _ in _COALESCE_PARAMS]
    params = _parse_params("-C", ctx.args, table)
    dev = _dev(ctx, rc)
    try:
        cur = dev.get_coalesce()
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    supported = _coalesce_supported(dev)
    pos = {p.name: k for k, (p, _) in enumerate(params)}
    want = {p.name: v for p, v in params}
    for name, _, field in _COALESCE_PARAMS:
        if name in want and (field is None or field not in supported):
            raise _nl_error(errno.EINVAL, rc, "cannot modify an unsupported parameter",
                            _attr_offset(dev.name, pos[name]))
    changes: dict[str, int | bool] = {}
    for name, kind, field in _COALESCE_PARAMS:
        if name in want and field is not None:
            value: int | bool = bool(want[name]) if kind == "bool" else want[name]
            if getattr(cur, field) != value:
                changes[field] = value
    if not changes:
        return 0
    try:
        dev.set_coalesce(**changes)
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    return 0


_CHANNEL_PARAMS = (_Param("rx", "u32"), _Param("tx", "u32"), _Param("other", "u32"),
                   _Param("combined", "u32"))


def _schannels(ctx: _Ctx) -> int:
    """-L (netlink/channels.c nl_schannels; net/ethtool/channels.c
    ethnl_set_channels)."""
    rc = 1
    params = _parse_params("-L", ctx.args, _CHANNEL_PARAMS)
    dev = _dev(ctx, rc)
    try:
        cur = dev.get_channels()
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    pos = {p.name: k for k, (p, _) in enumerate(params)}
    want = {p.name: v for p, v in params}
    rx = want.get("rx", cur.rx_count)
    tx = want.get("tx", cur.tx_count)
    other = want.get("other", cur.other_count)
    comb = want.get("combined", cur.combined_count)
    if (rx, tx, other, comb) == (cur.rx_count, cur.tx_count, cur.other_count,
                                 cur.combined_count):
        return 0

    def at(name: str) -> int | None:
        return _attr_offset(dev.name, pos[name]) if name in pos else None

    for name, val, mx in (("rx", rx, cur.max_rx), ("tx", tx, cur.max_tx),
                          ("other", other, cur.max_other), ("combined", comb, cur.max_combined)):
        if val > mx:
            raise _nl_error(errno.EINVAL, rc, "requested channel count exceeds maximum",
                            at(name))
    if not comb and (not rx or not tx):
        name = "combined" if "combined" in pos else ("rx" if not rx else "tx")
        raise _nl_error(errno.EINVAL, rc, "requested channel counts would result in no RX "
                        "or TX channel being configured", at(name))
    if dev.rss_indir_user and dev.rss_indir and comb + rx <= max(dev.rss_indir):
        raise _nl_error(errno.EINVAL, rc, "requested channel counts are too low for "
                        "existing indirection table settings")
    try:
        dev.set_channels(rx=want.get("rx"), tx=want.get("tx"), combined=want.get("combined"))
    except OSError as exc:
        raise _nl_error(_os_err(exc), rc) from None
    return 0


# -- -K (netlink/features.c nl_sfeatures; net/ethtool/features.c ethnl_set_features) ----

def _sfeatures(ctx: _Ctx) -> int:
    rc = 92
    names = [n for n in FEATURE_STRINGS if n]
    bits: list[tuple[str, bool]] = []  # the WANTED bitset's bits, in message order
    args = ctx.args
    i = 0
    while i < len(args):
        if args[i] == "--":
            break
        if i + 1 >= len(args) or args[i + 1] not in ("on", "off"):
            flag = args[i + 1] if i + 1 < len(args) else "(null)"
            raise EthtoolError(f"ethtool (-K): flag '{flag}' for parameter '(null)' is not "
                               "followed by 'on' or 'off'", 1)
        val = args[i + 1] == "on"
        legacy = [pattern for short, long_name, pattern in LEGACY_FLAGS
                  if args[i] in (short, long_name)]
        if legacy:
            bits += [(n, val) for n in names if flag_pattern_match(n, legacy[0])]
        else:
            bits.append((args[i], val))
        i += 2
    dev = _dev(ctx, rc)
    states = feature_states(dev)
    offset = _NLMSG_GENL_HDR + _header_len(dev.name, True) + 8  # WANTED + BITS nests
    for name, val in bits:
        if name not in states:  # ethnl_parse_bit
            raise _nl_error(errno.EOPNOTSUPP, rc, "bit name not found", offset + 4)
        offset += 4 + _align4(4 + len(name) + 1) + (4 if val else 0)
    req = dict(bits)
    changes = {n: v for n, v in req.items()
               if states[n].hw and not states[n].nochange and states[n].active != v}
    if changes:
        try:
            dev.set_features(changes)
        except (OSError, ValueError) as exc:
            err = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EINVAL
            raise _nl_error(err, rc) from None
    new = feature_states(dev)
    wanted_diff = {n for n, v in req.items() if new[n].active != v}
    active_diff = {n for n in names if new[n].active != states[n].active}
    if wanted_diff or active_diff - req.keys():
        lines = ["Actual changes:\n"]
        for n in names:
            if n in wanted_diff:
                lines.append(f"{n}: {'off' if req[n] else 'on'} "
                             f"[requested {'on' if req[n] else 'off'}]\n")
            elif n in active_diff:
                state = "on" if new[n].active else "off"
                lines.append(f"{n}: {state} [not requested]\n" if n not in req
                             else f"{n}: {state}\n")
        ctx.out.write("".join(lines))
    if wanted_diff == req.keys():
        raise EthtoolError("Could not change any device features", 1)
    return 0


# -- -x / -X (ethtool.c do_grxfh / do_srxfh, ioctl) --------------------------------------

def _rxfh_dev(ctx: _Ctx, what: str) -> NetDevice:
    """ETHTOOL_GRXRINGS: devices without get_rxnfc (veth, lo) say EOPNOTSUPP."""
    dev = _dev(ctx, 1, what)
    if not hasattr(dev, "set_rss_indir"):
        raise EthtoolError(f"{what}: {_strerror(errno.EOPNOTSUPP)}", 1)
    return dev


def _grxfh(ctx: _Ctx) -> int:
    args = ctx.args
    context = 0
    i = 0
    while i < len(args):
        if args[i] != "context":
            raise _bad_args()
        context = _int_range(args[i + 1] if i + 1 < len(args) else None, 1, 0xFFFFFFFE)
        i += 2
    dev = _rxfh_dev(ctx, "Cannot get RX ring count")
    if context:  # no additional RSS contexts (cap_rss_ctx_supported)
        raise EthtoolError("Cannot get RX flow hash indir size and/or key size: "
                           f"{_strerror(errno.EOPNOTSUPP)}", 1)
    ctx.out.write(format_rxfh(dev.name, dev.real_num_rx_queues, dev.rss_indir,
                              dev.rss_key, 1))  # ETH_RSS_HASH_TOP: Toeplitz only
    return 0


def _int_range(text: str | None, lo: int, hi: int) -> int:
    """ethtool.c get_int_range: a base-0 integer in [lo, hi], else bad arguments."""
    if text is None:
        raise _bad_args()
    try:
        value = int(text, 0)
    except ValueError:
        raise _bad_args() from None
    if not lo <= value <= hi:
        raise _bad_args()
    return value


@dataclass
class _Srxfh:
    equal: int = 0
    start: int = 0
    weights: list[str] | None = None
    key: str | None = None
    default: bool = False
    hfunc: str | None = None
    context: int = 0
    delete: bool = False


def _parse_srxfh(args: list[str]) -> _Srxfh:
    """do_srxfh's argument loop."""
    if not args:
        raise _bad_args()
    o = _Srxfh()
    i = 0

    def nxt() -> str | None:
        return args[i + 1] if i + 1 < len(args) else None

    while i < len(args):
        a = args[i]
        if a == "equal":
            o.equal = _int_range(nxt(), 1, _INT_MAX)
            i += 2
        elif a == "start":
            o.start = _int_range(nxt(), 0, _INT_MAX)
            i += 2
        elif a == "weight":
            i += 1
            o.weights = []
            while i < len(args) and args[i][:1].isdigit():
                o.weights.append(args[i])
                i += 1
            if not o.weights:
                raise _bad_args()
        elif a in ("hkey", "hfunc"):
            value = nxt()
            if value is None:
                raise _bad_args()
            if a == "hkey":
                o.key = value
            else:
                o.hfunc = value
            i += 2
        elif a == "default":
            o.default = True
            i += 1
        elif a == "context":
            value = nxt()
            o.context = 0xFFFFFFFF if value == "new" else _int_range(value, 1, 0xFFFFFFFE)
            i += 2
        elif a == "delete":
            o.delete = True
            i += 1
        else:
            raise _bad_args()
    return o


_SRXFH_EXCLUSIVE = (
    ("equal", "weights", "Equal and weight options are mutually exclusive"),
    ("equal", "default", "Equal and default options are mutually exclusive"),
    ("weights", "default", "Weight and default options are mutually exclusive"),
    ("start", "default", "Start and default options are mutually exclusive"),
)


def _check_srxfh(o: _Srxfh) -> None:
    for a, b, msg in _SRXFH_EXCLUSIVE:
        if getattr(o, a) and getattr(o, b):
            raise EthtoolError(msg, 1)
    if o.start and not (o.equal or o.weights):
        raise EthtoolError("Start must be used with equal or weight options", 1)
    if o.default and o.context:
        raise EthtoolError("Default and context options are mutually exclusive", 1)
    if o.delete:
        if not o.context:
            raise EthtoolError("Delete option requires context option", 1)
        for attr, word in (("weights", "weight"), ("equal", "equal"), ("default", "default"),
                           ("key", "hkey")):
            if getattr(o, attr):
                raise EthtoolError(f"Delete and {word} options are mutually exclusive", 1)


def _parse_hkey(text: str, size: int) -> bytes:
    """ethtool.c parse_hkey / convert_string_to_hashkey."""
    if not size:
        raise EthtoolError("Cannot set RX flow hash configuration:\n"
                           " Hash key setting not supported", 1)
    out = bytearray()
    rest = text
    while True:
        if len(out) > size - 1:
            raise EthtoolError(f"Key is too long for device ({len(out) + 1} > {size})", 2)
        pair = rest[:2]
        if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
            raise EthtoolError("Invalid RSS hash key format", 2)
        out.append(int(pair, 16))
        rest = rest[2:]
        if rest.startswith(":"):
            rest = rest[1:]
        elif rest:
            raise EthtoolError("Invalid RSS hash key format", 2)
        if not rest:
            break
    if len(out) != size:
        raise EthtoolError(f"Key is too short for device ({len(out)} < {size})", 2)
    return bytes(out)


def fill_indir_table(size: int, start: int, equal: int, weights: Sequence[int]) -> list[int]:
    """ethtool.c fill_indir_table: ``equal N`` spreads entries round robin over rings
    start..start+N-1; ``weight W0 W1 ...`` gives ring start+j a share of the table
    proportional to Wj (ValueError with ethtool's message when the weights do not
    fit)."""
    if equal:
        return [start + i % equal for i in range(size)]
    total = sum(weights)
    if total == 0:
        raise ValueError("At least one weight must be non-zero")
    if total > size:
        raise ValueError("Total weight exceeds the size of the indirection table")
    table: list[int] = []
    j = -1
    partial = 0
    for i in range(size):
        while i >= size * partial // total:
            j += 1
            partial += weights[j]
        table.append(start + j)
    return table


def _srxfh(ctx: _Ctx) -> int:
    o = _parse_srxfh(ctx.args)
    _check_srxfh(o)
    dev = _rxfh_dev(ctx, "Cannot get RX ring count")
    rings = dev.real_num_rx_queues
    key = _parse_hkey(o.key, len(dev.rss_key)) if o.key is not None else None
    if o.hfunc is not None and o.hfunc not in RSS_HASH_FUNCS:
        raise EthtoolError(f"Unknown hash function: {o.hfunc}", 1)
    table: list[int] | None = None
    if o.equal or o.weights:
        weights = [_parse_u32(w) or 0 for w in (o.weights or [])]
        try:
            table = fill_indir_table(len(dev.rss_indir), o.start, o.equal, weights)
        except ValueError as exc:
            raise EthtoolError(str(exc), 1) from None
    what = "Cannot set RX flow hash configuration"
    # the kernel (ethtool_set_rxfh) and the driver: no extra contexts, Toeplitz only,
    # every entry below the ring count
    if o.context or (o.hfunc is not None and o.hfunc != RSS_HASH_FUNCS[0]):
        raise EthtoolError(f"{what}: {_strerror(errno.EOPNOTSUPP)}", 1)
    if table is not None and any(q >= rings for q in table):
        raise EthtoolError(f"{what}: {_strerror(errno.EINVAL)}", 1)
    set_indir = getattr(dev, "set_rss_indir", None)
    if table is not None and callable(set_indir):
        set_indir(table)
    elif o.default:
        dev.rss_indir_user = False  # indir_size 0: back to ethtool_rxfh_indir_default
        set_rss_indir_default(dev, len(dev.rss_indir) or 128)
    if key is not None:
        setter = getattr(dev, "set_rss_key", None)
        if callable(setter):
            setter(key)
        else:
            dev.rss_key = key
            cache = getattr(dev, "_rss_cache", None)  # SimNic memoises hashes by input
            if isinstance(cache, dict):
                cache.clear()
    return 0


# -- dispatch ---------------------------------------------------------------------------

Handler = Callable[[_Ctx], int]
# (option spellings, handler); "" is the default (settings)
_COMMANDS: tuple[tuple[tuple[str, ...], Handler], ...] = (
    (("-i", "--driver"), _gdrv),
    (("-g", "--show-ring"), _gring),
    (("-G", "--set-ring"), _sring),
    (("-k", "--show-features", "--show-offload"), _gfeatures),
    (("-K", "--features", "--offload"), _sfeatures),
    (("-S", "--statistics"), _gstats),
    (("-c", "--show-coalesce"), _gcoalesce),
    (("-C", "--coalesce"), _scoalesce),
    (("-l", "--show-channels"), _gchannels),
    (("-L", "--set-channels"), _schannels),
    (("-x", "--show-rxfh-indir", "--show-rxfh"), _grxfh),
    (("-X", "--set-rxfh-indir", "--rxfh"), _srxfh),
)
# ethtool 6.1 options tuxnet does not model (yet)
_NOT_MODELLED = frozenset({
    "-s", "--change", "-a", "--show-pause", "-A", "--pause", "-d", "--register-dump",
    "-e", "--eeprom-dump", "-E", "--change-eeprom", "-r", "--negotiate", "-p",
    "--identify", "-t", "--test", "--phy-statistics", "-n", "-u", "--show-nfc",
    "--show-ntuple", "-N", "-U", "--config-nfc", "--config-ntuple", "-T",
    "--show-time-stamping", "-f", "--flash", "-P", "--show-permaddr", "-w", "--get-dump",
    "-W", "--set-dump", "--show-priv-flags", "--set-priv-flags", "-m",
    "--dump-module-eeprom", "--module-info", "--show-eee", "--set-eee",
    "--set-phy-tunable", "--get-phy-tunable", "--get-tunable", "--set-tunable", "--reset",
    "--show-fec", "--set-fec", "-Q", "--per-queue", "--cable-test", "--cable-test-tdr",
    "--show-tunnels", "--show-module", "--set-module", "--monitor",
})
_SHOW_FEATURES = ("-k", "--show-features", "--show-offload")


def _usage() -> str:
    lines = [f"ethtool version {ETHTOOL_VERSION}", "Usage:"]
    lines += [f"        ethtool [ FLAGS ] {'|'.join(opts)} DEVNAME" for opts, _ in _COMMANDS]
    lines += ["        ethtool [ FLAGS ] -h|--help ", "        ethtool [ FLAGS ] --version ",
              "", "FLAGS:", "\t--debug MASK\tturn on debugging messages",
              "\t--json\t\tenable JSON output format (not supported by all commands)",
              "\t-I|--include-statistics\t\trequest device statistics related to the "
              "command (not supported by all commands)"]
    return "\n".join(lines) + "\n"


def _dispatch(host: Host, argv: list[str], out: TextIO) -> int:
    """ethtool.c main(): global flags, the option, the device name."""
    args = list(argv)
    as_json = False
    while args and args[0] in ("--debug", "--json", "-I", "--include-statistics"):
        flag = args.pop(0)
        if flag == "--debug":
            if not args:
                raise _bad_args()
            args.pop(0)
        elif flag == "--json":
            as_json = True
    if not args:
        raise _bad_args()
    opt = args[0]
    if opt in ("-h", "--help"):
        out.write(_usage())
        return 0
    if opt == "--version":
        out.write(f"ethtool version {ETHTOOL_VERSION}\n")
        return 0
    handler: Handler | None = None
    for opts, fn in _COMMANDS:
        if opt in opts:
            handler = fn
    if handler is None and opt in _NOT_MODELLED:
        raise EthtoolError(f"ethtool {opt}: not modelled by tuxnet yet (#3)", 1)
    if handler is None:
        if opt.startswith("-"):
            raise _bad_args()
        handler = _gset
        rest = args
    else:
        rest = args[1:]
    if not rest:
        raise _bad_args()
    if as_json:
        if opt in _SHOW_FEATURES:
            raise EthtoolError("ethtool --json -k: not modelled by tuxnet yet (#3)", 1)
        raise _bad_args()  # 6.1: the command has no JSON output
    return handler(_Ctx(host, rest[0], rest[1:], out))


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None) -> int:
    """Run one ethtool command line against ``host``: output to ``out``, error
    messages to ``err`` (default ``out``); returns ethtool's exit code."""
    try:
        return _dispatch(host, argv, out)
    except EthtoolError as exc:
        msg = str(exc)
        if msg:
            (err if err is not None else out).write(msg + "\n")
        return exc.rc


def main(argv: list[str], prog: str = "tuxnet ethtool") -> int:
    """Entry point of ``tuxnet ethtool`` (on the demonstration host)."""
    from tuxnet.tools.demo import demo_host

    return run(demo_host(traffic=True), argv, sys.stdout, sys.stderr)
