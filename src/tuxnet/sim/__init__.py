"""Simulated wires: links with bandwidth, delay and netem-like impairments, topologies.

Public API: :class:`Link`, :class:`LinkConfig`, :class:`GilbertElliott`,
:class:`DuplexLink`, :class:`Topology`, the ``FrameReceiver`` / ``PacketSink``
protocols, and tc-style unit parsers ``parse_rate``, ``parse_time``, ``parse_size``.
"""

from tuxnet.sim.config import GilbertElliott, LinkConfig, LinkParams
from tuxnet.sim.link import DROP_REASONS, DropHook, FrameReceiver, Link, PacketSink
from tuxnet.sim.qdisc import CoDelQueue, FifoQueue
from tuxnet.sim.topology import DuplexLink, Topology, derive_seed
from tuxnet.sim.units import parse_rate, parse_size, parse_time

__all__ = [
    "DROP_REASONS",
    "CoDelQueue",
    "DropHook",
    "DuplexLink",
    "FifoQueue",
    "FrameReceiver",
    "GilbertElliott",
    "Link",
    "LinkConfig",
    "LinkParams",
    "PacketSink",
    "Topology",
    "derive_seed",
    "parse_rate",
    "parse_size",
    "parse_time",
]
