"""The per-net sysctl copies the IPv4 packet path reads (Ipv4.sysctls): a write after
the cache is warm changes behaviour on the next packet, as an uncached read would."""

from __future__ import annotations

from typing import Any

from _iputil import Lan, icmp, make_lan

from tuxnet.ipv4.inet import SysctlCache, ip_state


def _ping(lan: Lan, seq: int) -> list[dict[str, Any]]:
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, (7 << 16) | seq, b"abc")))
    return [p for p in lan.take_ip() if p.get("icmp_type") == 0]


def test_default_ttl_change_after_warm_cache_applies_to_next_reply() -> None:
    lan = make_lan()
    assert [p["ttl"] for p in _ping(lan, 1)] == [64]
    assert "net.ipv4.ip_default_ttl" in ip_state(lan.host).sysctls  # warm
    lan.host.sysctl.set("net.ipv4.ip_default_ttl", 33)
    assert [p["ttl"] for p in _ping(lan, 2)] == [33]
    lan.host.sysctl.set("net.ipv4.ip_default_ttl", "64")
    assert [p["ttl"] for p in _ping(lan, 3)] == [64]


def test_icmp_echo_ignore_all_after_warm_cache() -> None:
    lan = make_lan()
    assert len(_ping(lan, 1)) == 1
    lan.host.sysctl.set("net.ipv4.icmp_echo_ignore_all", 1)
    assert _ping(lan, 2) == []
    assert lan.host.mib.icmpmsg[8] == 2  # InType8: received, not answered
    lan.host.sysctl.set("net.ipv4.icmp_echo_ignore_all", 0)
    assert len(_ping(lan, 3)) == 1


def test_no_pmtu_disc_after_warm_cache_clears_df() -> None:
    lan = make_lan()
    # ICMP replies go out with IP_PMTUDISC_DONT whatever the knob says; ip_send_skb's
    # default mode (a socket-less sender) reads it
    from tuxnet.ipv4.ip_output import ip_send_skb
    from tuxnet.skb import alloc_skb
    from tuxnet.wire.addr import ip_int

    def send() -> dict[str, Any]:
        skb = alloc_skb(128)
        skb.reserve(100)
        skb.put_data(b"\x00" * 8)
        assert ip_send_skb(lan.host, skb, 0, ip_int("10.0.0.1"), 253) == 0
        lan.run(1_000_000)
        (pkt,) = lan.take_ip()
        return pkt

    assert send()["df"]  # IP_PMTUDISC_WANT, fits the path MTU
    lan.host.sysctl.set("net.ipv4.ip_no_pmtu_disc", 1)
    assert not send()["df"]  # the default socket mode is now IP_PMTUDISC_DONT
    lan.host.sysctl.set("net.ipv4.ip_no_pmtu_disc", 0)
    assert send()["df"]


def test_cache_rereads_by_the_name_asked_for() -> None:
    lan = make_lan()
    cache = SysctlCache(lan.host.sysctl)
    assert cache.get_int("net/ipv4/icmp_ratelimit") == 1000
    lan.host.sysctl.set("net.ipv4.icmp_ratelimit", 250)
    assert cache.get_int("net/ipv4/icmp_ratelimit") == 250
    lan.host.sysctl.kernel_set("net.ipv4.icmp_ratelimit", 100)  # kernel writes too
    assert cache.get_int("net/ipv4/icmp_ratelimit") == 100
