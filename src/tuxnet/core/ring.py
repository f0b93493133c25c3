"""Descriptor rings and their ethtool -g / -G parameters.

An RX ring holds frames the NIC has written (DMA'd) but the driver has not taken yet;
when all ``count`` descriptors are used the NIC drops what arrives (counted by the
driver as rx_missed_errors or rx_fifo_errors). A TX ring holds packets handed to the
NIC: ``pending`` ones not yet on the wire and ``done`` ones sent but not yet cleaned
(freed) by the driver; both use descriptors.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff

__all__ = ["Ringparam", "RxRing", "TxRing", "ethtool_check_ringparam", "ethtool_error"]


def ethtool_error(err: int, what: str) -> OSError:
    """An OSError carrying ``err`` as ethtool reports it (``what``: the context)."""
    return OSError(err, f"{what}: {os.strerror(err)}")


@dataclass(frozen=True, slots=True)
class Ringparam:
    """struct ethtool_ringparam: pre-set maximums and current sizes (ethtool -g)."""

    rx_max_pending: int
    rx_mini_max_pending: int
    rx_jumbo_max_pending: int
    tx_max_pending: int
    rx_pending: int
    rx_mini_pending: int
    rx_jumbo_pending: int
    tx_pending: int


def ethtool_check_ringparam(cur: Ringparam, rx: int | None = None, rx_mini: int | None = None,
                            rx_jumbo: int | None = None, tx: int | None = None) -> Ringparam:
    """ethnl_set_rings' core checks: the requested sizes (None = unchanged) must not
    exceed the pre-set maximums; negative sizes are refused too. Raises OSError
    EINVAL ("requested ring size exceeds maximum") and returns the new parameters."""
    new = replace(cur,
                  rx_pending=cur.rx_pending if rx is None else rx,
                  rx_mini_pending=cur.rx_mini_pending if rx_mini is None else rx_mini,
                  rx_jumbo_pending=cur.rx_jumbo_pending if rx_jumbo is None else rx_jumbo,
                  tx_pending=cur.tx_pending if tx is None else tx)
    for name, val, mx in (("rx", new.rx_pending, cur.rx_max_pending),
                          ("rx-mini", new.rx_mini_pending, cur.rx_mini_max_pending),
                          ("rx-jumbo", new.rx_jumbo_pending, cur.rx_jumbo_max_pending),
                          ("tx", new.tx_pending, cur.tx_max_pending)):
        if val < 0 or val > mx:
            raise ethtool_error(errno.EINVAL,
                                f"requested {name} ring size {val} exceeds maximum {mx}")
    return new


class RxRing:
    """An RX descriptor ring of ``count`` descriptors; entries are driver-defined
    (SimNic: (buffer, length, hash, l4_hash))."""

    __slots__ = ("count", "desc", "max_count")

    def __init__(self, count: int, max_count: int | None = None) -> None:
        self.count = count
        self.max_count = count if max_count is None else max_count
        self.desc: deque[Any] = deque()

    def __len__(self) -> int:
        return len(self.desc)

    def full(self) -> bool:
        """No free descriptor."""
        return len(self.desc) >= self.count

    def unused(self) -> int:
        """Free descriptors (ixgbe_desc_unused)."""
        return self.count - len(self.desc)

    def __repr__(self) -> str:
        return f"<RxRing {len(self.desc)}/{self.count}>"


class TxRing:
    """A TX descriptor ring: ``pending`` (queued for the wire) and ``done`` (sent,
    waiting for the driver's completion processing) both hold descriptors."""

    __slots__ = ("count", "done", "max_count", "pending")

    def __init__(self, count: int, max_count: int | None = None) -> None:
        self.count = count
        self.max_count = count if max_count is None else max_count
        self.pending: deque[SkBuff] = deque()
        self.done: deque[SkBuff] = deque()

    def __len__(self) -> int:
        return len(self.pending) + len(self.done)

    def unused(self) -> int:
        """Free descriptors."""
        return self.count - len(self.pending) - len(self.done)

    def __repr__(self) -> str:
        return f"<TxRing pending={len(self.pending)} done={len(self.done)}/{self.count}>"
