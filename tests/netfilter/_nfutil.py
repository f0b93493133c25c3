"""Helpers for the netfilter tests: hosts, command lines, crafted packets."""

from __future__ import annotations

import io
import shlex

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.netfilter.tables import NfNet, nf_net
from tuxnet.skb import SkBuff, alloc_skb
from tuxnet.tools import iptables_cmd, iptables_restore_cmd, iptables_save_cmd
from tuxnet.wire.build import icmp_frame, tcp_frame, udp_frame

MAC_DUT = bytes.fromhex("020000000101")
MAC_LAN = bytes.fromhex("020000000102")


class Dev:
    """The part of a net_device the rule engine reads: its name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Dev {self.name}>"


LAN, WAN, LO = Dev("lan0"), Dev("wan0"), Dev("lo")


def new_host(name: str = "dut") -> Host:
    return Host(SimLoop(), name)


def nf(host: Host) -> NfNet:
    return nf_net(host)


def ipt(host: Host, line: str, rc: int = 0) -> str:
    """Run ``iptables <line>`` and return stdout (+stderr when rc != 0)."""
    out, err = io.StringIO(), io.StringIO()
    got = iptables_cmd.run(host, shlex.split(line), out, err)
    assert got == rc, (line, got, err.getvalue())
    return out.getvalue() + err.getvalue()


def restore(host: Host, text: str, *args: str, rc: int = 0) -> str:
    out, err = io.StringIO(), io.StringIO()
    got = iptables_restore_cmd.run(host, list(args), out, err, stdin=text)
    assert got == rc, err.getvalue()
    return err.getvalue()


def save(host: Host, *args: str, date: str = "X") -> str:
    out = io.StringIO()
    assert iptables_save_cmd.run(host, list(args), out, out, date=date) == 0
    return out.getvalue()


# scapy's IP() defaults: id 1, no DF, TTL 64
def tcp(src: str, dst: str, sport: int, dport: int, flags: int = 0x02, seq: int = 0,
        ack: int = 0, payload: bytes = b"", ttl: int = 64, options: bytes | None = None,
        window: int = 8192, frag_off: int = 0) -> bytes:
    return bytes(tcp_frame(MAC_LAN, MAC_DUT, src, dst, sport, dport, seq, ack, flags, window,
                           payload, options, ttl, 0, 1, frag_off))[14:]


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", ttl: int = 64,
        frag_off: int = 0) -> bytes:
    return bytes(udp_frame(MAC_LAN, MAC_DUT, src, dst, sport, dport, payload, True, ttl, 0, 1,
                           frag_off))[14:]


def icmp(src: str, dst: str, icmp_type: int = 8, code: int = 0, rest: int = 0,
         payload: bytes = b"", ttl: int = 64) -> bytes:
    return bytes(icmp_frame(MAC_LAN, MAC_DUT, src, dst, icmp_type, code, rest, payload, ttl, 0,
                            1, 0))[14:]


def skb_of(datagram: bytes, mac: bytes | None = None) -> SkBuff:
    """An skb with data at the IPv4 header (and the Ethernet header before it)."""
    skb = alloc_skb(128 + len(datagram))
    skb.reserve(128)
    if mac is not None:
        skb.put_data(mac)
        skb.reset_mac_header()
        skb.pull(len(mac))
    skb.put_data(datagram)
    skb.reset_network_header()
    skb.protocol = 0x0800
    return skb


def counters(host: Host, table: str = "filter") -> dict[str, tuple[int, int]]:
    """Rule and policy counters by ``CHAIN#n`` / ``CHAIN:policy``."""
    t = nf(host).tables[table]
    out = {}
    for c in t.chains.values():
        if c.builtin:
            out[f"{c.name}:policy"] = (c.pcnt, c.bcnt)
        for i, r in enumerate(c.rules, 1):
            out[f"{c.name}#{i}"] = (r.pcnt, r.bcnt)
    return out


def nonzero(host: Host, table: str = "filter") -> dict[str, tuple[int, int]]:
    return {k: v for k, v in counters(host, table).items() if v != (0, 0)}
