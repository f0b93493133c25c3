"""TCP connection tracking: the state walk the kernel harness observed on 6.18
(reference netfilter-and-formats.md 1.3), window tracking, invalid segments."""

from __future__ import annotations

from _ctutil import SEC, A, B, advance, ct_host, find, line, walk
from _nfutil import tcp

from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED,
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_NEW,
    IPS_ASSURED,
    IPS_SEEN_REPLY,
)

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
ISN_C, ISN_S = 1000, 5000


def _state(ct: object) -> str:
    from tuxnet.netfilter.conntrack.show import state_name

    s = state_name(ct)  # type: ignore[arg-type]
    assert s is not None
    return s


def _handshake(cn: object) -> object:
    ct, _info, _ = walk(cn, tcp(A, B, 40000, 80, SYN, ISN_C))  # type: ignore[arg-type]
    walk(cn, tcp(B, A, 80, 40000, SYN | ACK, ISN_S, ISN_C + 1))  # type: ignore[arg-type]
    walk(cn, tcp(A, B, 40000, 80, ACK, ISN_C + 1, ISN_S + 1))  # type: ignore[arg-type]
    return ct


def test_full_walk_states_and_timeouts() -> None:
    _host, cn = ct_host()
    ct, info, v = walk(cn, tcp(A, B, 40000, 80, SYN, ISN_C))
    assert v == 1 and info == IP_CT_NEW
    assert line(cn, ct) == (
        "tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.9.9.9 sport=40000 dport=80 [UNREPLIED] "
        "src=10.9.9.9 dst=10.1.0.2 sport=80 dport=40000 mark=0 use=1")
    ct2, info, _ = walk(cn, tcp(B, A, 80, 40000, SYN | ACK, ISN_S, ISN_C + 1))
    assert ct2 is ct and info == IP_CT_ESTABLISHED_REPLY
    assert _state(ct) == "SYN_RECV" and " 60 SYN_RECV" in line(cn, ct)
    assert "[UNREPLIED]" not in line(cn, ct) and ct.status & IPS_SEEN_REPLY
    _, info, _ = walk(cn, tcp(A, B, 40000, 80, ACK, ISN_C + 1, ISN_S + 1))
    assert info == IP_CT_ESTABLISHED
    assert " 432000 ESTABLISHED" in line(cn, ct) and line(cn, ct).endswith(
        "[ASSURED] mark=0 use=1")
    # data not yet acknowledged: the UNACK timeout (300 s), then back to 5 days
    walk(cn, tcp(A, B, 40000, 80, ACK | PSH, ISN_C + 1, ISN_S + 1, payload=b"x" * 100))
    assert " 300 ESTABLISHED" in line(cn, ct)
    walk(cn, tcp(B, A, 80, 40000, ACK, ISN_S + 1, ISN_C + 101))
    assert " 432000 ESTABLISHED" in line(cn, ct)
    walk(cn, tcp(A, B, 40000, 80, FIN | ACK, ISN_C + 101, ISN_S + 1))
    assert " 120 FIN_WAIT" in line(cn, ct)
    walk(cn, tcp(B, A, 80, 40000, ACK, ISN_S + 1, ISN_C + 102))
    assert " 60 CLOSE_WAIT" in line(cn, ct)
    walk(cn, tcp(B, A, 80, 40000, FIN | ACK, ISN_S + 1, ISN_C + 102))
    assert " 30 LAST_ACK" in line(cn, ct)
    walk(cn, tcp(A, B, 40000, 80, ACK, ISN_C + 102, ISN_S + 2))
    assert " 120 TIME_WAIT" in line(cn, ct)
    # a new SYN on the same tuple reopens: the old entry is killed, a new one made
    ct3, info, _ = walk(cn, tcp(A, B, 40000, 80, SYN, ISN_C + 100000))
    assert ct3 is not ct and info == IP_CT_NEW and _state(ct3) == "SYN_SENT"
    assert find(cn, A, B, 6, 40000, 80) is ct3 and cn.count == 1
    assert cn.stats[0].search_restart == 1


def test_rst_after_syn_recv_closes_with_10s() -> None:
    host, cn = ct_host()
    ct, _, _ = walk(cn, tcp(A, B, 40001, 80, SYN, ISN_C))
    walk(cn, tcp(B, A, 80, 40001, SYN | ACK, ISN_S, ISN_C + 1))
    walk(cn, tcp(A, B, 40001, 80, RST, ISN_C + 1))
    assert " 10 CLOSE" in line(cn, ct)
    advance(host, 11 * SEC)
    assert find(cn, A, B, 6, 40001, 80) is None and cn.count == 0


def test_rst_as_only_reply_deletes_the_entry() -> None:
    _host, cn = ct_host()
    walk(cn, tcp(A, B, 40002, 80, SYN, ISN_C))
    assert cn.count == 1
    walk(cn, tcp(B, A, 80, 40002, RST | ACK, 0, ISN_C + 1))
    assert find(cn, A, B, 6, 40002, 80) is None and cn.count == 0


def test_syn_retransmission_stays_new_and_does_not_refresh() -> None:
    host, cn = ct_host()
    ct, _, _ = walk(cn, tcp(A, B, 40003, 80, SYN, ISN_C))
    advance(host, 3 * SEC)
    ct2, info, _ = walk(cn, tcp(A, B, 40003, 80, SYN, ISN_C))
    assert ct2 is ct and info == IP_CT_NEW
    assert " 117 SYN_SENT" in line(cn, ct)


def test_synack_first_is_invalid_and_leaves_no_entry() -> None:
    _host, cn = ct_host()
    ct, _info, v = walk(cn, tcp(A, B, 40004, 80, SYN | ACK, ISN_S, ISN_C))
    assert ct is None and v == 1 and cn.count == 0 and cn.stats[0].invalid == 1


def test_midstream_pickup_loose_and_strict() -> None:
    host, cn = ct_host()
    ct, info, _ = walk(cn, tcp(A, B, 40005, 443, ACK, ISN_C, ISN_S))
    assert info == IP_CT_NEW
    assert " 300 ESTABLISHED" in line(cn, ct) and "[UNREPLIED]" in line(cn, ct)
    walk(cn, tcp(B, A, 443, 40005, ACK, ISN_S, ISN_C))
    walk(cn, tcp(A, B, 40005, 443, ACK, ISN_C, ISN_S))
    assert ct.status & IPS_ASSURED
    host.sysctl.set("net.netfilter.nf_conntrack_tcp_loose", 0)
    ct, _, _ = walk(cn, tcp(A, B, 40006, 443, ACK, ISN_C, ISN_S))
    assert ct is None and find(cn, A, B, 6, 40006, 443) is None


def test_out_of_window_data_is_invalid_unless_liberal() -> None:
    host, cn = ct_host()
    ct = _handshake(cn)
    far = ISN_C + 1 + 10_000_000
    got, _, _ = walk(cn, tcp(A, B, 40000, 80, ACK, far, ISN_S + 1, payload=b"y" * 10))
    assert got is None and cn.stats[0].invalid == 1
    # an ACK for data never sent (over the upper bound) is invalid too
    got, _, _ = walk(cn, tcp(B, A, 80, 40000, ACK, ISN_S + 1, ISN_C + 5000))
    assert got is None
    host.sysctl.set("net.netfilter.nf_conntrack_tcp_be_liberal", 1)
    got, info, _ = walk(cn, tcp(A, B, 40000, 80, ACK, far, ISN_S + 1, payload=b"y" * 10))
    assert got is ct and info == IP_CT_ESTABLISHED


def test_window_scale_learned_from_syn_options() -> None:
    _host, cn = ct_host()
    wscale7 = bytes([1, 3, 3, 7])  # NOP, window scale 7
    ct, _, _ = walk(cn, tcp(A, B, 40007, 80, SYN, ISN_C, options=wscale7))
    walk(cn, tcp(B, A, 80, 40007, SYN | ACK, ISN_S, ISN_C + 1, options=wscale7, window=1000))
    walk(cn, tcp(A, B, 40007, 80, ACK, ISN_C + 1, ISN_S + 1, window=1000))
    seen = ct.tcp.seen  # type: ignore[union-attr]
    assert seen[0].td_scale == 7 and seen[1].td_scale == 7
    # the SYN/ACK's window is never scaled (RFC 7323 2.2): data 60000 bytes on is out
    got, _, _ = walk(cn, tcp(A, B, 40007, 80, ACK, ISN_C + 1 + 60000, ISN_S + 1,
                             payload=b"z" * 100, window=1000))
    assert got is None
    # once the server advertises 1000 << 7 bytes, it is inside the window
    walk(cn, tcp(B, A, 80, 40007, ACK, ISN_S + 1, ISN_C + 1, window=1000))
    got, _, _ = walk(cn, tcp(A, B, 40007, 80, ACK, ISN_C + 1 + 60000, ISN_S + 1,
                             payload=b"z" * 100, window=1000))
    assert got is ct


def test_bad_checksum_and_bad_flags_are_invalid() -> None:
    host, cn = ct_host()
    pkt = bytearray(tcp(A, B, 40008, 80, SYN, ISN_C))
    pkt[36] ^= 0xFF  # corrupt the TCP checksum
    ct, _, _ = walk(cn, bytes(pkt))
    assert ct is None
    host.sysctl.set("net.netfilter.nf_conntrack_checksum", 0)
    ct, _, _ = walk(cn, bytes(pkt))
    assert ct is not None
    ct, _, _ = walk(cn, tcp(A, B, 40009, 80, SYN | FIN, ISN_C))
    assert ct is None and cn.stats[0].invalid == 2


def test_timeouts_follow_the_sysctls() -> None:
    host, cn = ct_host()
    host.sysctl.set("net.netfilter.nf_conntrack_tcp_timeout_syn_sent", 5)
    ct, _, _ = walk(cn, tcp(A, B, 40010, 80, SYN, ISN_C))
    assert " 5 SYN_SENT" in line(cn, ct)
    advance(host, 4 * SEC)
    assert cn.count == 1
    advance(host, 2 * SEC)
    assert cn.count == 0 and host.sysctl.get("net.netfilter.nf_conntrack_count") == 0
