"""Tracepoints: Linux names, subscribe/emit/unsubscribe, free when off, ftrace buffer."""

from __future__ import annotations

import re

import pytest

from tuxnet.dropreason import SkbDropReason
from tuxnet.trace import DEFINITIONS, TraceError, TraceEvent, Tracepoints

LINUX_NAMES = ["skb:kfree_skb", "skb:consume_skb", "net:netif_receive_skb", "net:net_dev_xmit",
               "net:net_dev_queue", "napi:napi_poll", "tcp:tcp_probe", "tcp:tcp_retransmit_skb",
               "sock:inet_sock_set_state", "xdp:xdp_exception", "net:netif_rx",
               "irq:softirq_entry", "qdisc:qdisc_dequeue", "tcp:tcp_send_reset"]


class Clock:
    def __init__(self) -> None:
        self.now = 0
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.now


def test_linux_names_are_registered() -> None:
    tps = Tracepoints()
    for name in LINUX_NAMES:
        assert name in tps
        assert tps[name].name == name
    assert tps.names() == sorted(DEFINITIONS)
    assert tps["skb:kfree_skb"].fields == ("skbaddr", "location", "rx_sk", "protocol", "reason")


def test_unknown_names_are_rejected() -> None:
    tps = Tracepoints()
    with pytest.raises(TraceError, match="unknown tracepoint 'skb:kfree'"):
        tps.subscribe("skb:kfree", lambda ev: None)
    with pytest.raises(TraceError, match="unknown tracepoint"):
        tps.emit("net:nope", len=1)
    with pytest.raises(TraceError, match="unknown tracepoint"):
        tps.enable("nosys:*")
    with pytest.raises(TraceError):
        tps.enabled("kfree_skb")  # needs system:event


def test_subscribe_emit_unsubscribe() -> None:
    clock = Clock()
    tps = Tracepoints(clock)
    tp = tps["net:netif_receive_skb"]
    assert not tp.active and not tps.enabled("net:netif_receive_skb")
    got: list[TraceEvent] = []
    other: list[TraceEvent] = []
    sub = tps.subscribe("net:netif_receive_skb", got.append)
    sub2 = tps.subscribe("net:netif_receive_skb", other.append)
    assert tp.active
    clock.now = 1500
    tp.emit(name="eth0", skbaddr=0x10, len=60)
    tps.emit("net:netif_receive_skb", name="eth0", skbaddr=0x11, len=61)
    assert [(e.ts_ns, e.fields["len"]) for e in got] == [(1500, 60), (1500, 61)]
    assert len(other) == 2
    sub.unsubscribe()
    sub.unsubscribe()  # idempotent
    assert tp.active
    tp.emit(name="eth0", skbaddr=0x12, len=62)
    assert len(got) == 2 and len(other) == 3
    with sub2:
        pass
    assert not tp.active
    tp.emit(name="eth0", skbaddr=0x13, len=63)
    assert len(other) == 3


def test_no_work_when_nobody_listens() -> None:
    clock = Clock()
    calls: list[int] = []

    def context() -> tuple[str, int, int, str]:
        calls.append(1)
        return ("x", 1, 0, ".....")

    tps = Tracepoints(clock, context=context)
    tp = tps["skb:kfree_skb"]
    for _ in range(1000):
        tp.emit(skbaddr=1, bogus_field=2)  # not even checked while inactive
        tps.emit("skb:kfree_skb", skbaddr=1)
    assert clock.calls == 0 and calls == []
    tps.subscribe("skb:kfree_skb", lambda ev: None)
    with pytest.raises(TraceError, match="unknown field"):
        tp.emit(skbaddr=1, bogus_field=2)


def test_kfree_skb_text_follows_tp_printk() -> None:
    tps = Tracepoints()
    text = tps["skb:kfree_skb"].format({"skbaddr": 0xFFFF8881ABCD0000, "rx_sk": None,
                                        "protocol": 2048, "location": "tcp_v4_rcv",
                                        "reason": SkbDropReason.NO_SOCKET})
    assert text == ("skbaddr=ffff8881abcd0000 rx_sk=0000000000000000 protocol=2048 "
                    "location=tcp_v4_rcv reason: NO_SOCKET")
    probe = tps["tcp:tcp_probe"].format({"family": "AF_INET", "saddr": "10.0.0.1:5201",
                                         "daddr": "10.0.0.2:40000", "snd_nxt": 0x1000,
                                         "snd_cwnd": 10, "sock_cookie": 0x2a})
    assert probe.startswith("family=AF_INET src=10.0.0.1:5201 dest=10.0.0.2:40000 mark=0x0 "
                            "data_len=0 snd_nxt=0x1000 snd_una=0x0 snd_cwnd=10 ")
    assert "sock_cookie=2a " in probe


def test_ring_buffer_like_ftrace() -> None:
    clock = Clock()
    tps = Tracepoints(clock, context=lambda: ("ksoftirqd/1", 22, 1, "..s1."))
    assert tps.enable("skb:*") == ["skb:kfree_skb", "skb:consume_skb",
                                   "skb:skb_copy_datagram_iovec"]
    assert tps.enable("napi_poll") == ["napi:napi_poll"]
    assert tps["skb:kfree_skb"].active
    clock.now = 12_345_678_901
    tps["skb:consume_skb"].emit(skbaddr=0xABC, location="tcp_rcv_established")
    tps["napi:napi_poll"].emit(napi=0x1000, dev_name="eth0", work=3, budget=64)
    tps["net:net_dev_xmit"].emit(skbaddr=1, len=2, rc=0, name="eth0")  # not enabled
    text = tps.trace_text()
    assert "# entries-in-buffer/entries-written: 2/2   #P:1" in text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        "     ksoftirqd/1-22      [001] ..s1.    12.345678: consume_skb: "
        "skbaddr=0000000000000abc location=tcp_rcv_established",
        "     ksoftirqd/1-22      [001] ..s1.    12.345678: napi_poll: "
        "napi poll on napi struct 0000000000001000 for device eth0 work 3 budget 64",
    ]
    assert re.match(r"^\s+\S+-\d+\s+\[\d{3}\] \S{5}\s+\d+\.\d{6}: \w+: ", lines[0])
    assert tps.set_event() == ["skb:kfree_skb", "skb:consume_skb",
                               "skb:skb_copy_datagram_iovec", "napi:napi_poll"]
    tps.disable("*:*")
    assert not tps["skb:kfree_skb"].active
    tps.clear()
    assert tps.events() == []


def test_ring_buffer_overwrites_oldest() -> None:
    tps = Tracepoints(buffer_entries=3)
    tps.enable("net:netif_rx")
    for i in range(5):
        tps["net:netif_rx"].emit(name="eth0", skbaddr=i, len=i)
    assert [e.fields["len"] for e in tps.events()] == [2, 3, 4]
    assert "entries-in-buffer/entries-written: 3/5" in tps.trace_text()


def test_define_new_tracepoints() -> None:
    tps = Tracepoints()
    tp = tps.define("tuxnet:sim_event", ("what",), "what={what}")
    got: list[str] = []
    tps.subscribe("tuxnet:sim_event", lambda ev: got.append(tp.format(ev.fields)))
    tp.emit(what="hello")
    assert got == ["what=hello"]
    with pytest.raises(TraceError, match="already defined"):
        tps.define("tuxnet:sim_event", (), "")
    with pytest.raises(TraceError, match="system:event"):
        tps.define("nosystem", (), "")
