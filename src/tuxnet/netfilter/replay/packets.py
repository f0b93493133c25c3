"""The harness's packet file: a JSON list of steps, or ``{"setup": ..., "packets": [...]}``.

A step is ``{"from": "lan"|"wan"|"local", "scapy": EXPR}`` (EXPR an L3 scapy
expression over IP, TCP, UDP, ICMP and Raw), ``{"sleep": seconds}`` or
``{"dut_cmd": "..."}``. ``setup`` may hold ``dut_tcp_listen`` / ``dut_udp_listen``
(ports), ``pre_cmds`` (commands run on the DUT before the rules load) and ``sysctl``.

scapy is needed only to build the packets of ``scapy`` steps; it is imported when the
first one is built (``pip install 'tuxnet[replay]'``).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PacketSpec", "ReplayInputError", "build_datagram", "load_packets"]


class ReplayInputError(Exception):
    """A packet file or ruleset the replay cannot use (the message says why)."""


@dataclass
class PacketSpec:
    setup: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


def parse_packets(doc: Any) -> PacketSpec:
    """Validate a decoded packet file."""
    if isinstance(doc, list):
        doc = {"packets": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("packets", []), list):
        raise ReplayInputError("packet file: expected a list of steps or an object "
                               "with \"packets\"")
    setup = doc.get("setup", {})
    if not isinstance(setup, dict):
        raise ReplayInputError("packet file: \"setup\" must be an object")
    steps = doc.get("packets", [])
    for n, st in enumerate(steps, 1):
        if not isinstance(st, dict) or not ({"scapy", "sleep", "dut_cmd"} & st.keys()):
            raise ReplayInputError(f"packet file: step {n} needs \"scapy\", \"sleep\" "
                                   "or \"dut_cmd\"")
        if "scapy" in st and st.get("from", "lan") not in ("lan", "wan", "local"):
            raise ReplayInputError(f"packet file: step {n}: \"from\" must be lan, wan "
                                   "or local")
    return PacketSpec(setup, steps)


def load_packets(path: str) -> PacketSpec:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ReplayInputError(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ReplayInputError(f"{path}: not JSON: {e}") from e
    return parse_packets(doc)


def build_datagram(expr: str) -> bytes:
    """The bytes of a scapy L3 expression, evaluated as the harness does (with IP, TCP,
    UDP, ICMP and Raw in scope)."""
    try:
        inet = importlib.import_module("scapy.layers.inet")
        packet = importlib.import_module("scapy.packet")
    except ImportError as e:
        raise ReplayInputError("scapy packet expressions need scapy "
                               "(pip install 'tuxnet[replay]')") from e
    names: dict[str, Any] = {n: getattr(inet, n) for n in ("IP", "TCP", "UDP", "ICMP")}
    names.update({"Raw": packet.Raw, "bytes": bytes, "range": range, "__builtins__": {}})
    try:
        pkt = eval(expr, names)
        data = bytes(pkt)
    except Exception as e:
        raise ReplayInputError(f"bad scapy expression {expr!r}: {e}") from e
    if len(data) < 20 or data[0] >> 4 != 4:
        raise ReplayInputError(f"scapy expression {expr!r} is not an IPv4 datagram")
    return data
