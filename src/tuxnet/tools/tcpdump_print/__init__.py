"""tcpdump's packet printers, rebuilt: one module per protocol.

:class:`~tuxnet.tools.tcpdump_print.core.Nd` carries the options and per-run state
(TCP relative sequence bases); :func:`print_packet` formats one captured frame."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd, Truncated, hex_and_ascii_print, hex_print
from tuxnet.tools.tcpdump_print.ether import ether_if_print

__all__ = ["Nd", "Truncated", "ether_if_print", "hex_and_ascii_print", "hex_print"]
