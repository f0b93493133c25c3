"""``run_replay``: the harness's ``run`` on a simulated router.

The ruleset is loaded with tuxnet's iptables-restore, ``setup`` commands run with
tuxnet's tools, listeners are tuxnet sockets, and each step is injected into the DUT
(a frame on lan0/wan0 from the peer's MAC, or a raw IP_HDRINCL send from the DUT)
and the simulation then runs ``wait`` of virtual time (the harness's ``--wait``)
before the report reads what left each side, the counter and snmp deltas and the
conntrack table. ``sleep`` steps advance virtual time.
"""

from __future__ import annotations

import io
import shlex
from typing import TYPE_CHECKING, Any

from tuxnet import __version__
from tuxnet.netfilter.replay.counters import counter_delta, read_counters, snmp, snmp_delta
from tuxnet.netfilter.replay.ctdump import conntrack_table
from tuxnet.netfilter.replay.packets import PacketSpec, ReplayInputError, build_datagram
from tuxnet.netfilter.replay.summary import frame_summary, ip_summary
from tuxnet.netfilter.replay.topology import MAC, Router, SysctlUnknown, build_router, mac_bytes

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["WAIT_NS", "dut_cmd", "raw_send_hdrinc", "run_replay"]

WAIT_NS = 50_000_000  # the harness's --wait default: 0.05 s after each step
_SEC = 1_000_000_000


def _tool(name: str) -> Any:
    import importlib

    mods = {"iptables": "iptables_cmd", "iptables-save": "iptables_save_cmd",
            "iptables-restore": "iptables_restore_cmd", "ipset": "ipset_cmd"}
    if name not in mods:
        return None
    return importlib.import_module(f"tuxnet.tools.{mods[name]}")


def dut_cmd(host: Host, line: str) -> str:
    """Run a shell line on the DUT with tuxnet's tools (``;`` / ``&&`` separated:
    iptables, iptables-save, iptables-restore, ipset, sysctl -w, conntrack -F); its
    stdout."""
    out = io.StringIO()
    for part in line.replace("&&", ";").split(";"):
        argv = shlex.split(part.split("|")[0].split("2>")[0])
        if not argv:
            continue
        name, args = argv[0].rsplit("/", 1)[-1], argv[1:]
        for backend in ("-nft", "-legacy"):  # iptables-nft-save -> iptables-save
            if name.startswith("iptables" + backend):
                name = "iptables" + name[len("iptables" + backend):]
        mod = _tool(name)
        err = io.StringIO()
        if mod is not None:
            rc = mod.run(host, args, out, err)
        elif name == "sysctl":
            rc = _sysctl(host, args, out)
        elif name == "conntrack" and args[:1] in (["-F"], ["--flush"]):
            rc = _conntrack_flush(host)
        else:
            raise ReplayInputError(f"dut command {part.strip()!r}: not available in the replay")
        if rc != 0:
            raise ReplayInputError(f"dut command {part.strip()!r} failed: "
                                   f"{err.getvalue().strip()}")
    return out.getvalue()


def _sysctl(host: Host, args: list[str], out: io.StringIO) -> int:
    quiet = any(a.startswith("-") and "q" in a for a in args)
    for a in args:
        if a.startswith("-"):
            continue
        if "=" not in a:
            out.write(f"{a} = {host.sysctl.get(a)}\n")
            continue
        k, v = a.split("=", 1)
        if k not in host.sysctl:
            raise ReplayInputError(f"sysctl: cannot stat /proc/sys/{k.replace('.', '/')}")
        host.sysctl.set(k, v)
        if not quiet:
            out.write(f"{k} = {v}\n")
    return 0


def _conntrack_flush(host: Host) -> int:
    import importlib

    try:
        mod = importlib.import_module("tuxnet.netfilter.conntrack")
    except ImportError:
        return 0  # no conntrack: nothing to flush
    flush = getattr(mod, "conntrack_flush", None)
    if flush is not None:
        flush(host)
    elif host.__dict__.get("conntrack") is not None and hasattr(mod, "ct_net"):
        mod.ct_net(host).flush()  # CtNet.flush: nf_conntrack_flush
    return 0


def raw_send_hdrinc(host: Host, datagram: bytes) -> int:
    """raw_send_hdrinc (net/ipv4/raw.c): a complete datagram from an IP_HDRINCL socket.
    The route is the destination's; the kernel sets tot_len, the id when zero and the
    header checksum, counts ICMP output, then NF_HOOK(LOCAL_OUT, dst_output) — no
    IpOutRequests. A drop counts IpOutDiscards (the send fails with EPERM)."""
    from tuxnet.ipv4.inet import InetSkbParm, ip_state
    from tuxnet.ipv4.ip_output import _icmp_out_count, dst_output, ip_route_output
    from tuxnet.netfilter.hooks import NF_INET_LOCAL_OUT, nf_hook
    from tuxnet.skb import alloc_skb
    from tuxnet.wire.checksum import internet_checksum

    data = bytearray(datagram)
    daddr = int.from_bytes(data[16:20], "big")
    rt = ip_route_output(host, daddr)
    if rt.error:
        host.mib.ip.OutNoRoutes += 1
        return -101  # ENETUNREACH
    hl = (data[0] & 15) * 4
    if data[12:16] == b"\0\0\0\0":
        data[12:16] = rt.saddr.to_bytes(4, "big") if getattr(rt, "saddr", 0) else data[12:16]
    data[2:4] = len(data).to_bytes(2, "big")
    if data[4:6] == b"\0\0":
        ident = ip_state(host).select_ident(daddr, int.from_bytes(data[12:16], "big"),
                                            data[9])
        data[4:6] = (ident & 0xFFFF).to_bytes(2, "big")
    data[10:12] = b"\0\0"
    data[10:12] = internet_checksum(bytes(data[:hl])).to_bytes(2, "big")
    if data[9] == 1 and len(data) > hl:
        _icmp_out_count(host, data[hl])
    skb = alloc_skb(128 + len(data))
    skb.reserve(128)
    skb.put_data(bytes(data))
    skb.reset_network_header()
    skb.protocol = 0x0800
    skb.dst = rt
    skb.cb = InetSkbParm()
    err = nf_hook(host, NF_INET_LOCAL_OUT, skb, None, rt.dev, lambda s: dst_output(host, s))
    if err < 0:
        host.mib.ip.OutDiscards += 1
    return err


def _inject(r: Router, side: str, datagram: bytes) -> None:
    if side == "local":
        raw_send_hdrinc(r.host, datagram)
        return
    frame = mac_bytes(MAC["dut_" + side]) + mac_bytes(MAC[side]) + b"\x08\x00" + datagram
    r.nics[side].receive_frame(frame)


def _listen(host: Host, setup: dict[str, Any]) -> list[Any]:
    from tuxnet.socket import AF_INET, SO_REUSEADDR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, socket

    socks: list[Any] = []
    s: Any
    for port in setup.get("dut_tcp_listen", []):
        s = socket(AF_INET, SOCK_STREAM, host=host)
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(16)
        socks.append(s)
    for port in setup.get("dut_udp_listen", []):
        s = socket(AF_INET, SOCK_DGRAM, host=host)
        s.bind(("0.0.0.0", int(port)))
        socks.append(s)
    return socks


def load_ruleset(host: Host, text: str) -> None:
    """iptables-restore of the ruleset (an error names the failing line)."""
    from tuxnet.tools import iptables_restore_cmd

    out, err = io.StringIO(), io.StringIO()
    if iptables_restore_cmd.run(host, [], out, err, stdin=text) != 0:
        raise ReplayInputError("rules: " + (err.getvalue().strip() or "iptables-restore failed"))


def run_replay(rules: str | None, spec: PacketSpec, *, wait_ns: int = WAIT_NS,
               seed: int = 0) -> dict[str, Any]:
    """The report of the harness's ``run`` (same keys and shapes) for tuxnet."""
    setup = spec.setup
    try:
        r = build_router({str(k): str(v) for k, v in (setup.get("sysctl") or {}).items()}, seed)
    except SysctlUnknown as e:
        raise ReplayInputError(str(e)) from e
    host = r.host
    report: dict[str, Any] = {"kernel": f"tuxnet {__version__}", "backend": "tuxnet",
                              "steps": []}
    for c in setup.get("pre_cmds", []):
        dut_cmd(host, c)
    if rules is not None:
        load_ruleset(host, rules)
    listeners = _listen(host, setup)
    r.run(WAIT_NS)
    for peer in r.peers.values():
        peer.take()
    prev_c, prev_s = read_counters(host), snmp(host)
    for n, p in enumerate(spec.steps, 1):
        step: dict[str, Any] = {"n": n, "input": p}
        if "sleep" in p:
            r.run(int(float(p["sleep"]) * _SEC))
        elif "dut_cmd" in p:
            try:
                step["output"] = dut_cmd(host, str(p["dut_cmd"]))
            except ReplayInputError as e:  # shown in the report, the replay goes on
                step["output"] = f"tuxnet: {e}\n"
        else:
            data = build_datagram(str(p["scapy"]))
            _inject(r, str(p.get("from", "lan")), data)
            step["sent"] = ip_summary(data)
        r.run(wait_ns)
        step["out_lan"] = [frame_summary(f) for f in r.peers["lan"].take()]
        step["out_wan"] = [frame_summary(f) for f in r.peers["wan"].take()]
        c, s = read_counters(host), snmp(host)
        step["counters"] = counter_delta(prev_c, c)
        step["snmp"] = snmp_delta(prev_s, s)
        step["conntrack"] = conntrack_table(host)
        prev_c, prev_s = c, s
        report["steps"].append(step)
    report["final_counters"] = {k: {"pkts": v[0], "bytes": v[1], "rule": v[2]}
                                for k, v in prev_c.items()}
    report["final_conntrack"] = conntrack_table(host)
    for sk in listeners:
        sk.close()
    return report
