"""``tuxnet nf replay``: the nf-kernel-diff harness's inputs (an iptables-save ruleset,
a packet file) through a simulated tuxnet router with the harness's topology, and the
harness's report (text, or the same JSON document) so the two compare field by field.

Modules: topology (the DUT), packets (the packet file, scapy expressions), summary
(packet lines), counters (rule/policy counters, snmp), ctdump (the conntrack rows),
runner (the steps), report (the text report).
"""

from tuxnet.netfilter.replay.packets import PacketSpec, ReplayInputError, load_packets
from tuxnet.netfilter.replay.report import format_report
from tuxnet.netfilter.replay.runner import run_replay

__all__ = ["PacketSpec", "ReplayInputError", "format_report", "load_packets", "run_replay"]
