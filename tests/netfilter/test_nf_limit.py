"""-m limit's token bucket (xt_limit.c credit arithmetic at HZ=1000) in virtual time."""

from __future__ import annotations

from _nfutil import LAN, icmp, ipt, new_host, skb_of

from tuxnet.netfilter import NF_ACCEPT, NF_INET_LOCAL_IN
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.matches.limit import CREDITS_PER_JIFFY, format_rate, parse_rate, user2credits

MS = 1_000_000


def _accepts(host, n: int) -> list[bool]:
    return [ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(icmp("1.1.1.1", "2.2.2.2")),
                         LAN, None) == NF_ACCEPT for _ in range(n)]


def test_credit_constants() -> None:
    assert CREDITS_PER_JIFFY == 32  # largest power of two <= 0xFFFFFFFF / (1000 * 86400)
    assert parse_rate("1/sec") == 10000 and parse_rate("3/hour") == 12_000_000
    assert user2credits(10000) == 32000  # one packet per second costs 1000 jiffies of credit
    assert user2credits(0xFFFFFFFF) == (0xFFFFFFFF // 10000) * 1000 * 32  # divide first
    assert [format_rate(parse_rate(r)) for r in ("10/s", "100/minute", "7/day", "2/h")] == \
        ["10/sec", "100/min", "7/day", "2/hour"]


def test_one_per_second_burst_two() -> None:
    host = new_host()
    ipt(host, "-P INPUT DROP")
    ipt(host, "-A INPUT -p icmp -m limit --limit 1/sec --limit-burst 2 -j ACCEPT")
    assert _accepts(host, 3) == [True, True, False]  # the burst, then nothing
    host.loop.advance(999 * MS)
    assert _accepts(host, 1) == [False]  # 999 jiffies: 31968 credits < 32000
    host.loop.advance(1 * MS)
    assert _accepts(host, 2) == [True, False]  # one more per second
    host.loop.advance(10_000 * MS)
    assert _accepts(host, 3) == [True, True, False]  # refilled up to the burst only
    assert ipt(host, "-L INPUT -v -n -x").splitlines()[2].split()[:2] == ["5", "140"]


def test_rate_and_fractions() -> None:
    host = new_host()
    ipt(host, "-A INPUT -m limit --limit 4/sec --limit-burst 1 -j ACCEPT")
    ipt(host, "-P INPUT DROP")
    got = []
    for _ in range(20):
        got.append(_accepts(host, 1)[0])
        host.loop.advance(50 * MS)
    assert got.count(True) == 4  # t=0 (the burst), then every 250 ms: 250, 500, 750
    assert got[0] and got[5] and got[10] and got[15] and not got[1]
