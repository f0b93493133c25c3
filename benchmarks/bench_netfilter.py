"""Packets per second through tuxnet's filter table (ipt_do_table on one forwarded UDP
packet) with 0, 100, 1000 and 10000 non-matching rules and with one set lookup (an
ipset hash:ip and an nft named set of 10000 members), next to the kernel's netfilter
measured on this machine (root; skipped otherwise).

Kernel side (made here in a private ``unshare --net --mount`` namespace, gone at exit):
a veth pair, the far end in namespace tnrb with the same ruleset in its INPUT chain
(iptables-legacy, and iptables-nft) ending in ``-p udp --dport 9 -j DROP``; a Python
UDP sender blasts datagrams at it for ``--seconds``. veth delivers in the sender's
context, so the sender's CPU time per packet is the whole path; the netfilter part is
the difference to the 0-rule table (per rule: the slope up to 10000 rules). A
``-m conntrack`` rule on one flow gives conntrack's per-packet cost (established flow).

Ratios (higher is better for tuxnet): ``per_rule`` = kernel ns per rule / tuxnet ns per
rule; ``set_lookup`` = kernel ns per set lookup / tuxnet's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import _common
from _common import rate, ratio_line, table

from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.hooks import NF_INET_FORWARD
from tuxnet.netfilter.replay.topology import build_router
from tuxnet.netfilter.rule import IptEntry
from tuxnet.netfilter.sets import NftLookup, NftSet
from tuxnet.netfilter.tables import nf_net
from tuxnet.skb import alloc_skb
from tuxnet.wire.build import udp_frame

RULES = (0, 100, 1000, 10000)
SET_MEMBERS = 10000


def _addr(i: int) -> str:
    return f"10.{200 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


def _filter(*rules: str) -> str:
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                      ":OUTPUT ACCEPT [0:0]", *rules, "COMMIT"]) + "\n"


# -- tuxnet --------------------------------------------------------------------------

def tux_case(kind: str, n: int, seconds: float) -> float:
    """ipt_do_table calls per second for one packet (10.1.0.2 -> 10.9.9.9 UDP/9)."""
    import io

    from tuxnet.tools import iptables_restore_cmd

    r = build_router()
    host = r.host
    if kind == "linear":
        text = _filter(*(f"-A FORWARD -s {_addr(i)}/32 -j DROP" for i in range(n)))
    else:
        text = _filter()
    assert iptables_restore_cmd.run(host, [], io.StringIO(), io.StringIO(), stdin=text) == 0
    nf = nf_net(host)
    if kind == "ipset":
        s = nf.ipsets.create("blk", "hash:ip", maxelem=65536)
        for i in range(n):
            for e in s.parse_elems(_addr(i)):
                s.add(e, False)
        iptables_restore_cmd.run(host, [], io.StringIO(), io.StringIO(), stdin=_filter(
            "-A FORWARD -m set --match-set blk src -j DROP"))
    elif kind == "nftset":
        nset = nf.nftsets.add_set(NftSet("blk", ("ip saddr",)))
        for i in range(n):
            a = [int(x) for x in _addr(i).split(".")]
            nset.add(((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3],))
        entry = IptEntry()
        entry.matches = [NftLookup(nset)]
        entry.verdict = "DROP"
        nf.tables["filter"].chains["FORWARD"].rules.append(entry)
    frame = udp_frame(b"\2" * 6, b"\2" * 6, "10.1.0.2", "10.9.9.9", 40000, 9, b"x" * 18,
                      True, 64, 0, 1, 0)
    skb = alloc_skb(256)
    skb.reserve(64)
    skb.put_data(bytes(frame)[14:])
    skb.reset_network_header()
    lan, wan = r.nics["lan"], r.nics["wan"]
    table = nf.tables["filter"]

    def one() -> None:
        ipt_do_table(host, table, NF_INET_FORWARD, skb, lan, wan)

    return rate(one, seconds)


# -- kernel --------------------------------------------------------------------------

BLASTER = r"""
import json, socket, subprocess, sys, time
def sh(*a, inp=None):
    r = subprocess.run(list(a), input=inp, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{a}: {r.stderr}")
mode, n, backend, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sh("ip", "link", "add", "tnr0", "type", "veth", "peer", "name", "tnr1")
sh("ip", "addr", "add", "10.77.0.1/24", "dev", "tnr0")
sh("ip", "link", "set", "tnr0", "up")
sh("ip", "netns", "add", "tnrb")
sh("ip", "link", "set", "tnr1", "netns", "tnrb")
B = ["ip", "netns", "exec", "tnrb"]
sh(*B, "ip", "link", "set", "tnr1", "address", "02:00:00:00:00:02")
sh(*B, "ip", "addr", "add", "10.77.0.2/24", "dev", "tnr1")
sh(*B, "ip", "link", "set", "tnr1", "up")
sh("ip", "neigh", "replace", "10.77.0.2", "lladdr", "02:00:00:00:00:02", "dev", "tnr0",
   "nud", "permanent")
lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
def addr(i):
    return f"10.{200 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
if mode == "linear":
    lines += [f"-A INPUT -s {addr(i)}/32 -j DROP" for i in range(n)]
elif mode == "ipset":
    sh(*B, "ipset", "restore", inp="create blk hash:ip maxelem 1000000\n"
       + "".join(f"add blk {addr(i)}\n" for i in range(n)))
    lines.append("-A INPUT -m set --match-set blk src -j DROP")
elif mode == "conntrack":
    lines.append("-A INPUT -m conntrack --ctstate INVALID -j DROP")
lines += ["-A INPUT -p udp --dport 9 -j DROP", "COMMIT"]
sh(*B, f"iptables-{backend}-restore", inp="\n".join(lines) + "\n")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 40000))
send, dst, data = s.sendto, ("10.77.0.2", 9), b"x" * 18
for _ in range(2000):
    send(data, dst)
best = None
for _ in range(3):
    cnt, c0, t0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < secs / 3:
        for _ in range(100):
            send(data, dst)
        cnt += 100
    per = (time.process_time() - c0) / cnt * 1e9
    best = per if best is None else min(best, per)
print(json.dumps({"ns_per_pkt": best}))
"""


def kernel_case(kind: str, n: int, backend: str, seconds: float) -> float | None:
    """The sender's CPU ns per packet with this ruleset in the kernel."""
    script = ('mkdir -p /run/netns && mount -t tmpfs tnr-bench /run/netns && '
              'exec "$0" "$@"')
    cmd = ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script,
           sys.executable, "-c", BLASTER, kind, str(n), backend, str(seconds)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if r.returncode != 0:
        print(f"kernel {kind} {n} {backend}: {r.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(json.loads(r.stdout.strip().splitlines()[-1])["ns_per_pkt"])


def kernel_available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in (
        "unshare", "ip", "iptables-legacy-restore", "iptables-nft-restore", "ipset"))


def main() -> int:
    args = _common.parse_args(__doc__ or "")
    rules = (0, 10, 100) if args.quick else RULES
    members = 100 if args.quick else SET_MEMBERS
    tux: dict[str, float] = {}
    for n in rules:
        tux[f"linear {n}"] = tux_case("linear", n, args.seconds)
    tux["ipset"] = tux_case("ipset", members, args.seconds)
    tux["nftset"] = tux_case("nftset", members, args.seconds)
    ns = {k: 1e9 / v for k, v in tux.items()}
    top = max(rules)
    tux_rule = (ns[f"linear {top}"] - ns["linear 0"]) / top
    tux_set = ns["ipset"] - ns["linear 0"]
    rows: list[list[object]] = [[k, v, ns[k]] for k, v in tux.items()]
    print("tuxnet: ipt_do_table on one forwarded packet")
    print(table(["case", "packets/s", "ns/packet"], rows))
    print(f"tuxnet: {tux_rule:.1f} ns per non-matching rule, {tux_set:.0f} ns per "
          f"set lookup ({members:,} members)")
    if not kernel_available():
        print("kernel: skipped (needs root, unshare, iptables-legacy/nft, ipset)")
        return 0
    ksec = 0.3 if args.quick else max(args.seconds, 0.6)
    krows: list[list[object]] = []
    kres: dict[tuple[str, str], float] = {}
    for backend in ("legacy", "nft"):
        cases = [("linear", n) for n in rules] + [("ipset", members)]
        if backend == "legacy":
            cases.append(("conntrack", 0))
        for kind, n in cases:
            v = kernel_case(kind, n, backend, ksec)
            if v is None:
                continue
            kres[(backend, f"{kind} {n}")] = v
    for (backend, case), v in kres.items():
        base = kres.get((backend, "linear 0"))
        krows.append([f"{backend}: {case}", v, v - base if base is not None else ""])
    print("\nkernel: sender CPU per packet over veth (whole path), netfilter part over the "
          "0-rule table")
    print(table(["case", "ns/packet", "over 0 rules"], krows))
    for backend in ("legacy", "nft"):
        a, b = kres.get((backend, "linear 0")), kres.get((backend, f"linear {top}"))
        if a is None or b is None:
            continue
        k_rule = (b - a) / top
        print(f"kernel {backend}: {k_rule:.2f} ns per non-matching rule")
        print(ratio_line(f"per_rule_{backend}", f"kernel-{backend}", k_rule / tux_rule))
    a, s = kres.get(("legacy", "linear 0")), kres.get(("legacy", f"ipset {members}"))
    if a is not None and s is not None:
        k_set = max(s - a, 1.0)
        print(f"kernel legacy: {k_set:.0f} ns per set lookup ({members:,} members)")
        print(ratio_line("set_lookup", "kernel-legacy", k_set / max(tux_set, 1.0)))
    c = kres.get(("legacy", "conntrack 0"))
    if a is not None and c is not None:
        print(f"kernel: conntrack on an established flow adds {c - a:.0f} ns per packet "
              "(issue 7 cites ~1.4 µs per packet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
