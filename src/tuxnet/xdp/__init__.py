"""XDP: the eXpress Data Path hook in the driver, its actions and redirect maps, and
AF_XDP sockets (net/core/filter.c, net/core/xdp.c, kernel/bpf/devmap.c, cpumap.c,
net/xdp/; Høiland-Jørgensen et al., "The eXpress Data Path", CoNEXT 2018).

    prog = XdpProg.load(host, "filter.o", "xdp")     # verified, ready to attach
    dev_xdp_attach(nic, prog)                         # ip link set dev eth0 xdpdrv ...
    nic.get_ethtool_stats()                           # rx_xdp_drop, rx_xdp_tx_xmit ...
    dev_xdp_detach(nic)                               # ip link set dev eth0 xdp off

Modules: ``prog`` (loading), ``hook`` (the driver hook, actions, counters, attach),
``redirect`` (devmap/cpumap/xskmap, bulk queues, flush), ``afxdp`` (UMEM, rings,
XDP sockets), ``iplink`` (``ip link set ... xdp``), ``run`` (``tuxnet xdp run``).
"""

from __future__ import annotations

from tuxnet.xdp.hook import (
    DevXdp,
    XdpFrame,
    dev_xdp_attach,
    dev_xdp_detach,
    dev_xdp_prog,
    dev_xdp_state,
)
from tuxnet.xdp.prog import XdpProg

__all__ = ["DevXdp", "XdpFrame", "XdpProg", "dev_xdp_attach", "dev_xdp_detach",
           "dev_xdp_prog", "dev_xdp_state"]
