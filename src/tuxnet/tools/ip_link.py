"""``ip link``: iproute2 6.1's grammar, output and errors for links over a tuxnet host
(ip/iplink.c, ip/ipaddress.c print_linkinfo and print_link_stats64).

    ip [-s [-s]] [-d] [-j] [-o] link [show|list|lst] [[dev] DEV] [up]
    ip link set [dev] DEV [up|down] [mtu N] [txqueuelen N] [address LLADDR]
                [promisc on|off] [allmulticast on|off] [multicast on|off] [arp on|off]

``run(host, argv, out, opts)`` is called by the ``ip`` dispatcher
(``tuxnet.tools.ip_cmd``). Errors go to ``out`` too, with ip's exit codes: 1 for an
unknown device, 2 for answers of the kernel (``Error: <extack>.`` /
``RTNETLINK answers: ...``), 255 for command-line errors. ``set ... xdp`` waits for
the eBPF layer (#6).
"""

from __future__ import annotations

import errno
import json
import os
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.core.dev import dev_close, dev_get_stats, dev_open
from tuxnet.core.netdevice import (
    IFF_ALLMULTI,
    IFF_LOOPBACK,
    IFF_MULTICAST,
    IFF_NO_QUEUE,
    IFF_NOARP,
    IFF_PROMISC,
    IFF_RUNNING,
    IFF_UP,
    NetDevice,
    RtnlLinkStats64,
)
from tuxnet.tools.ip_utils import ArgStream, IpError, duparg2, get_unsigned, invarg, matches

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.tools.ip_cmd import IpOptions

__all__ = ["format_link", "link_json", "run"]

# ip/ipaddress.c print_link_flags: names in print order
_IFF_NAMES = (
    (0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
    (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"),
    (0x800, "SLAVE"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"), (0x40000, "ECHO"),
)
# include/linux/netdevice.h: GSO_LEGACY_MAX_SIZE, GSO_MAX_SEGS, TSO_MAX_SIZE (what
# veth and loopback set with netif_set_tso_max_size), GRO_LEGACY_MAX_SIZE
GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535
TSO_LEGACY_MAX_SIZE = 65536
TSO_MAX_SIZE = 524280
GRO_LEGACY_MAX_SIZE = 65536
_BIG_TSO_DRIVERS = frozenset({"veth", "loopback"})
_USAGE = """\
Usage: ip link set { DEVICE | dev DEVICE } [ { up | down } ]
\t\t[ arp { on | off } ]
\t\t[ multicast { on | off } ]
\t\t[ allmulticast { on | off } ]
\t\t[ promisc { on | off } ]
\t\t[ txqueuelen PACKETS ]
\t\t[ address LLADDR ]
\t\t[ mtu MTU ]
       ip link show [ DEVICE ] [ up ]
       ip link help"""


def _devices(host: Host) -> list[NetDevice]:
    """for_each_netdev: registered devices in ifindex order."""
    devs = [d for d in host.devices.values() if isinstance(d, NetDevice)]
    return sorted(devs, key=lambda d: d.ifindex)


def _flag_names(dev: NetDevice) -> list[str]:
    """print_link_flags: NO-CARRIER for an up device without carrier, then the flag
    names (IFF_RUNNING is not shown), unknown bits in hex; M-DOWN when the device it
    is linked to (a veth peer on this host) is down."""
    flags = dev.flags & 0xFFFFF
    names = ["NO-CARRIER"] if flags & IFF_UP and not flags & IFF_RUNNING else []
    rest = flags & ~IFF_RUNNING
    for bit, name in _IFF_NAMES:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"{rest:x}")
    peer = _peer(dev)
    if peer is not None and peer.host is dev.host and not peer.flags & IFF_UP:
        names.append("M-DOWN")
    return names


def _peer(dev: NetDevice) -> NetDevice | None:
    peer = getattr(dev, "peer", None)
    return peer if isinstance(peer, NetDevice) else None


def _qdisc_name(dev: NetDevice) -> str:
    """IFLA_QDISC: the root qdisc's kind; noop until the device was first opened
    (dev_activate), the built-in FIFO for a device whose qdisc layer is absent."""
    q = dev.qdisc
    kind = getattr(q, "kind", None) if q is not None else None
    if kind:
        return str(kind)
    if "fallback_qdisc" in dev.priv:
        return "pfifo_fast"
    if dev.flags & IFF_UP and dev.priv_flags & IFF_NO_QUEUE:
        return "noqueue"
    return "noop"


def _link_type(dev: NetDevice) -> str:
    return "loopback" if dev.flags & IFF_LOOPBACK else "ether"


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in (bytes(b) or bytes(6)))


def _link_ref(dev: NetDevice) -> tuple[str, dict[str, Any], str | None]:
    """The ``@peer`` suffix and JSON keys of IFLA_LINK, and the link-netns name."""
    peer = _peer(dev)
    if peer is None:
        return "", {}, None
    if peer.host is not dev.host:
        return f"@if{peer.ifindex}", {"link_index": peer.ifindex}, peer.host.name
    return f"@{peer.name}", {"link": peer.name}, None


def link_json(dev: NetDevice, opts: IpOptions) -> dict[str, Any]:
    """The JSON object of one link (ip -j link), details and statistics included as
    the options ask."""
    _, ref, netns = _link_ref(dev)
    ltype = _link_type(dev)
    obj: dict[str, Any] = {"ifindex": dev.ifindex, **ref, "ifname": dev.name,
                           "flags": _flag_names(dev), "mtu": dev.mtu,
                           "qdisc": _qdisc_name(dev), "operstate": dev.operstate,
                           "linkmode": "DEFAULT", "group": "default",
                           "txqlen": dev.tx_queue_len, "link_type": ltype,
                           "address": _mac(dev.dev_addr),
                           "broadcast": _mac(bytes(6) if ltype == "loopback"
                                             else dev.broadcast)}
    if netns is not None:
        obj["link_netnsid"] = 0
    if opts.details:
        obj.update(_details_json(dev))
    if opts.stats:
        obj["stats64"] = _stats_json(dev_get_stats(dev), _carrier_changes(dev), opts.stats)
    return obj


def _details(dev: NetDevice) -> list[tuple[str, str, Any]]:
    """print_linkinfo's -d fields: (JSON key, text, value); "kind" opens a line."""
    big = type(dev).driver_name in _BIG_TSO_DRIVERS
    out: list[tuple[str, str, Any]] = [
        ("promiscuity", " promiscuity {} ", 1 if dev.flags & IFF_PROMISC else 0),
        ("allmulti", " allmulti {} ", 1 if dev.flags & IFF_ALLMULTI else 0),
        ("min_mtu", "minmtu {} ", dev.min_mtu), ("max_mtu", "maxmtu {} ", dev.max_mtu)]
    if type(dev).driver_name == "veth":  # IFLA_LINKINFO: rtnl_link_ops kind
        out.append(("kind", "\n    {} ", "veth"))
    out += [("num_tx_queues", "numtxqueues {} ", dev.num_tx_queues),
            ("num_rx_queues", "numrxqueues {} ", dev.num_rx_queues),
            ("gso_max_size", "gso_max_size {} ", GSO_LEGACY_MAX_SIZE),
            ("gso_max_segs", "gso_max_segs {} ", GSO_MAX_SEGS),
            ("tso_max_size", "tso_max_size {} ", TSO_MAX_SIZE if big else TSO_LEGACY_MAX_SIZE),
            ("tso_max_segs", "tso_max_segs {} ", GSO_MAX_SEGS),
            ("gro_max_size", "gro_max_size {} ", GRO_LEGACY_MAX_SIZE)]
    return out


def _details_json(dev: NetDevice) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, _, value in _details(dev):
        if key == "kind":
            obj["linkinfo"] = {"info_kind": value}
        else:
            obj[key] = value
    return obj


def _carrier_changes(dev: NetDevice) -> int:
    """IFLA_CARRIER_CHANGES (carrier_up_count + carrier_down_count), if the device
    counts them."""
    return int(getattr(dev, "carrier_up_count", 0)) + int(getattr(dev, "carrier_down_count", 0))


def _stats_json(s: RtnlLinkStats64, carrier_changes: int, level: int) -> dict[str, Any]:
    """ip/ipaddress.c print_link_stats64, JSON half (6.1)."""
    rx: dict[str, int] = {"bytes": s.rx_bytes, "packets": s.rx_packets,
                          "errors": s.rx_errors, "dropped": s.rx_dropped,
                          "over_errors": s.rx_over_errors, "multicast": s.multicast}
    if s.rx_compressed:
        rx["compressed"] = s.rx_compressed
    if level > 1:
        rx.update(length_errors=s.rx_length_errors, crc_errors=s.rx_crc_errors,
                  frame_errors=s.rx_frame_errors, fifo_errors=s.rx_fifo_errors,
                  missed_errors=s.rx_missed_errors)
        if s.rx_nohandler:
            rx["nohandler"] = s.rx_nohandler
    tx: dict[str, int] = {"bytes": s.tx_bytes, "packets": s.tx_packets,
                          "errors": s.tx_errors, "dropped": s.tx_dropped,
                          "carrier_errors": s.tx_carrier_errors,
                          "collisions": s.collisions}
    if s.tx_compressed:
        tx["compressed"] = s.tx_compressed
    if level > 1:
        tx.update(aborted_errors=s.tx_aborted_errors, fifo_errors=s.tx_fifo_errors,
                  window_errors=s.tx_window_errors,
                  heartbeat_errors=s.tx_heartbeat_errors, carrier_changes=carrier_changes)
    return {"rx": rx, "tx": tx}


def _format_stats(s: RtnlLinkStats64, carrier_changes: int, level: int) -> list[str]:
    """ip/ipaddress.c print_link_stats64, text half (6.1): column widths from the
    header words and the widest number (size_columns), numbers right-aligned, each
    followed by a space."""
    rx = (s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, s.rx_missed_errors,
          s.multicast, s.rx_compressed)
    rx_err = (0, s.rx_length_errors, s.rx_crc_errors, s.rx_frame_errors, s.rx_fifo_errors,
              s.rx_over_errors, s.rx_nohandler)
    tx = (s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped, s.tx_carrier_errors,
          s.collisions, s.tx_compressed)
    tx_err = (0, s.tx_aborted_errors, s.tx_fifo_errors, s.tx_window_errors,
              s.tx_heartbeat_errors, carrier_changes, 0)
    cols = [len("*X errors:"), len("packets"), len("errors"), len("dropped"),
            len("heartbt"), len("overrun"), len("compressed")]
    for row in (rx, rx_err, tx, tx_err) if level > 1 else (rx, tx):
        for i, v in enumerate(row):
            cols[i] = max(cols[i], len(str(v)))

    def nums(values: tuple[int, ...], n: int) -> str:
        return "".join(f"{v:>{cols[i]}} " for i, v in enumerate(values[:n]))

    def head(prefix: str, words: tuple[str, ...], last: str) -> str:
        return (f"    {prefix} {words[0]:>{cols[0] - 4}}"
                + "".join(f" {w:>{cols[i + 1]}}" for i, w in enumerate(words[1:]))
                + f" {last:>{cols[6]}}")

    lines = [head("RX:", ("bytes", "packets", "errors", "dropped", "missed", "mcast"),
                  "compressed" if s.rx_compressed else ""),
             "    " + nums(rx, 7 if s.rx_compressed else 6)]
    if level > 1:
        words = ("length", "crc", "frame", "fifo", "overrun")
        lines.append("    RX errors:" + " " * (cols[0] - 10)
                     + "".join(f" {w:>{cols[i + 1]}}" for i, w in enumerate(words))
                     + (f" {'nohandler':>{cols[6]}}" if s.rx_nohandler else ""))
        lines.append(_err_nums(cols, rx_err, 6 if s.rx_nohandler else 5))
    lines += [head("TX:", ("bytes", "packets", "errors", "dropped", "carrier", "collsns"),
                   "compressed" if s.tx_compressed else ""),
              "    " + nums(tx, 7 if s.tx_compressed else 6)]
    if level > 1:
        words = ("aborted", "fifo", "window", "heartbt", "transns")
        lines.append("    TX errors:" + " " * (cols[0] - 10)
                     + "".join(f" {w:>{cols[i + 1]}}" for i, w in enumerate(words)))
        lines.append(_err_nums(cols, tx_err, 5))
    return lines


def _err_nums(cols: list[int], row: tuple[int, ...], n: int) -> str:
    """An error-counter line: indented past the first column, columns 1..n."""
    return " " * (cols[0] + 5) + "".join(f"{row[i]:>{cols[i]}} " for i in range(1, n + 1))


def _xdp_flag(dev: NetDevice) -> str:
    """`` xdp`` after the MTU when a native XDP program is attached (print_linkinfo)."""
    if dev.priv.get("xdp") is None:  # never attached: don't load the eBPF layer
        return ""
    from tuxnet.xdp.iplink import xdp_link_flag

    flag = xdp_link_flag(dev)
    return f" {flag}" if flag else ""


def format_link(dev: NetDevice, opts: IpOptions) -> list[str]:
    """print_linkinfo (ip link): the link line, the link/ether line (with -d's
    fields), then -s statistics."""
    suffix, _, netns = _link_ref(dev)
    xdp = _xdp_flag(dev)
    line1 = (f"{dev.ifindex}: {dev.name}{suffix}: <{','.join(_flag_names(dev))}> "
             f"mtu {dev.mtu}{xdp} qdisc {_qdisc_name(dev)} state {dev.operstate} "
             f"mode DEFAULT group default qlen {dev.tx_queue_len}")
    ltype = _link_type(dev)
    brd = bytes(6) if ltype == "loopback" else dev.broadcast
    line2 = f"    link/{ltype} {_mac(dev.dev_addr)} brd {_mac(brd)}"
    if netns is not None:
        line2 += f" link-netns {netns}"
    lines = [line1]
    if opts.details:
        text = line2 + "".join(fmt.format(v) for _, fmt, v in _details(dev))
        lines += text.split("\n")
    else:
        lines.append(line2)
    if xdp:
        from tuxnet.xdp.iplink import xdp_link_lines

        lines += xdp_link_lines(dev, details=opts.details)
    if opts.stats:
        lines += _format_stats(dev_get_stats(dev), _carrier_changes(dev), opts.stats)
    return lines


# -- ip link show ----------------------------------------------------------------------

def _do_show(host: Host, args: ArgStream, out: TextIO, opts: IpOptions) -> int:
    """ipaddr_list_flush_or_save for links."""
    name: str | None = None
    only_up = False
    for arg in args:
        if arg == "up":
            only_up = True
            continue
        if arg == "dev":
            arg = args.next()
        elif arg in ("type", "group", "master", "vrf", "alias", "nomaster"):
            raise IpError(f'Filtering by "{arg}" is not modelled by tuxnet yet (#3).', 255)
        if name is not None:
            raise duparg2("dev", arg)
        name = arg
    devs = _devices(host)
    if name is not None:
        devs = [d for d in devs if d.name == name]
        if not devs:
            raise IpError(f'Device "{name}" does not exist.', 1)
    if only_up:
        devs = [d for d in devs if d.flags & IFF_UP]
    if opts.json:
        out.write(json.dumps([link_json(d, opts) for d in devs], separators=(",", ":"))
                  + "\n")
        return 0
    for dev in devs:
        lines = format_link(dev, opts)
        out.write(("\\".join(lines) if opts.oneline else "\n".join(lines)) + "\n")
    return 0


# -- ip link set -----------------------------------------------------------------------

def _on_off(args: ArgStream, what: str) -> bool:
    value = args.next()
    if value not in ("on", "off"):
        raise IpError(f'Error: argument of "{what}" must be "on" or "off", not "{value}"', 255)
    return value == "on"


def _parse_lladdr(text: str) -> bytes:
    """ll_addr_a2n: hex bytes separated by colons."""
    parts = text.split(":")
    try:
        if not text or any(not 1 <= len(p) <= 2 for p in parts):
            raise ValueError(text)
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise IpError(f'"{text}" is invalid lladdr.', 255) from None


def _do_set(host: Host, args: ArgStream, out: TextIO) -> int:
    """iplink_modify for an existing device: parse everything, then apply in the
    kernel's order (do_setlink: address, mtu, txqlen, flags)."""
    name: str | None = None
    up: bool | None = None
    mtu: int | None = None
    qlen: int | None = None
    addr: bytes | None = None
    xdp_req: Any = None
    flag_changes: dict[int, bool] = {}
    for arg in args:
        if arg == "up":
            up = True
        elif arg == "down":
            up = False
        elif arg == "mtu":
            value = args.next()
            mtu = get_unsigned(value, 0x7FFFFFFF)
            if mtu is None:
                raise invarg('Invalid "mtu" value', value)
        elif arg in ("txqueuelen", "qlen", "txqlen"):
            value = args.next()
            qlen = get_unsigned(value, 0x7FFFFFFF)
            if qlen is None:
                raise invarg('Invalid "txqueuelen" value', value)
        elif arg == "address":
            addr = _parse_lladdr(args.next())
        elif arg == "promisc":
            flag_changes[IFF_PROMISC] = _on_off(args, "promisc")
        elif arg == "allmulticast":
            flag_changes[IFF_ALLMULTI] = _on_off(args, "allmulticast")
        elif arg == "multicast":
            flag_changes[IFF_MULTICAST] = _on_off(args, "multicast")
        elif arg == "arp":
            flag_changes[IFF_NOARP] = not _on_off(args, "arp")
        elif arg in ("xdp", "xdpgeneric", "xdpdrv", "xdpoffload"):
            from tuxnet.xdp.iplink import parse_xdp

            xdp_req, rest = parse_xdp([arg, *args.argv[args.i:]])
            args.argv, args.i = rest, 0
        elif arg in ("name", "alias", "master", "nomaster", "netns", "vf", "group",
                     "numtxqueues", "numrxqueues", "gso_max_size", "gso_max_segs",
                     "gro_max_size", "type", "link", "dynamic", "trailers", "carrier",
                     "protodown", "broadcast", "brd", "peer", "state", "mode"):
            raise IpError(f'Error: "ip link set ... {arg}" is not modelled by tuxnet yet '
                          '(#3).', 255)
        else:
            if arg == "dev":
                arg = args.next()
            if name is not None:
                raise duparg2("dev", arg)
            name = arg
    if name is None:
        raise IpError('Not enough information: "dev" argument is required.', 255)
    dev = host.devices.get(name)
    if not isinstance(dev, NetDevice):
        raise IpError(f'Cannot find device "{name}"', 1)
    if xdp_req is not None:
        from tuxnet.xdp.iplink import apply_xdp

        apply_xdp(host, dev, xdp_req)
    if addr is not None:
        _set_address(dev, addr)
    if mtu is not None and mtu != dev.mtu:
        _set_mtu(host, dev, mtu)
    if qlen is not None:
        dev.tx_queue_len = qlen  # dev_change_tx_queue_len
    for bit, on in flag_changes.items():
        dev.flags = dev.flags | bit if on else dev.flags & ~bit
    if up is not None and up != bool(dev.flags & IFF_UP):
        (dev_open if up else dev_close)(dev)  # these run the notifier chain themselves
    return 0


def _set_address(dev: NetDevice, addr: bytes) -> None:
    """dev_set_mac_address -> eth_prepare_mac_addr_change: the length must be the
    device's, the address a valid unicast one."""
    if len(addr) != len(dev.dev_addr or bytes(6)):
        raise IpError(f"RTNETLINK answers: {os.strerror(errno.EINVAL)}", 2)
    if addr[0] & 1 or not any(addr):
        raise IpError(f"RTNETLINK answers: {os.strerror(errno.EADDRNOTAVAIL)}", 2)
    dev.dev_addr = bytes(addr)


def _set_mtu(host: Host, dev: NetDevice, mtu: int) -> None:
    """dev_set_mtu_ext -> dev_validate_mtu (extack), then ndo_change_mtu."""
    if mtu < dev.min_mtu:
        raise IpError("Error: mtu less than device minimum.", 2)
    if mtu > dev.max_mtu:
        raise IpError("Error: mtu greater than device maximum.", 2)
    try:
        dev.set_mtu(mtu)
    except OSError as exc:
        raise IpError(f"RTNETLINK answers: {os.strerror(exc.errno or errno.EINVAL)}", 2) \
            from None
    _notify(host, dev, "NETDEV_CHANGEMTU")


def _notify(host: Host, dev: NetDevice, event: str) -> None:
    """call_netdevice_notifiers: tell the subsystems listening on the host's chain."""
    from tuxnet.core.netcore import call_netdevice_notifiers

    call_netdevice_notifiers(event, dev)


def run(host: Host, argv: list[str], out: TextIO, opts: IpOptions) -> int:
    """do_iplink(): run one ``ip link ...`` command."""
    try:
        if not argv:
            return _do_show(host, ArgStream([]), out, opts)
        cmd, args = argv[0], ArgStream(argv[1:])
        if matches(cmd, "show") or matches(cmd, "list") or matches(cmd, "lst"):
            return _do_show(host, args, out, opts)
        if matches(cmd, "set"):
            return _do_set(host, args, out)
        if matches(cmd, "help"):
            out.write(_USAGE + "\n")
            return 255
        if cmd in ("add", "delete", "del", "change", "replace", "xstats", "afstats",
                   "property"):
            raise IpError(f'"ip link {cmd}" is not modelled by tuxnet yet (#3).', 255)
        raise IpError(f'Command "{cmd}" is unknown, try "ip link help".', 255)
    except IpError as err:
        out.write(f"{err}\n")
        return err.rc
