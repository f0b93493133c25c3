"""``tuxnet tc``: tc(8) qdisc commands with iproute2 6.1's grammar and output.

    tuxnet tc [-s] [-j|--json] qdisc [show|list|ls] [dev DEV] [root]
    tuxnet tc qdisc {add|replace|change|delete} dev DEV {root|parent ID} [handle H:]
                    KIND [OPTIONS]
    tuxnet tc [-force] -batch FILE      one command per line, same devices

KIND is pfifo_fast, pfifo, bfifo, fq, mq or noqueue; fq takes tc-fq(8)'s options
(limit, flow_limit, quantum, initial_quantum, maxrate, buckets, orphan_mask,
[no]pacing, refill_delay, low_rate_threshold, timer_slack, horizon,
horizon_drop|horizon_cap). Object and command names may be abbreviated as tc allows
("tc -s q sh"). User-space errors print tc's wording and exit 1; errors the kernel
would report print "Error: ..." and exit 2.

The devices come from :func:`tc_host`: the demonstration host of tuxnet.tools.demo
(every invocation is a fresh process; ``-batch`` runs several commands against the
same host). :func:`demo_host` is a small table of its own ("lo" with noqueue, "eth0"
with pfifo_fast) for tests.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet import __version__
from tuxnet.core.sched import (
    QDISC_KINDS,
    HandleAllocator,
    Mq,
    Qdisc,
    attach_default_qdiscs,
    format_tc_qdisc,
    qdisc_create,
)
from tuxnet.core.sched.tcformat import qdisc_json
from tuxnet.dropreason import SkbDropReason
from tuxnet.sim.units import parse_size
from tuxnet.skb import SkBuff

if TYPE_CHECKING:
    from tuxnet.core.netdevice import NetDevice
    from tuxnet.host import Host

__all__ = ["TcDevice", "TcHost", "demo_host", "main", "run_on_host", "tc_host"]

_USAGE = """\
Usage:	tc [ OPTIONS ] OBJECT { COMMAND | help }
	tc [-force] -batch filename
where  OBJECT := { qdisc }
       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -j[son] | -p[retty] |
                    -b[atch] [filename] }
"""
_QDISC_USAGE = """\
Usage: tc qdisc [ add | del | replace | change | show ] dev STRING
       [ handle QHANDLE ] [ root | parent CLASSID ]
       [ QDISC_KIND [ help | OPTIONS ] ]

       tc qdisc { show | list } [ dev STRING ] [ root ]
Where:
QDISC_KIND := { pfifo_fast | pfifo | bfifo | fq | mq | noqueue }
OPTIONS := ... try tc qdisc add <desired QDISC_KIND> help
"""
_FQ_USAGE = """\
Usage: ... fq	[ limit PACKETS ] [ flow_limit PACKETS ]
		[ quantum BYTES ] [ initial_quantum BYTES ]
		[ maxrate RATE  ] [ buckets NUMBER ]
		[ [no]pacing ] [ refill_delay TIME ]
		[ low_rate_threshold RATE ]
		[ orphan_mask MASK]
		[ timer_slack TIME]
		[ ce_threshold TIME ]
		[ horizon TIME ]
		[ horizon_{cap|drop} ]
"""
_FIFO_USAGE = "Usage: ... <[p|b]fifo | pfifo_head_drop> [ limit NUMBER ]\n"


class TcError(Exception):
    """A failed command: ``code`` 1 for tc's own parse errors, 2 for kernel errors."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TcDevice:
    """What tc needs of a net_device: its attributes and its root qdisc."""

    name: str
    ifindex: int
    num_tx_queues: int = 1
    txqueuelen: int = 1000
    mtu: int = 1500
    hard_header_len: int = 14
    no_queue: bool = False  # IFF_NO_QUEUE (loopback, veth)
    root: Qdisc | None = None

    def dev_params(self) -> dict[str, int]:
        """The device attributes a new qdisc reads (qdisc_dev(sch))."""
        return {"txqueuelen": self.txqueuelen, "mtu": self.mtu,
                "hard_header_len": self.hard_header_len, "num_tx_queues": self.num_tx_queues}


@dataclass
class TcHost:
    """The devices tc sees, the automatic handle counter and the freed-packet count."""

    devices: list[TcDevice]
    handles: HandleAllocator = field(default_factory=HandleAllocator)
    freed: Counter[str] = field(default_factory=Counter)

    def drop(self, skb: SkBuff, reason: SkbDropReason) -> None:
        """The qdiscs' drop callback (kfree_skb): counted by reason name."""
        self.freed[reason.name] += 1

    def device(self, name: str) -> TcDevice:
        """ll_name_to_index: the device called ``name``."""
        for dev in self.devices:
            if dev.name == name:
                return dev
        raise TcError(f'Cannot find device "{name}"')

    def attach_default(self, dev: TcDevice) -> None:
        """attach_default_qdiscs for ``dev``."""
        dev.root = attach_default_qdiscs(
            self.drop, num_tx_queues=dev.num_tx_queues, txqueuelen=dev.txqueuelen, mtu=dev.mtu,
            hard_header_len=dev.hard_header_len, no_queue=dev.no_queue)


def demo_host() -> TcHost:
    """A small default host: lo (noqueue, IFF_NO_QUEUE) and eth0 (pfifo_fast)."""
    host = TcHost([TcDevice("lo", 1, mtu=65536, no_queue=True), TcDevice("eth0", 2)])
    for dev in host.devices:
        host.attach_default(dev)
    return host


def _tc_device(dev: NetDevice) -> TcDevice:
    """tc's view of a tuxnet device, with the root qdisc the device has."""
    from tuxnet.core.netdevice import IFF_NO_QUEUE

    return TcDevice(dev.name, dev.ifindex, num_tx_queues=dev.real_num_tx_queues,
                    txqueuelen=dev.tx_queue_len, mtu=dev.mtu,
                    hard_header_len=dev.hard_header_len,
                    no_queue=bool(dev.priv_flags & IFF_NO_QUEUE), root=dev.qdisc)


def tc_host() -> TcHost:
    """The devices this command works on (the one place to point at real devices): the
    demonstration host's (tuxnet.tools.demo: lo, and eth0 with 4 TX queues under mq,
    after a short burst of traffic), each with the root qdisc the device has."""
    from tuxnet.tools.demo import demo_host as demo_netns

    table = TcHost([])
    _add_devices(table, demo_netns(traffic=True))
    return table


def _add_devices(table: TcHost, host: Host) -> list[tuple[NetDevice, TcDevice]]:
    """``host``'s net devices into ``table``, each with its root qdisc (the default one
    attached where it has none); returns the (device, tc view) pairs."""
    from tuxnet.core.netdevice import NetDevice

    devs: list[tuple[NetDevice, TcDevice]] = []
    for dev in host.devices.values():
        if not isinstance(dev, NetDevice):
            continue
        tc_dev = _tc_device(dev)
        if tc_dev.root is None:
            table.attach_default(tc_dev)
        table.devices.append(tc_dev)
        devs.append((dev, tc_dev))
    return devs


# --- argument helpers (iproute2 utils.c) --------------------------------------------------


def _matches(arg: str, word: str) -> bool:
    """matches(): ``arg`` is a non-empty prefix of ``word``."""
    return 0 < len(arg) <= len(word) and word.startswith(arg)


def _next(args: list[str], i: int) -> str:
    if i + 1 >= len(args):
        raise TcError("Command line is not complete. Try option \"help\"")
    return args[i + 1]


# --- kind option parsers (tc/q_*.c parse_qopt) --------------------------------------------

_FQ_VALUES = ("limit", "flow_limit", "quantum", "initial_quantum", "maxrate", "buckets",
              "orphan_mask", "refill_delay", "low_rate_threshold", "timer_slack", "horizon")


def _parse_fq(args: list[str]) -> dict[str, Any]:
    """q_fq.c fq_parse_opt."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a in _FQ_VALUES:
            value = _next(args, i)
            if a == "timer_slack" and value.isdigit():
                params[a] = int(value)  # get_time64: a bare number is nanoseconds
            elif a in ("maxrate", "low_rate_threshold") and value.isdigit():
                params[a] = value + "bit"
            else:
                params[a] = value
            i += 2
            continue
        if a == "defrate":
            _next(args, i)  # sch_fq 6.1 ignores TCA_FQ_FLOW_DEFAULT_RATE
            i += 2
            continue
        if a in ("pacing", "nopacing"):
            params["pacing"] = a == "pacing"
        elif a in ("horizon_drop", "horizon_cap"):
            params["horizon_drop"] = a == "horizon_drop"
        elif a == "help":
            raise TcError(_FQ_USAGE.rstrip("\n"))
        elif a == "ce_threshold":
            raise TcError("Error: sch_fq: ce_threshold is not modelled by tuxnet (#3).", 2)
        else:
            raise TcError(f'What is "{a}"?\n' + _FQ_USAGE.rstrip("\n"))
        i += 1
    return params


def _parse_fifo(kind: str, args: list[str]) -> dict[str, Any]:
    """q_fifo.c fifo_parse_opt."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "limit":
            value = _next(args, i)
            try:
                parse_size(value)
            except ValueError:
                raise TcError(f'{kind}: Illegal value for "limit": "{value}"') from None
            params["limit"] = value
            i += 2
            continue
        if a == "help":
            raise TcError(_FIFO_USAGE.rstrip("\n"))
        raise TcError(f'{kind}: unknown parameter "{a}"\n' + _FIFO_USAGE.rstrip("\n"))
    return params


def _parse_kind(kind: str, args: list[str]) -> dict[str, Any]:
    if kind == "fq":
        return _parse_fq(args)
    if kind in ("pfifo", "bfifo"):
        return _parse_fifo(kind, args)
    if args:
        if kind == "pfifo_fast":
            raise TcError(f"qdisc '{kind}' does not support option parsing")
        raise TcError(f'Unknown qdisc "{kind}", hence option "{args[0]}" is unparsable')
    return {}


# --- tc qdisc ------------------------------------------------------------------------


def _kernel(exc: ValueError) -> TcError:
    """A ValueError from the qdisc layer: tc's own wording, or the kernel's extack."""
    msg = str(exc)
    if msg.startswith("Illegal"):
        return TcError(msg)
    return TcError(f"Error: {msg.rstrip('.')}.", 2)


def _modify(host: TcHost, cmd: str, args: list[str]) -> None:
    """tc_qdisc_modify + the kernel's tc_modify_qdisc / tc_get_qdisc (delete)."""
    dev_name: str | None = None
    handle: str | None = None
    parent: str | None = None
    kind: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "dev":
            dev_name = _next(args, i)
            i += 2
        elif a == "handle":
            handle = _next(args, i)
            i += 2
        elif a == "root":
            if parent is not None:
                raise TcError('Error: either "parent" or "root" is duplicate')
            parent = "root"
            i += 1
        elif _matches(a, "parent"):
            if parent is not None:
                raise TcError('Error: either "parent" or "root" is duplicate')
            parent = _next(args, i)
            i += 2
        elif a in ("ingress", "clsact"):
            raise TcError(f"Error: {a} qdiscs are not modelled by tuxnet (#3).", 2)
        elif _matches(a, "help"):
            raise TcError(_QDISC_USAGE.rstrip("\n"))
        else:
            kind = a
            i += 1
            break
    kind_args = args[i:]
    if dev_name is None:
        raise TcError("RTNETLINK answers: No such device", 2)
    dev = host.device(dev_name)
    if parent is None:
        raise TcError("Error: Parent Qdisc doesn't exists.", 2)
    if kind is not None and kind not in QDISC_KINDS:
        if kind_args:
            raise TcError(f'Unknown qdisc "{kind}", hence option "{kind_args[0]}" is unparsable')
        raise TcError("Error: Specified qdisc kind is unknown.", 2)
    params = _parse_kind(kind, kind_args) if kind is not None else {}
    try:
        if cmd == "delete":
            _delete(host, dev, parent)
        else:
            _graft(host, dev, cmd, parent, handle, kind, params)
    except ValueError as exc:
        raise _kernel(exc) from None


def _slot(dev: TcDevice, parent: str) -> tuple[Qdisc | None, Mq | None, int]:
    """The qdisc at ``parent``: (current, the mq holding it or None, its TX queue)."""
    if parent == "root":
        return dev.root, None, 0
    root = dev.root
    major_s, _, minor_s = parent.partition(":")
    try:
        major = int(major_s, 16) if major_s else 0
        minor = int(minor_s, 16) if minor_s else 0
    except ValueError:
        raise TcError(f'Error: invalid parent ID "{parent}"') from None
    if (not isinstance(root, Mq) or major != int(root.handle[:-1], 16)
            or not 1 <= minor <= len(root.children)):
        raise TcError("Error: Failed to find qdisc with specified classid.", 2)
    return root.children[minor - 1], root, minor - 1


def _graft(host: TcHost, dev: TcDevice, cmd: str, parent: str, handle: str | None,
           kind: str | None, params: dict[str, Any]) -> None:
    """tc_modify_qdisc: change in place, or create and graft (qdisc_graft)."""
    old, mq, txq = _slot(dev, parent)
    q = old if old is not None and old.handle != "0:" else None  # default: ignore it
    if q is not None:
        if handle is not None and handle != q.handle:
            if cmd != "replace":
                raise TcError("Error: NLM_F_REPLACE needed to override.", 2)
        elif cmd == "replace" and kind is not None and kind != q.kind:
            pass  # NLM_F_CREATE|NLM_F_REPLACE with another kind: create and graft
        elif cmd == "add":
            raise TcError("Error: Exclusivity flag on, cannot modify.", 2)
        elif kind is not None and kind != q.kind:
            raise TcError("Error: Invalid qdisc name.", 2)
        else:
            q.change(**params)
            return
    if cmd == "change" or kind is None:
        raise TcError("Error: Qdisc not found. To create specify NLM_F_CREATE flag.", 2)
    in_use = {q.handle for q in _all_qdiscs(dev)}
    new_handle = handle if handle is not None else host.handles.alloc(in_use)
    dev_params = dev.dev_params()
    if mq is not None:
        new = qdisc_create(kind, host.drop, handle=new_handle, parent=mq.children[txq].parent,
                           **{**dev_params, "num_tx_queues": 1}, **params)
        mq.graft(txq, new)
        return
    refcnt = 1 if kind == "mq" else dev.num_tx_queues + 1
    new = qdisc_create(kind, host.drop, handle=new_handle, refcnt=refcnt, **dev_params,
                       **params)
    if old is not None:
        old.reset()
    dev.root = new


def _delete(host: TcHost, dev: TcDevice, parent: str) -> None:
    """tc_get_qdisc(RTM_DELQDISC): back to the default qdisc."""
    old, mq, txq = _slot(dev, parent)
    if old is None or old.handle == "0:":
        raise TcError("Error: Cannot delete qdisc with handle of zero.", 2)
    if mq is not None:
        default = qdisc_create("pfifo_fast", host.drop, parent=old.parent,
                               **{**dev.dev_params(), "num_tx_queues": 1})
        mq.graft(txq, default)
        return
    old.reset()
    host.attach_default(dev)


def _all_qdiscs(dev: TcDevice) -> list[Qdisc]:
    root = dev.root
    if root is None:
        return []
    return [root, *getattr(root, "children", [])]


def _show(host: TcHost, args: list[str], stats: bool, as_json: bool) -> str:
    """tc_qdisc_list."""
    dev_name: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "dev":
            dev_name = _next(args, i)
            i += 2
        elif a == "root":
            i += 1
        elif _matches(a, "help"):
            raise TcError(_QDISC_USAGE.rstrip("\n"))
        else:
            raise TcError(f'What is "{a}"? Try "tc qdisc help".')
    devices = [host.device(dev_name)] if dev_name is not None else host.devices
    roots = [(d, [d.root] if d.root is not None else []) for d in devices]
    if as_json:
        objs: list[dict[str, Any]] = []
        for d, qs in roots:
            objs.extend(qdisc_json(d.name, qs, stats))
        return json.dumps(objs) + "\n"
    return "".join(format_tc_qdisc(d.name, qs, stats, show_dev=dev_name is None)
                   for d, qs in roots)


def _qdisc(host: TcHost, args: list[str], stats: bool, as_json: bool) -> str:
    """do_qdisc."""
    if not args:
        return _show(host, [], stats, as_json)
    cmd, rest = args[0], args[1:]
    if _matches(cmd, "add"):
        _modify(host, "add", rest)
    elif _matches(cmd, "change"):
        _modify(host, "change", rest)
    elif _matches(cmd, "replace"):
        _modify(host, "replace", rest)
    elif _matches(cmd, "delete"):
        _modify(host, "delete", rest)
    elif _matches(cmd, "list") or _matches(cmd, "show") or _matches(cmd, "lst"):
        return _show(host, rest, stats, as_json)
    elif _matches(cmd, "help"):
        return _QDISC_USAGE
    else:
        raise TcError(f'Command "{cmd}" is unknown, try "tc qdisc help".')
    return ""


def _do_cmd(host: TcHost, args: list[str], stats: bool, as_json: bool) -> str:
    """do_cmd: dispatch on the object."""
    if not args:
        raise TcError(_USAGE.rstrip("\n"))
    obj, rest = args[0], args[1:]
    if _matches(obj, "qdisc"):
        return _qdisc(host, rest, stats, as_json)
    if _matches(obj, "help"):
        return _USAGE
    if obj in ("class", "filter", "chain", "actions", "monitor", "exec"):
        raise TcError(f'Object "{obj}" is not modelled by tuxnet yet (#3).')
    raise TcError(f'Object "{obj}" is unknown, try "tc help".')


def _run_batch(host: TcHost, path: str, force: bool, stats: bool, as_json: bool) -> int:
    """do_batch: one command per line; stop at the first failure unless -force."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        print(f'Cannot open file "{path}" for reading: {exc.strerror}', file=sys.stderr)
        return 1
    rc = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        try:
            sys.stdout.write(_do_cmd(host, argv, stats, as_json))
        except TcError as exc:
            print(str(exc), file=sys.stderr)
            print(f"Command failed {path}:{lineno}", file=sys.stderr)
            rc = 1
            if not force:
                break
    return rc


@dataclass
class _NetnsTcHost(TcHost):
    """A TcHost over a tuxnet host's own devices: qdiscs drop with kfree_skb."""

    netns: Any = None

    def drop(self, skb: SkBuff, reason: SkbDropReason) -> None:
        """qdisc_drop -> kfree_skb on the host (its drop reasons and tracepoint)."""
        self.freed[reason.name] += 1
        self.netns.kfree_skb(skb, reason, "qdisc_drop")


def run_on_host(host: Host, argv: list[str], out: TextIO) -> int:
    """``tc qdisc ...`` against a tuxnet host: a new root qdisc is grafted onto the
    device, so packets the stack sends go through it (dev_queue_xmit). Errors go to
    ``out`` with tc's exit codes."""
    table = _NetnsTcHost([], netns=host)
    devs = _add_devices(table, host)
    try:
        out.write(_do_cmd(table, argv, False, False))
    except TcError as exc:
        out.write(f"{exc}\n")
        return exc.code
    finally:
        for dev, tc_dev in devs:
            if tc_dev.root is not dev.qdisc:
                dev.qdisc = tc_dev.root  # dev_graft_qdisc
    return 0


def main(argv: list[str], prog: str = "tuxnet tc") -> int:
    """tc's main(): global options, then one command (or a batch file)."""
    args = list(argv)
    stats = as_json = force = False
    batch: str | None = None
    while args and args[0].startswith("-") and args[0] != "-":
        opt = args.pop(0)
        if opt.startswith("--"):
            opt = opt[1:]
        if _matches(opt, "-stats") or _matches(opt, "-statistics"):
            stats = True
        elif _matches(opt, "-json"):
            as_json = True
        elif (_matches(opt, "-details") or _matches(opt, "-pretty")
              or _matches(opt, "-iec") or _matches(opt, "-raw")):
            pass  # accepted; nothing here prints differently
        elif _matches(opt, "-force"):
            force = True
        elif _matches(opt, "-batch"):
            if not args:
                print("Wrong number of arguments in batch mode", file=sys.stderr)
                return 1
            batch = args.pop(0)
        elif _matches(opt, "-Version"):
            print(f"tc utility, {prog} {__version__} (iproute2 6.1 grammar)")
            return 0
        elif _matches(opt, "-help"):
            sys.stdout.write(_USAGE)
            return 0
        else:
            print(f'Option "{opt}" is unknown, try "tc -help".', file=sys.stderr)
            return 1
    host = tc_host()
    if batch is not None:
        return _run_batch(host, batch, force, stats, as_json)
    try:
        sys.stdout.write(_do_cmd(host, args, stats, as_json))
    except TcError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    return 0
