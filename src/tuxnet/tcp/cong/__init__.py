"""Congestion control: the tcp_congestion_ops interface and its registry
(include/net/tcp.h: struct tcp_congestion_ops; net/ipv4/tcp_cong.c).

An algorithm is a :class:`TcpCongestionOps` subclass instance, registered once per
process by name and shared by every socket that uses it, as Linux shares the ops
table; per-socket state lives in ``sk.icsk_ca_priv`` (inet_csk_ca(sk)), which the
algorithm's ``init`` creates. Hooks the kernel may leave NULL are no-ops here; the two
whose absence changes the caller's path are announced by flags: ``HAS_CONG_CONTROL``
(tcp_cong_control calls ``cong_control`` instead of the cwnd-reduction/cong_avoid
pair) and ``HAS_SNDBUF_EXPAND``.

Registered: ``reno`` (tcp_reno_*), ``cubic`` (the default, net.ipv4.tcp_congestion_control
= cubic as CONFIG_DEFAULT_TCP_CONG) and ``bbr`` (BBR v1). The namespace default follows
``net.ipv4.tcp_congestion_control``; when it names an algorithm that is not registered
sockets get Reno, as tcp_assign_congestion_control falls back to tcp_reno.

Selection (TCP_CONGESTION, tcp_set_congestion_control): an unknown name is ENOENT; a
name that is neither in ``net.ipv4.tcp_allowed_congestion_control`` nor flagged
TCP_CONG_NON_RESTRICTED (BBR is) is EPERM unless the socket's owner has
CAP_NET_ADMIN (``sk.cap_net_admin``); a route with ``congctl lock NAME`` makes every
change EPERM.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = [
    "TCP_CA_NAME_MAX",
    "TCP_CONG_NEEDS_ECN",
    "TCP_CONG_NON_RESTRICTED",
    "AckSample",
    "RateSample",
    "TcpCongestionOps",
    "tcp_assign_congestion_control",
    "tcp_ca_allowed",
    "tcp_ca_dst_init",
    "tcp_ca_event",
    "tcp_ca_find",
    "tcp_cleanup_congestion_control",
    "tcp_cong_avoid",
    "tcp_get_available_congestion_control",
    "tcp_init_congestion_control",
    "tcp_register_congestion_control",
    "tcp_set_ca_state",
    "tcp_set_congestion_control",
    "tcp_unregister_congestion_control",
]

TCP_CA_NAME_MAX = 16
TCP_CONG_NON_RESTRICTED = 0x1
TCP_CONG_NEEDS_ECN = 0x2


class AckSample:
    """struct ack_sample: what pkts_acked gets."""

    __slots__ = ("in_flight", "pkts_acked", "rtt_us")

    def __init__(self, pkts_acked: int, rtt_us: int, in_flight: int) -> None:
        self.pkts_acked = pkts_acked
        self.rtt_us = rtt_us
        self.in_flight = in_flight


class RateSample:
    """struct rate_sample (tcp_rate.c): the delivery-rate sample of one ACK."""

    __slots__ = ("acked_sacked", "delivered", "interval_us", "is_ack_delayed", "is_app_limited",
                 "is_retrans", "last_end_seq", "losses", "prior_delivered", "prior_in_flight",
                 "prior_mstamp", "rcv_interval_us", "rtt_us", "snd_interval_us")

    def __init__(self) -> None:
        self.prior_mstamp = 0
        self.prior_delivered = 0
        self.delivered = 0
        self.interval_us = -1
        self.rtt_us = -1
        self.losses = 0
        self.acked_sacked = 0
        self.prior_in_flight = 0
        self.is_app_limited = False
        self.is_retrans = False
        self.is_ack_delayed = False
        self.last_end_seq = 0
        self.snd_interval_us = 0
        self.rcv_interval_us = 0


class TcpCongestionOps:
    """struct tcp_congestion_ops. Subclasses set ``name`` and override the hooks."""

    name = ""
    flags = 0
    HAS_CONG_CONTROL = False
    HAS_SNDBUF_EXPAND = False

    def init(self, sk: TcpSock) -> None:
        """init(): set up sk.icsk_ca_priv (optional)."""

    def release(self, sk: TcpSock) -> None:
        """release(): free private state (optional)."""

    def ssthresh(self, sk: TcpSock) -> int:
        """ssthresh(): the slow-start threshold after a loss (required)."""
        raise NotImplementedError

    def cong_avoid(self, sk: TcpSock, ack: int, acked: int) -> None:
        """cong_avoid(): grow cwnd on an ACK (required unless HAS_CONG_CONTROL)."""
        raise NotImplementedError

    def set_state(self, sk: TcpSock, new_state: int) -> None:
        """set_state(): called before icsk_ca_state changes (optional)."""

    def cwnd_event(self, sk: TcpSock, ev: int) -> None:
        """cwnd_event(): CA_EVENT_* notifications (optional)."""

    def in_ack_event(self, sk: TcpSock, flags: int) -> None:
        """in_ack_event(): CA_ACK_* flags of each ACK (optional)."""

    def pkts_acked(self, sk: TcpSock, sample: AckSample) -> None:
        """pkts_acked(): packets newly acked and the RTT sample (optional)."""

    def undo_cwnd(self, sk: TcpSock) -> int:
        """undo_cwnd(): the cwnd to return to after a spurious reduction (required)."""
        raise NotImplementedError

    def cong_control(self, sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
        """cong_control(): full control of cwnd and pacing (when HAS_CONG_CONTROL)."""

    def sndbuf_expand(self, sk: TcpSock) -> int:
        """sndbuf_expand(): the sndbuf multiple of cwnd (when HAS_SNDBUF_EXPAND)."""
        return 2

    def min_tso_segs(self, sk: TcpSock) -> int:
        """min_tso_segs() (0: use tcp_min_tso_segs)."""
        return 0

    def get_info(self, sk: TcpSock) -> dict[str, Any]:
        """get_info(): TCP_CC_INFO / inet_diag attributes (optional)."""
        return {}


_REGISTRY: dict[str, TcpCongestionOps] = {}


def tcp_register_congestion_control(ca: TcpCongestionOps) -> None:
    """tcp_register_congestion_control(): EEXIST if the name is taken."""
    if not ca.name or len(ca.name) >= TCP_CA_NAME_MAX:
        raise OSError(errno.EINVAL, f"bad congestion control name {ca.name!r}")
    if ca.name in _REGISTRY:
        raise OSError(errno.EEXIST, f"{ca.name} already registered")
    _REGISTRY[ca.name] = ca


def tcp_unregister_congestion_control(ca: TcpCongestionOps) -> None:
    """tcp_unregister_congestion_control()."""
    if _REGISTRY.get(ca.name) is ca:
        del _REGISTRY[ca.name]


def tcp_ca_find(name: str) -> TcpCongestionOps | None:
    """tcp_ca_find()."""
    _builtin()
    return _REGISTRY.get(name)


def tcp_get_available_congestion_control() -> str:
    """tcp_get_available_congestion_control(): the registered names."""
    _builtin()
    return " ".join(_REGISTRY)


def _builtin() -> None:
    if "reno" not in _REGISTRY:
        from tuxnet.tcp.cong.bbr import TCP_BBR
        from tuxnet.tcp.cong.cubic import TCP_CUBIC
        from tuxnet.tcp.cong.reno import TCP_RENO

        for ca in (TCP_RENO, TCP_BBR, TCP_CUBIC):  # the available list's order
            _REGISTRY.setdefault(ca.name, ca)


def tcp_assign_congestion_control(sk: TcpSock) -> None:
    """tcp_assign_congestion_control(): the namespace default, or Reno when that
    algorithm is not available."""
    ca = tcp_ca_find(sk.host.sysctl.get("net.ipv4.tcp_congestion_control").__str__())
    if ca is None:
        ca = tcp_ca_find("reno")
    assert ca is not None
    sk.icsk_ca_ops = ca
    sk.icsk_ca_priv = None


def tcp_ca_dst_init(sk: TcpSock, congctl: str, locked: bool = False) -> None:
    """tcp_ca_dst_init(): a route's ``congctl`` overrides the default."""
    if not congctl:
        return
    ca = tcp_ca_find(congctl)
    if ca is None:
        return
    if sk.icsk_ca_initialized:
        tcp_cleanup_congestion_control(sk)
        sk.icsk_ca_initialized = False
    sk.icsk_ca_dst_locked = locked
    sk.icsk_ca_ops = ca


def tcp_init_congestion_control(sk: TcpSock) -> None:
    """tcp_init_congestion_control()."""
    sk.prior_ssthresh = 0
    if sk.icsk_ca_ops is None:
        tcp_assign_congestion_control(sk)
    assert sk.icsk_ca_ops is not None
    sk.icsk_ca_ops.init(sk)
    sk.icsk_ca_initialized = True


def tcp_cleanup_congestion_control(sk: TcpSock) -> None:
    """tcp_cleanup_congestion_control()."""
    ops = sk.icsk_ca_ops
    if ops is not None:
        ops.release(sk)
    sk.icsk_ca_priv = None


def tcp_set_congestion_control(sk: TcpSock, name: str) -> int:
    """tcp_set_congestion_control() (TCP_CONGESTION): 0, -ENOENT for an unknown name,
    -EPERM when the route locked the algorithm or the name is not allowed."""
    if sk.icsk_ca_dst_locked:
        return -errno.EPERM
    ca = tcp_ca_find(name)
    if ca is None:
        return -errno.ENOENT
    if not tcp_ca_allowed(sk, ca) and not sk.cap_net_admin:
        return -errno.EPERM
    if ca is sk.icsk_ca_ops:
        return 0
    if sk.icsk_ca_initialized:
        tcp_cleanup_congestion_control(sk)
        sk.icsk_ca_ops = ca
        if sk.sk_state not in (7, 10):  # not CLOSE/LISTEN: tcp_reinit_congestion_control
            tcp_init_congestion_control(sk)
    else:
        sk.icsk_ca_ops = ca
    return 0


def tcp_ca_allowed(sk: TcpSock, ca: TcpCongestionOps) -> bool:
    """TCP_CONG_NON_RESTRICTED: the algorithm is listed in
    net.ipv4.tcp_allowed_congestion_control or flagged unrestricted (BBR)."""
    if ca.flags & TCP_CONG_NON_RESTRICTED:
        return True
    allowed = str(sk.host.sysctl.get("net.ipv4.tcp_allowed_congestion_control")).split()
    return ca.name in allowed


def tcp_set_ca_state(sk: TcpSock, ca_state: int) -> None:
    """tcp_set_ca_state(): tcp:tcp_cong_state_set, ops->set_state, then the store."""
    tp = sk.net.tp_cong_state
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skaddr=id(sk), sport=sk.inet_num, dport=sk.inet_dport, family="AF_INET",
                saddr=int_to_ip(sk.inet_saddr), daddr=int_to_ip(sk.inet_daddr),
                cong_state=ca_state)
    ops = sk.icsk_ca_ops
    if ops is not None:
        ops.set_state(sk, ca_state)
    sk.icsk_ca_state = ca_state


def tcp_ca_event(sk: TcpSock, event: int) -> None:
    """tcp_ca_event()."""
    ops = sk.icsk_ca_ops
    if ops is not None:
        ops.cwnd_event(sk, event)


def tcp_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    """tcp_cong_avoid(): ops->cong_avoid, then snd_cwnd_stamp."""
    ops = sk.icsk_ca_ops
    assert ops is not None
    ops.cong_avoid(sk, ack, acked)
    sk.snd_cwnd_stamp = sk.jiffies()
