"""tcp_v4_rcv under hostile input (hypothesis): random bytes and mutated segments aimed
at a listener and at an established connection never raise, and every segment is
either kept by a socket queue or freed with a counted reason."""

from __future__ import annotations

import contextlib
from typing import Any

from _tcpwire import MS, A, B, Wire, pair, seg_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp.ip_glue import ipv4_tcp_skb
from tuxnet.tcp.ipv4 import tcp_v4_rcv
from tuxnet.tcp.sock import TcpSock

# what a hostile segment may legitimately be dropped for
ALLOWED = {R.PKT_TOO_SMALL, R.TCP_CSUM, R.NO_SOCKET, R.TCP_FLAGS, R.TCP_OLD_SEQUENCE,
           R.TCP_INVALID_SEQUENCE, R.TCP_RESET, R.TCP_INVALID_SYN, R.TCP_OLD_ACK,
           R.TCP_TOO_OLD_ACK, R.TCP_ACK_UNSENT_DATA, R.TCP_RFC7323_PAWS, R.TCP_OVERWINDOW,
           R.TCP_ZEROWINDOW, R.TCP_OFOMERGE, R.TCP_OLD_DATA, R.TCP_OFO_DROP, R.TCP_CLOSE,
           R.SOCKET_BACKLOG, R.TCP_OFO_QUEUE_PRUNE, R.PROTO_MEM, R.TCP_RFC7323_PAWS_ACK,
           R.TCP_RFC7323_TW_PAWS, R.TCP_RFC7323_TSECR, R.TCP_LISTEN_OVERFLOW,
           R.TCP_INVALID_ACK_SEQUENCE}

OPTION_BITS = [b"\x01", b"\x00", b"\x02\x04\x05\xb4", b"\x03\x03\x07", b"\x04\x02",
               b"\x08\x0a" + bytes(8), b"\x05\x0a" + bytes(8), b"\x05\x12" + bytes(16),
               b"\x02\x01", b"\x08\x00", b"\xfe\x02", b"\x05"]


class Tracker:
    """Deliver a segment and check where its skb went."""

    def __init__(self, w: Wire, socks: list[TcpSock]) -> None:
        self.w = w
        self.socks = socks
        self.freed: dict[int, Any] = {}
        for h in (w.a, w.b):
            h.tracepoints.subscribe("skb:kfree_skb", self._on_free)
            h.tracepoints.subscribe("skb:consume_skb", self._on_free)

    def _on_free(self, ev: Any) -> None:
        self.freed[ev.fields["skbaddr"]] = ev.fields.get("reason", "consumed")

    def send(self, data: bytes, to_a: bool = False) -> None:
        w = self.w
        host = w.a if to_a else w.b
        saddr, daddr = (B, A) if to_a else (A, B)
        skb = ipv4_tcp_skb(saddr, daddr, data)
        self.freed.clear()
        tcp_v4_rcv(host, skb)  # must not raise
        key = id(skb)
        if key in self.freed:
            reason = self.freed[key]
            assert reason == "consumed" or reason in ALLOWED, reason
            return
        held = any(skb is q for sk in self.socks
                   for q in (*sk.sk_receive_queue, *sk.out_of_order_queue))
        assert held, "a segment vanished without a drop reason"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_random_bytes_never_raise(blobs: list[bytes]) -> None:
    w = Wire()
    c, s, lst = pair(w)
    t = Tracker(w, [c, s, lst])
    for blob in blobs:
        t.send(blob)
        t.send(blob, to_a=True)
    w.run(50 * MS)


segment = st.fixed_dictionaries({
    "dport": st.sampled_from(["conn", "listen", "other"]),
    "to_a": st.booleans(),
    "dseq": st.integers(-70000, 70000) | st.sampled_from([0, 1, -1, 0x7FFFFFFF]),
    "dack": st.integers(-70000, 70000) | st.sampled_from([0, 1, -1, 0x80000000]),
    "flags": st.integers(0, 255),
    "window": st.integers(0, 65535),
    "options": st.lists(st.sampled_from(OPTION_BITS) | st.binary(max_size=6), max_size=5),
    "payload": st.integers(0, 3000),
    "bad_csum": st.integers(0, 9),
    "doff": st.integers(0, 15) | st.none(),
    "run": st.integers(0, 3),
})


def _setup(w: Wire, phase: int) -> tuple[TcpSock, TcpSock, TcpSock]:
    """Put the pair in a state worth attacking: established, half closed, both closed
    (TIME_WAIT), a request pending on the listener, or the client still in SYN_SENT."""
    from tuxnet.tcp import proto

    c, s, lst = pair(w)
    if phase == 1:
        proto.tcp_close(c)
    elif phase == 2:
        proto.tcp_close(c)
        w.run(100 * MS)
        proto.tcp_close(s)
    elif phase == 3:
        w.drop = lambda seg: True
        w.inject(w.b, seg_bytes(40999, 8080, 7, 0, 0x02, 1000, saddr=A, daddr=B), saddr=A)
    elif phase == 4:
        w.drop = lambda seg: True
        c = proto.tcp_v4_init_sock(w.a)
        with contextlib.suppress(BlockingIOError):
            proto.inet_stream_connect(c, B, 8080, 0)
    w.run(10 * MS)
    return c, s, lst


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 4), st.lists(segment, min_size=1, max_size=12))
def test_mutated_segments_never_raise(phase: int, segs: list[dict[str, Any]]) -> None:
    w = Wire()
    c, s, lst = _setup(w, phase)
    t = Tracker(w, [c, s, lst])
    for d in segs:
        to_a = d["to_a"]
        me, peer = (c, s) if to_a else (s, c)
        if d["dport"] == "conn":
            sport, dport = peer.inet_sport, me.inet_sport
        elif d["dport"] == "listen":
            sport, dport = 40000 + d["flags"], 8080
        else:
            sport, dport = 1234, 4321
        seq = (me.rcv_nxt + d["dseq"]) & 0xFFFFFFFF
        ack = (me.snd_una + d["dack"]) & 0xFFFFFFFF
        opts = b"".join(d["options"])[:40]
        saddr, daddr = (B, A) if to_a else (A, B)
        data = bytearray(seg_bytes(sport, dport, seq, ack, d["flags"], d["window"],
                                   bytes(d["payload"]), opts, saddr=saddr, daddr=daddr))
        if d["doff"] is not None:
            data[12] = (d["doff"] << 4) | (data[12] & 0x0F)
        if d["bad_csum"] == 0:
            data[16] ^= 0x55
        t.send(bytes(data), to_a=to_a)
        if d["run"]:
            w.run(d["run"] * 20 * MS)
    w.run(2_000 * MS)
    # the stack still works: the connection is either alive or properly closed
    assert c.sk_state in range(1, 12) and s.sk_state in range(1, 12)
