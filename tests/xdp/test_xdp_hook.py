"""The XDP hook in the SimNic's NAPI poll: each action end to end (drop, pass, TX,
aborted, invalid), adjust_head seen by the stack, per-action counters and ethtool
names, CPU charged per run, attach/detach and their errors."""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import Any

import pytest
from _xdputil import (
    ADJUST_HEAD_PASS,
    FAULT,
    MAC_PEER,
    MAC_SWAP_TX,
    const_prog,
    frame,
    mac,
    rig,
)

from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.verifier import BpfVerifierError
from tuxnet.bpf.xdp_run import XDP_ABORTED, XDP_DROP, XDP_PASS
from tuxnet.core.dev import dev_close, dev_open
from tuxnet.drivers.veth import veth_pair
from tuxnet.skb import NET_SKB_PAD, SkbCounters
from tuxnet.xdp import XdpProg, dev_xdp_attach, dev_xdp_detach, dev_xdp_prog, dev_xdp_state
from tuxnet.xdp.hook import XDP_FLAGS_UPDATE_IF_NOEXIST


def stats(nic: Any) -> dict[str, int]:
    return dict(nic.get_ethtool_stats())


def attach(r: Any, text: str, nic: int = 0, **kw: Any) -> XdpProg:
    p = XdpProg.from_asm(r.host, text, **kw)
    dev_xdp_attach(r.nics[nic], p)
    return p


def test_drop_is_counted_and_allocates_nothing() -> None:
    r = rig()
    nic = r.nics[0]
    nic.skb_counters = SkbCounters()
    attach(r, const_prog(XDP_DROP))
    for i in range(5):
        r.inject(frame(sport=1000 + i))
    r.settle()
    assert r.passed == []
    assert nic.skb_counters.alloc == 0  # no sk_buff was ever built
    s = stats(nic)
    assert s["rx_xdp_drop"] == 5 and s["rx_queue_0_xdp_drop"] == 5
    assert s["rx_xdp_packets"] == 5 and s["rx_xdp_pass"] == 0
    assert s["rx_queue_0_packets"] == 5  # the driver still counts what it received
    assert sum(r.host.drop_counts.values()) == 0  # no skb, so no kfree_skb
    st = dev_xdp_state(nic)
    assert st is not None and st.totals()["xdp_drop"] == 5


def test_pass_gives_the_stack_the_same_frame() -> None:
    r = rig(keep_skbs=True)
    nic = r.nics[0]
    nic.skb_counters = SkbCounters()
    attach(r, const_prog(XDP_PASS))
    f = frame()
    r.inject(f)
    r.settle()
    assert [(d, x) for d, x, _ in r.passed] == [("eth0", f)]
    assert nic.skb_counters.alloc == 1
    skb = r.skbs[0]
    assert skb.mac_header == 256  # built around the XDP buffer: XDP_PACKET_HEADROOM
    assert stats(nic)["rx_xdp_pass"] == 1


def test_tx_sends_the_rewritten_frame_on_the_wire() -> None:
    r = rig()
    nic = r.nics[0]
    nic.skb_counters = SkbCounters()
    attach(r, MAC_SWAP_TX)
    f = frame()
    r.inject(f)
    r.settle()
    assert r.passed == []
    out = r.sinks[0].frames
    assert len(out) == 1
    assert out[0][:6] == MAC_PEER and out[0][6:12] == mac(1)  # MACs swapped
    assert out[0][12:] == f[12:]
    assert nic.tx_queues[0].tx_packets == 1 and nic.tx_queues[0].tx_bytes == len(f)
    assert stats(nic)["rx_xdp_tx_xmit"] == 1
    assert nic.skb_counters.alloc == 0
    assert r.sinks[1].frames == []


def test_tx_ring_full_is_an_exception_and_a_drop() -> None:
    r = rig()
    nic = r.nics[0]
    nic.set_ringparam(tx=64)
    nic.link = None  # no cable: transmitted frames stay in the ring
    attach(r, MAC_SWAP_TX)
    events: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_exception", events.append)
    for i in range(70):
        r.inject(frame(sport=i + 1))
    r.settle()
    s = stats(nic)
    assert s["rx_xdp_tx_xmit"] == 64 and s["rx_xdp_tx_full"] == 6
    assert s["rx_xdp_drop"] == 6
    assert len(events) == 6 and events[0].fields["act"] == "XDP_TX"


def test_aborted_emits_xdp_exception() -> None:
    r = rig()
    nic = r.nics[0]
    p = attach(r, const_prog(XDP_ABORTED))
    events: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_exception", events.append)
    r.host.tracepoints.enable("xdp:xdp_exception")
    r.inject(frame())
    r.settle()
    assert [e.fields for e in events] == [{"prog_id": p.id, "act": "XDP_ABORTED",
                                          "ifindex": nic.ifindex}]
    assert "xdp_exception: prog_id=" in r.host.tracepoints.trace_text()
    s = stats(nic)
    assert s["rx_xdp_aborted"] == 1 and s["rx_xdp_drop"] == 1 and r.passed == []


def test_a_fault_and_an_unknown_action_are_aborts() -> None:
    r = rig()
    nic = r.nics[0]
    p = XdpProg.from_asm(r.host, FAULT, check=False)  # the verifier would refuse it
    dev_xdp_attach(nic, p)
    events: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_exception", events.append)
    r.inject(frame())
    r.settle()
    assert stats(nic)["rx_xdp_aborted"] == 1 and "invalid read" in p.last_error
    dev_xdp_attach(nic, XdpProg.from_asm(r.host, const_prog(7)))  # bpf_warn_invalid
    r.inject(frame())
    r.settle()
    assert stats(nic)["rx_xdp_invalid"] == 1
    assert [e.fields["act"] for e in events] == ["XDP_ABORTED", "7"]
    assert r.passed == []


def test_adjust_head_is_what_the_stack_sees() -> None:
    # an outer Ethernet header (local experimental ethertype) around the real frame;
    # the program strips it with bpf_xdp_adjust_head(+14) and passes the inner frame
    r = rig(keep_skbs=True)
    attach(r, ADJUST_HEAD_PASS.format(delta=14))
    inner = frame()
    outer = mac(1) + MAC_PEER + b"\x88\xb5" + inner
    r.inject(outer)
    r.settle()
    assert [x for _, x, _ in r.passed] == [inner]
    assert r.skbs[0].mac_header == 256 + 14
    assert r.skbs[0].protocol == 0x0800


def test_adjust_head_past_the_frame_fails_in_the_helper() -> None:
    r = rig()
    attach(r, ADJUST_HEAD_PASS.format(delta=-300))  # below data_hard_start + xdp_frame
    r.inject(frame())
    r.settle()
    assert stats(r.nics[0])["rx_xdp_aborted"] == 1


def test_cpu_is_charged_per_instruction() -> None:
    def softirq_ns(extra: int) -> int:
        r = rig()
        core = r.core
        core.set_costs(replace(core.costs, xdp_insn_ns=100, xdp_prog_ns=1000))
        attach(r, "mov %r0, 1\n" * extra + const_prog(XDP_DROP))
        for i in range(3):
            r.loop.call_at(i * 1_000_000, r.inject, frame(sport=i + 1))
        r.settle(10_000_000)
        return int(core.cpus[0].busy_ns[1])

    base, more = softirq_ns(0), softirq_ns(10)
    assert more - base == 3 * 10 * 100  # 3 frames x 10 more instructions x 100 ns


def test_attach_detach_switches_the_buffer_layout() -> None:
    r = rig(keep_skbs=True)
    nic = r.nics[0]
    p = attach(r, const_prog(XDP_PASS))
    assert dev_xdp_prog(nic) is p
    r.inject(frame())
    r.settle()
    assert r.skbs[-1].mac_header == 256
    assert dev_xdp_detach(nic) is p
    assert dev_xdp_prog(nic) is None and dev_xdp_detach(nic) is None
    r.inject(frame())
    r.settle()
    assert r.skbs[-1].mac_header == NET_SKB_PAD  # the plain driver path again
    assert stats(nic)["rx_xdp_pass"] == 1  # counters survive the detach
    assert len(r.passed) == 2


def test_attach_errors() -> None:
    r = rig()
    nic = r.nics[0]
    attach(r, const_prog(XDP_PASS))
    other = XdpProg.from_asm(r.host, const_prog(XDP_DROP))
    with pytest.raises(OSError) as e:
        dev_xdp_attach(nic, other, flags=XDP_FLAGS_UPDATE_IF_NOEXIST)
    assert e.value.errno == errno.EBUSY
    assert dev_xdp_attach(nic, other) is other  # replacing is allowed by default
    for mode in ("skb", "hw"):
        with pytest.raises(OSError) as e:
            dev_xdp_attach(nic, other, mode)
        assert e.value.errno == errno.EOPNOTSUPP
    a, _ = veth_pair(r.host, "veth0", r.host, "veth1")
    with pytest.raises(OSError) as e:
        dev_xdp_attach(a, other)
    assert e.value.errno == errno.EOPNOTSUPP
    nic2 = r.nics[1]
    dev_close(nic2)
    nic2.set_mtu(9000)
    dev_open(nic2)
    with pytest.raises(OSError) as e:
        dev_xdp_attach(nic2, other)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(BpfVerifierError):
        XdpProg.from_asm(r.host, FAULT)
    with pytest.raises(BpfLoadError):
        XdpProg.from_asm(r.host, "exit\n")  # r0 never set


def test_attach_resets_the_rings_and_a_down_device_still_attaches() -> None:
    r = rig()
    nic = r.nics[0]
    dev_close(nic)
    attach(r, const_prog(XDP_DROP))
    dev_open(nic)
    r.inject(frame())
    r.settle()
    assert stats(nic)["rx_xdp_drop"] == 1


def test_both_engines_agree_on_the_lab_filter() -> None:
    from tuxnet.bpf.xdp_run import XdpBuff
    from tuxnet.labs.xdp_ddos import FILTER_ASM, _frames
    r = rig()
    legit, pool = _frames(mac(1), seed=3)
    results = {}
    for engine in ("interp", "translate"):
        p = XdpProg.from_asm(r.host, FILTER_ASM, engine=engine)
        assert p.engine == engine
        results[engine] = [p.run(XdpBuff.from_frame(f), 1, 0, 0) for f in [legit, *pool]]
    assert results["interp"] == results["translate"]
    actions = [a for a, _ in results["interp"]]
    assert actions[0] == XDP_PASS and set(actions[1:]) == {XDP_DROP}


def test_mtu_must_keep_fitting_the_xdp_page() -> None:
    r = rig()
    nic = r.nics[0]
    attach(r, const_prog(XDP_PASS))
    nic.set_mtu(3000)
    with pytest.raises(OSError) as e:
        nic.set_mtu(9000)
    assert e.value.errno == errno.EINVAL and nic.mtu == 3000
