"""Device events reach IPv4 through the notifier chain: dev_close removes the prefix
route, dev_open restores it, carrier loss marks routes linkdown (as iproute2 shows)."""

from __future__ import annotations

from _iputil import make_lan

from tuxnet.core.dev import dev_close, dev_open, netif_carrier_off, netif_carrier_on
from tuxnet.core.netcore import register_netdevice_notifier
from tuxnet.ipv4.devinet import inet_state
from tuxnet.wire.addr import ip_int


def _main_routes(host: object) -> list[str]:
    from io import StringIO

    from tuxnet.tools.ip_cmd import run

    out = StringIO()
    assert run(host, ["route", "show"], out) == 0  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def test_down_and_up_follow_the_device() -> None:
    lan = make_lan()
    events: list[tuple[str, str]] = []
    register_netdevice_notifier(lan.host, lambda ev, dev: events.append((ev, dev.name)))
    assert any(r.startswith("10.0.0.0/24 dev eth0") for r in _main_routes(lan.host))
    dev_close(lan.nic)
    assert not any(r.startswith("10.0.0.0/24") for r in _main_routes(lan.host))
    dev_open(lan.nic)
    assert any(r.startswith("10.0.0.0/24 dev eth0") for r in _main_routes(lan.host))
    assert events == [("NETDEV_DOWN", "eth0"), ("NETDEV_UP", "eth0")]
    st = inet_state(lan.host)
    assert st.inet_select_addr(lan.nic, ip_int("10.0.0.1"), 0) == ip_int("10.0.0.2")


def test_carrier_loss_marks_routes_linkdown() -> None:
    lan = make_lan()
    netif_carrier_off(lan.nic)
    assert any("linkdown" in r for r in _main_routes(lan.host))
    netif_carrier_on(lan.nic)
    assert not any("linkdown" in r for r in _main_routes(lan.host))
