"""The demonstration host that standalone CLI views (``tuxnet ip``, ``tuxnet ss`` ...)
run on when no scenario or live instance is named: a fresh namespace in virtual time.

As the device and IPv4 layers land, this host grows the devices and addresses a new
namespace with one NIC has (``lo`` and ``eth0``)."""

from __future__ import annotations

from tuxnet.host import Host
from tuxnet.loop import SimLoop


def demo_host() -> Host:
    """A fresh host named ``tuxnet`` on a SimLoop."""
    return Host(SimLoop(), "tuxnet")
