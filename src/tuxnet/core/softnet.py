"""Per-CPU packet state (struct softnet_data) and /proc/net/softnet_stat.

Each CPU has a poll list of scheduled NAPI instances, the backlog queues that
netif_rx and RPS feed (input_pkt_queue, drained into process_queue by
process_backlog, itself the CPU's ``backlog`` NAPI instance), the output queue of
devices whose qdisc needs a run (net_tx_action), and the counters softnet_stat shows.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tuxnet.core.napi import NapiStruct

if TYPE_CHECKING:
    from tuxnet.core.netdevice import NetdevQueue
    from tuxnet.core.rps import SdFlowLimit
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["SoftnetData", "format_softnet_stat", "softnet_seq_show"]

_U32 = 0xFFFFFFFF


def _no_poll(napi: NapiStruct, budget: int) -> int:
    raise RuntimeError("backlog NAPI used before the device core set its poll function")


class SoftnetData:
    """struct softnet_data of one CPU."""

    __slots__ = ("backlog", "cpu_collision", "dropped", "flow_limit", "flow_limit_count",
                 "in_net_rx_action", "index", "input_pkt_queue", "input_queue_head",
                 "input_queue_tail", "output_queue", "poll_list", "process_queue",
                 "processed", "received_rps", "time_squeeze")

    def __init__(self, index: int) -> None:
        self.index = index
        self.poll_list: deque[NapiStruct] = deque()
        self.input_pkt_queue: deque[SkBuff] = deque()
        self.process_queue: deque[SkBuff] = deque()
        self.output_queue: deque[NetdevQueue] = deque()  # TX queues for net_tx_action
        # process_backlog as a NAPI instance (net/core/dev.c: backlog_napi_init)
        self.backlog = NapiStruct(_no_poll, name=f"backlog/{index}")
        self.backlog.sd = self
        self.in_net_rx_action = False
        self.processed = 0
        self.dropped = 0
        self.time_squeeze = 0
        self.cpu_collision = 0  # printed as 0 since 4.x; kept for history
        self.received_rps = 0
        self.flow_limit_count = 0  # the flow limit table's count (0 while it has none)
        # RPS/RFS: packets ever queued to / dequeued from the backlog (rflow->last_qtail
        # is compared with input_queue_head, net/core/dev.c get_rps_cpu)
        self.input_queue_head = 0
        self.input_queue_tail = 0
        self.flow_limit: SdFlowLimit | None = None  # struct sd_flow_limit (tuxnet.core.rps)

    def backlog_len(self) -> int:
        """softnet_backlog_len: input_pkt_queue + process_queue."""
        return len(self.input_pkt_queue) + len(self.process_queue)

    def counters(self) -> dict[str, int]:
        """The softnet_stat counters by name."""
        return {"processed": self.processed, "dropped": self.dropped,
                "time_squeeze": self.time_squeeze, "received_rps": self.received_rps,
                "flow_limit_count": self.flow_limit_count,
                "backlog_len": self.backlog_len(),
                "input_qlen": len(self.input_pkt_queue),
                "process_qlen": len(self.process_queue)}


def softnet_seq_show(sd: SoftnetData) -> str:
    """softnet_seq_show (net/core/net-procfs.c, 6.x): one CPU's line, 15 %08x columns:
    processed, dropped, time_squeeze, 0, 0, 0, 0, 0 (was fastroute), 0 (was
    cpu_collision), received_rps, flow_limit_count, backlog len, cpu index,
    input_pkt_queue len, process_queue len."""
    iq = len(sd.input_pkt_queue)
    pq = len(sd.process_queue)
    cols = (sd.processed, sd.dropped, sd.time_squeeze, 0, 0, 0, 0, 0, 0, sd.received_rps,
            sd.flow_limit_count, iq + pq, sd.index, iq, pq)
    return " ".join(f"{v & _U32:08x}" for v in cols) + "\n"


def format_softnet_stat(host: Host) -> str:
    """/proc/net/softnet_stat of ``host``: one line per online CPU."""
    from tuxnet.core.netcore import get_core  # netcore imports this module

    return "".join(softnet_seq_show(cpu.sd) for cpu in get_core(host).cpus)
