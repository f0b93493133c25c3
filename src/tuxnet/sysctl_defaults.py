"""The net.* sysctl table: Linux names, Linux defaults, Linux value types and ranges.

Values are what a fresh network namespace shows on Linux 6.18
(``samples/sysctl_net_netns.txt``), except the four the sample's host had tuned
(tcp_congestion_control bbr, tcp_allowed_congestion_control, rmem_max, wmem_max),
which carry the kernel's built-in defaults here. Entries a child netns does not show
(net.core.netdev_budget, neigh.default, tcp_mem ...) are init_net's, marked
``netns=False``. Types and ranges follow each entry's proc handler:

* ``int``    proc_dointvec / proc_dointvec_minmax (C int)
* ``uint``   proc_douintvec(_minmax) (u32)
* ``u8``     proc_dou8vec_minmax (0..255 unless narrowed)
* ``ulong``  proc_doulongvec_minmax (u64)
* ``intvec`` / ``ulongvec``  fixed-length vectors, printed tab-separated
* ``str``    proc_dostring and the string-valued handlers

Sources: Documentation/networking/ip-sysctl.rst, Documentation/admin-guide/sysctl/net.rst,
net/ipv4/sysctl_net_ipv4.c, net/core/sysctl_net_core.c, net/ipv4/devinet.c
(devinet_sysctl), net/core/neighbour.c (neigh_sysctl_template),
net/netfilter/nf_conntrack_standalone.c. HZ is modelled as 1000, USER_HZ as 100.
"""

from __future__ import annotations

from dataclasses import dataclass

SysctlValue = int | str | tuple[int, ...]

HZ = 1000  # CONFIG_HZ modelled: jiffies == milliseconds
USER_HZ = 100  # clock_t units of proc_dointvec_userhz_jiffies
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1

# SKB_TRUESIZE(ETH_FRAME_LEN) on x86_64: 1514 + SKB_DATA_ALIGN(sizeof(struct sk_buff)) 256
# + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) 320 (net/core/neighbour.c proc_unres_qlen)
NEIGH_UNRES_TRUESIZE = 2090
# include/net/sock.h: TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff))
SOCK_MIN_RCVBUF = 2304
SOCK_MIN_SNDBUF = 2 * SOCK_MIN_RCVBUF

# Congestion controls tuxnet provides, in registration order as
# tcp_get_available_congestion_control lists them (net/ipv4/tcp_cong.c).
AVAILABLE_CONGESTION_CONTROL = "reno bbr cubic"
# Qdiscs that net.core.default_qdisc accepts (qdisc_set_default: unknown name -> ENOENT).
DEFAULT_QDISC_CHOICES = ("pfifo_fast", "pfifo", "bfifo", "fq", "fq_codel", "sfq", "noqueue")
# nf_log.N: the logger registered for each protocol family (net/netfilter/nf_log.c).
NF_LOGGERS = {2: "nf_log_ipv4", 3: "nf_log_arp", 5: "nf_log_netdev", 7: "nf_log_bridge",
              10: "nf_log_ipv6"}


@dataclass(frozen=True, slots=True)
class Spec:
    """One sysctl: default value, value type, valid range, mode and visibility."""

    default: SysctlValue
    kind: str = "int"
    lo: int | None = None
    hi: int | None = None
    ro: bool = False  # mode 0444
    netns: bool = True  # shown in a child network namespace
    deprecated: bool = False  # hidden by `sysctl -a` unless --deprecated (procps DEPRECATED[])
    alias: str | None = None  # same data as this entry (leaf name in the same dir, or full name)
    factor: int = 1  # alias value = target value // factor


def _i(default: int, lo: int | None = None, hi: int | None = None, *,
       ro: bool = False, netns: bool = True) -> Spec:
    return Spec(default, "int", lo, hi, ro=ro, netns=netns)


def _u8(default: int, lo: int | None = None, hi: int | None = None, *,
        ro: bool = False, netns: bool = True) -> Spec:
    return Spec(default, "u8", lo, hi, ro=ro, netns=netns)


def _u32(default: int, lo: int | None = None, hi: int | None = None, *,
         ro: bool = False, netns: bool = True) -> Spec:
    return Spec(default, "uint", lo, hi, ro=ro, netns=netns)


def _ul(default: int, lo: int | None = None, hi: int | None = None, *,
        ro: bool = False, netns: bool = True) -> Spec:
    return Spec(default, "ulong", lo, hi, ro=ro, netns=netns)


def _s(default: str, *, ro: bool = False, netns: bool = True) -> Spec:
    return Spec(default, "str", ro=ro, netns=netns)


_JIF = INT_MAX // HZ  # proc_dointvec_jiffies: seconds, at most INT_MAX / HZ

# fmt: off
GLOBAL: dict[str, Spec] = {
    # --- net.core (net/core/sysctl_net_core.c) -----------------------------------
    "net.core.optmem_max": _i(131072, 0),
    "net.core.rmem_default": _i(212992, SOCK_MIN_RCVBUF),
    "net.core.rmem_max": _i(212992, SOCK_MIN_RCVBUF),  # SK_RMEM_MAX
    "net.core.rps_default_mask": _s("0"),
    "net.core.somaxconn": _i(4096, 0),
    "net.core.tstamp_allow_data": _u8(1, 0, 1),
    "net.core.txrehash": _u8(1, 0, 1),
    "net.core.wmem_default": _i(212992, SOCK_MIN_SNDBUF),
    "net.core.wmem_max": _i(212992, SOCK_MIN_SNDBUF),  # SK_WMEM_MAX
    "net.core.xfrm_acq_expires": _i(30),
    "net.core.xfrm_aevent_etime": _u32(10),
    "net.core.xfrm_aevent_rseqth": _u32(2),
    "net.core.xfrm_larval_drop": _i(1),
    # init_net only
    "net.core.busy_poll": _i(0, 0, netns=False),
    "net.core.busy_read": _i(0, 0, netns=False),
    "net.core.default_qdisc": _s("pfifo_fast", netns=False),
    "net.core.dev_weight": _i(64, 1, netns=False),
    "net.core.dev_weight_rx_bias": _i(1, 1, netns=False),
    "net.core.dev_weight_tx_bias": _i(1, 1, netns=False),
    "net.core.devconf_inherit_init_net": _i(0, 0, 3, netns=False),
    "net.core.flow_limit_cpu_bitmap": _s("0", netns=False),
    "net.core.flow_limit_table_len": _i(4096, netns=False),
    "net.core.gro_normal_batch": _i(8, 1, netns=False),
    "net.core.high_order_alloc_disable": _i(0, 0, 1, netns=False),
    "net.core.max_skb_frags": _i(17, 1, 17, netns=False),  # MAX_SKB_FRAGS
    "net.core.message_burst": _i(10, netns=False),
    "net.core.message_cost": _i(5, netns=False),
    "net.core.netdev_budget": _i(300, netns=False),
    "net.core.netdev_budget_usecs": _i(2000, 0, netns=False),  # 2 * USEC_PER_SEC / HZ
    "net.core.netdev_max_backlog": _i(1000, netns=False),
    "net.core.netdev_tstamp_prequeue": _i(1, netns=False),
    "net.core.netdev_unregister_timeout_secs": _u32(10, 1, 3600, netns=False),
    "net.core.rps_sock_flow_entries": _i(0, netns=False),
    "net.core.warnings": _i(0, netns=False),

    # --- net.ipv4 (net/ipv4/sysctl_net_ipv4.c ipv4_net_table) ----------------------
    "net.ipv4.fib_multipath_hash_fields": _u32(7, 1),
    "net.ipv4.fib_multipath_hash_policy": _u8(0, 0, 3),
    "net.ipv4.fib_multipath_hash_seed": _u32(0),
    "net.ipv4.fib_multipath_use_neigh": _u8(0, 0, 1),
    "net.ipv4.fib_notify_on_flag_change": _u8(0, 0, 2),
    "net.ipv4.fwmark_reflect": _u8(0),
    "net.ipv4.icmp_echo_enable_probe": _u8(0, 0, 1),
    "net.ipv4.icmp_echo_ignore_all": _u8(0, 0, 1),
    "net.ipv4.icmp_echo_ignore_broadcasts": _u8(1, 0, 1),
    "net.ipv4.icmp_errors_use_inbound_ifaddr": _u8(0, 0, 1),
    "net.ipv4.icmp_ignore_bogus_error_responses": _u8(1, 0, 1),
    "net.ipv4.icmp_msgs_burst": _i(50, 0),
    "net.ipv4.icmp_msgs_per_sec": _i(1000, 0),
    "net.ipv4.icmp_ratelimit": _i(1000),  # ms (proc_dointvec_ms_jiffies)
    "net.ipv4.icmp_ratemask": _i(6168),  # DestUnreach | SourceQuench | TimeExceeded | ParamProb
    "net.ipv4.igmp_link_local_mcast_reports": _u8(1),
    "net.ipv4.igmp_max_memberships": _i(20),
    "net.ipv4.igmp_max_msf": _i(10),
    "net.ipv4.igmp_qrv": _i(2, 1),
    "net.ipv4.ip_autobind_reuse": _u8(0, 0, 1),
    "net.ipv4.ip_default_ttl": _u8(64, 1, 255),  # IPDEFTTL; ip_ttl_min / ip_ttl_max
    "net.ipv4.ip_dynaddr": _u8(0),
    "net.ipv4.ip_early_demux": _u8(1, 0, 1),
    "net.ipv4.ip_forward": Spec(0, "int", alias="net.ipv4.conf.all.forwarding"),
    "net.ipv4.ip_forward_update_priority": _u8(1, 0, 1),
    "net.ipv4.ip_forward_use_pmtu": _u8(0),
    "net.ipv4.ip_local_port_range": Spec((32768, 60999), "intvec", 1, 65535),
    "net.ipv4.ip_local_reserved_ports": _s(""),
    "net.ipv4.ip_no_pmtu_disc": _u8(0),
    "net.ipv4.ip_nonlocal_bind": _u8(0),
    "net.ipv4.ip_unprivileged_port_start": _i(1024, 0, 65535),
    "net.ipv4.ipfrag_high_thresh": _ul(4194304),  # 4 MB
    "net.ipv4.ipfrag_low_thresh": _ul(3145728),  # 3 MB
    "net.ipv4.ipfrag_max_dist": _i(64, 0),
    "net.ipv4.ipfrag_time": _i(30, hi=_JIF),
    "net.ipv4.nexthop_compat_mode": _u8(1, 0, 1),
    "net.ipv4.ping_group_range": Spec((1, 0), "ulongvec", 0, 4294967294),  # GID_T_MAX
    "net.ipv4.raw_l3mdev_accept": _u8(1, 0, 1),
    "net.ipv4.route.min_adv_mss": _i(256),
    "net.ipv4.route.min_pmtu": _i(552, 68),  # ip_min_valid_pmtu = IPV4_MIN_MTU
    "net.ipv4.route.mtu_expires": _i(600, hi=_JIF),
    "net.ipv4.tcp_abort_on_overflow": _u8(0),
    "net.ipv4.tcp_adv_win_scale": _i(1, -31, 31),
    "net.ipv4.tcp_allowed_congestion_control": _s("reno cubic"),
    "net.ipv4.tcp_app_win": _u8(31, 0, 31),
    "net.ipv4.tcp_autocorking": _u8(1, 0, 1),
    "net.ipv4.tcp_available_congestion_control": _s(AVAILABLE_CONGESTION_CONTROL, ro=True),
    "net.ipv4.tcp_backlog_ack_defer": _u8(1, 0, 1),
    "net.ipv4.tcp_base_mss": _i(1024),  # TCP_BASE_MSS
    "net.ipv4.tcp_challenge_ack_limit": _i(INT_MAX),
    "net.ipv4.tcp_child_ehash_entries": _u32(0, 0, 16 * 1024 * 1024),
    "net.ipv4.tcp_comp_sack_delay_ns": _ul(1000000),
    "net.ipv4.tcp_comp_sack_nr": _u8(44, 0),
    "net.ipv4.tcp_comp_sack_slack_ns": _ul(100000),
    "net.ipv4.tcp_congestion_control": _s("cubic"),  # CONFIG_DEFAULT_TCP_CONG
    "net.ipv4.tcp_dsack": _u8(1),
    "net.ipv4.tcp_early_demux": _u8(1, 0, 1),
    "net.ipv4.tcp_early_retrans": _u8(3, 0, 4),
    "net.ipv4.tcp_ecn": _u8(2, 0, 2),
    "net.ipv4.tcp_ecn_fallback": _u8(1, 0, 1),
    "net.ipv4.tcp_ecn_option": _u8(2, 0, 2),
    "net.ipv4.tcp_ecn_option_beacon": _u8(3, 0, 3),
    "net.ipv4.tcp_ehash_entries": _i(-262144, ro=True),  # negative: shares init_net's ehash
    "net.ipv4.tcp_fack": _u8(0),
    "net.ipv4.tcp_fastopen": _i(1),  # TFO_CLIENT_ENABLE
    "net.ipv4.tcp_fastopen_blackhole_timeout_sec": _u32(0, 0),
    "net.ipv4.tcp_fastopen_key": _s("00000000-00000000-00000000-00000000"),
    "net.ipv4.tcp_fin_timeout": _i(60, hi=_JIF),  # TCP_FIN_TIMEOUT
    "net.ipv4.tcp_frto": _u8(2),
    "net.ipv4.tcp_fwmark_accept": _u8(0),
    "net.ipv4.tcp_invalid_ratelimit": _i(500),  # ms
    "net.ipv4.tcp_keepalive_intvl": _i(75, hi=_JIF),
    "net.ipv4.tcp_keepalive_probes": _u8(9),
    "net.ipv4.tcp_keepalive_time": _i(7200, hi=_JIF),
    "net.ipv4.tcp_l3mdev_accept": _u8(0, 0, 1),
    "net.ipv4.tcp_limit_output_bytes": _i(4194304),
    "net.ipv4.tcp_max_reordering": _i(300),
    "net.ipv4.tcp_max_syn_backlog": _i(2048),
    "net.ipv4.tcp_max_tw_buckets": _i(131072),
    "net.ipv4.tcp_migrate_req": _u8(0, 0, 1),
    "net.ipv4.tcp_min_rtt_wlen": _i(300, 0, 86400),
    "net.ipv4.tcp_min_snd_mss": _i(48, 48, 65535),  # TCP_MIN_SND_MSS
    "net.ipv4.tcp_min_tso_segs": _u8(2, 1),
    "net.ipv4.tcp_moderate_rcvbuf": _u8(1),
    "net.ipv4.tcp_mtu_probe_floor": _i(48, 48, 65535),
    "net.ipv4.tcp_mtu_probing": _u8(0),
    "net.ipv4.tcp_no_metrics_save": _u8(0),
    "net.ipv4.tcp_no_ssthresh_metrics_save": _u8(1, 0, 1),
    "net.ipv4.tcp_notsent_lowat": _u32(UINT_MAX),
    "net.ipv4.tcp_orphan_retries": _u8(0),
    "net.ipv4.tcp_pacing_ca_ratio": _i(120, 0, 1000),
    "net.ipv4.tcp_pacing_ss_ratio": _i(200, 0, 1000),
    "net.ipv4.tcp_pingpong_thresh": _u8(1, 1),
    "net.ipv4.tcp_plb_cong_thresh": _i(128, 0, 256),
    "net.ipv4.tcp_plb_enabled": _u8(0, 0, 1),
    "net.ipv4.tcp_plb_idle_rehash_rounds": _u8(3, 0, 31),
    "net.ipv4.tcp_plb_rehash_rounds": _u8(12, 0, 31),
    "net.ipv4.tcp_plb_suspend_rto_sec": _u8(60),
    "net.ipv4.tcp_probe_interval": _u32(600, 0, UINT_MAX // HZ),
    "net.ipv4.tcp_probe_threshold": _i(8),
    "net.ipv4.tcp_recovery": _i(1),  # TCP_RACK_LOSS_DETECTION
    "net.ipv4.tcp_reflect_tos": _u8(0, 0, 1),
    "net.ipv4.tcp_reordering": _i(3),  # TCP_FASTRETRANS_THRESH
    "net.ipv4.tcp_retrans_collapse": _u8(1),
    "net.ipv4.tcp_retries1": _u8(3, 0, 255),
    "net.ipv4.tcp_retries2": _u8(15),
    "net.ipv4.tcp_rfc1337": _u8(0),
    # tcp_rmem[2] 32 MiB since 6.16 (tcp: increase tcp_rmem[2] to 32 MB)
    "net.ipv4.tcp_rmem": Spec((4096, 131072, 33554432), "intvec", 1),
    "net.ipv4.tcp_rto_max_ms": _i(120000, 1000, 120000),  # TCP_RTO_MAX
    "net.ipv4.tcp_rto_min_us": _i(200000, 1),  # TCP_RTO_MIN
    "net.ipv4.tcp_sack": _u8(1),
    "net.ipv4.tcp_shrink_window": _u8(0, 0, 1),
    "net.ipv4.tcp_slow_start_after_idle": _u8(1),
    "net.ipv4.tcp_stdurg": _u8(0),
    "net.ipv4.tcp_syn_linear_timeouts": _u8(4, 0, 127),
    "net.ipv4.tcp_syn_retries": _u8(6, 1, 127),  # TCP_SYN_RETRIES; MAX_TCP_SYNCNT
    "net.ipv4.tcp_synack_retries": _u8(5),
    "net.ipv4.tcp_syncookies": _u8(1),
    "net.ipv4.tcp_thin_linear_timeouts": _u8(0),
    "net.ipv4.tcp_timestamps": _u8(1),
    "net.ipv4.tcp_tso_rtt_log": _u8(9),
    "net.ipv4.tcp_tso_win_divisor": _u8(3),
    "net.ipv4.tcp_tw_reuse": _u8(2, 0, 2),
    "net.ipv4.tcp_tw_reuse_delay": _u32(1000, 1, 60000),  # ms, TCP_PAWS_MSL * MSEC_PER_SEC
    "net.ipv4.tcp_window_scaling": _u8(1),
    "net.ipv4.tcp_wmem": Spec((4096, 16384, 4194304), "intvec", 1),
    "net.ipv4.tcp_workaround_signed_windows": _u8(0),
    "net.ipv4.udp_child_hash_entries": _u32(0, 0, 65536),  # UDP_HTABLE_SIZE_MAX
    "net.ipv4.udp_early_demux": _u8(1, 0, 1),
    "net.ipv4.udp_hash_entries": _i(-16384, ro=True),
    "net.ipv4.udp_l3mdev_accept": _u8(0, 0, 1),
    "net.ipv4.udp_rmem_min": _i(4096, 1),
    "net.ipv4.udp_wmem_min": _i(4096, 1),
    "net.ipv4.xfrm4_gc_thresh": _i(32768),
    # init_net only (ipv4_table): memory limits in pages, modelled on a host with
    # 4,000,000 free buffer pages (tcp_init_mem: limit = pages / 16; udp_init: pages / 8)
    "net.ipv4.tcp_max_orphans": _i(131072, netns=False),  # ehash entries / 2
    "net.ipv4.tcp_mem": Spec((187500, 250000, 375000), "ulongvec", netns=False),
    "net.ipv4.udp_mem": Spec((375000, 500000, 750000), "ulongvec", netns=False),
    "net.ipv4.inet_peer_maxttl": _i(600, hi=_JIF, netns=False),
    "net.ipv4.inet_peer_minttl": _i(120, hi=_JIF, netns=False),
    "net.ipv4.inet_peer_threshold": _i(65664, netns=False),

    # --- net.netfilter (nf_conntrack_standalone.c, nf_log.c) -----------------------
    "net.netfilter.nf_conntrack_acct": _u8(0, 0, 1),
    "net.netfilter.nf_conntrack_buckets": _u32(262144),
    "net.netfilter.nf_conntrack_checksum": _u8(1, 0, 1),
    "net.netfilter.nf_conntrack_count": _i(0, ro=True),
    "net.netfilter.nf_conntrack_events": _u8(2, 0, 2),
    "net.netfilter.nf_conntrack_expect_max": _i(4096, 1),
    "net.netfilter.nf_conntrack_frag6_high_thresh": _ul(4194304),
    "net.netfilter.nf_conntrack_frag6_low_thresh": _ul(3145728),
    "net.netfilter.nf_conntrack_frag6_timeout": _i(60, hi=_JIF),
    "net.netfilter.nf_conntrack_generic_timeout": _i(600, hi=_JIF),
    "net.netfilter.nf_conntrack_gre_timeout": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_gre_timeout_stream": _i(180, hi=_JIF),
    "net.netfilter.nf_conntrack_icmp_timeout": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_icmpv6_timeout": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_log_invalid": _u8(0, 0, 255),
    "net.netfilter.nf_conntrack_max": _i(262144, 0),
    "net.netfilter.nf_conntrack_sctp_timeout_closed": _i(10, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_cookie_echoed": _i(3, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_cookie_wait": _i(3, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_established": _i(210, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_heartbeat_sent": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_shutdown_ack_sent": _i(3, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_shutdown_recd": _i(3, hi=_JIF),
    "net.netfilter.nf_conntrack_sctp_timeout_shutdown_sent": _i(3, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_be_liberal": _u8(0, 0, 1),
    "net.netfilter.nf_conntrack_tcp_ignore_invalid_rst": _u8(0, 0, 1),
    "net.netfilter.nf_conntrack_tcp_loose": _u8(1, 0, 1),
    "net.netfilter.nf_conntrack_tcp_max_retrans": _u8(3),
    "net.netfilter.nf_conntrack_tcp_timeout_close": _i(10, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait": _i(60, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_established": _i(432000, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_fin_wait": _i(120, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_last_ack": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_max_retrans": _i(300, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_syn_recv": _i(60, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_syn_sent": _i(120, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_time_wait": _i(120, hi=_JIF),
    "net.netfilter.nf_conntrack_tcp_timeout_unacknowledged": _i(300, hi=_JIF),
    "net.netfilter.nf_conntrack_timestamp": _u8(0, 0, 1),
    "net.netfilter.nf_conntrack_udp_timeout": _i(30, hi=_JIF),
    "net.netfilter.nf_conntrack_udp_timeout_stream": _i(120, hi=_JIF),
    "net.netfilter.nf_hooks_lwtunnel": _i(0, 0, 1),
}
# nf_log.<pf> for NFPROTO 0..12 that the sample lists (0..10)
for _pf in range(11):
    GLOBAL[f"net.netfilter.nf_log.{_pf}"] = _s(NF_LOGGERS.get(_pf, "NONE"))

# --- net.ipv4.conf.{all,default,DEV}.* (net/ipv4/devinet.c devinet_sysctl) ------------
# Values of conf/default (ipv4_devconf_dflt); every entry is proc_dointvec.
CONF: dict[str, Spec] = {
    "accept_local": _i(0),
    "accept_redirects": _i(1),
    "accept_source_route": _i(1),
    "arp_accept": _i(0),
    "arp_announce": _i(0),
    "arp_evict_nocarrier": _i(1),
    "arp_filter": _i(0),
    "arp_ignore": _i(0),
    "arp_notify": _i(0),
    "bc_forwarding": _i(0),
    "bootp_relay": _i(0),
    "disable_policy": _i(0),
    "disable_xfrm": _i(0),
    "drop_gratuitous_arp": _i(0),
    "drop_unicast_in_l2_multicast": _i(0),
    "force_igmp_version": _i(0),
    "forwarding": _i(0),
    "igmpv2_unsolicited_report_interval": _i(10000),
    "igmpv3_unsolicited_report_interval": _i(1000),
    "ignore_routes_with_linkdown": _i(0),
    "log_martians": _i(0),
    "mc_forwarding": _i(0, ro=True),  # DEVINET_SYSCTL_RO_ENTRY
    "medium_id": _i(0),
    "promote_secondaries": _i(0),
    "proxy_arp": _i(0),
    "proxy_arp_pvlan": _i(0),
    "route_localnet": _i(0),
    "rp_filter": _i(0),
    "secure_redirects": _i(1),
    "send_redirects": _i(1),
    "shared_media": _i(1),
    "src_valid_mark": _i(0),
    "tag": _i(0),
}
# conf/all (ipv4_devconf) differs from conf/default here
CONF_ALL_OVERRIDES: dict[str, int] = {"accept_source_route": 0}
# inetdev_init on a loopback device sets NOXFRM and NOPOLICY
CONF_LOOPBACK_OVERRIDES: dict[str, int] = {"disable_policy": 1, "disable_xfrm": 1}

# --- net.ipv4.neigh.{default,DEV}.* (net/core/neighbour.c neigh_sysctl_template) -------
# arp_tbl defaults (net/ipv4/arp.c); *_ms are milliseconds, the userhz ones clock_t.
_ZI = INT_MAX  # neigh_proc_dointvec_zero_intmax
NEIGH: dict[str, Spec] = {
    "anycast_delay": _i(100, 0, _ZI),  # 1 s in USER_HZ
    "app_solicit": _i(0, 0, _ZI),
    "base_reachable_time": Spec(30, "int", 0, _JIF, deprecated=True,
                                alias="base_reachable_time_ms", factor=1000),
    "base_reachable_time_ms": _i(30000),
    "delay_first_probe_time": _i(5, hi=_JIF),
    "gc_stale_time": _i(60, hi=_JIF),
    "interval_probe_time_ms": _i(5000, 1),
    "locktime": _i(100),  # 1 s in USER_HZ
    "mcast_resolicit": _i(0, 0, _ZI),
    "mcast_solicit": _i(3, 0, _ZI),
    "proxy_delay": _i(80),  # 0.8 s in USER_HZ
    "proxy_qlen": _i(64, 0, _ZI),
    "retrans_time": Spec(100, "int", 0, _ZI, deprecated=True,
                         alias="retrans_time_ms", factor=HZ // USER_HZ),
    "retrans_time_ms": _i(1000),
    "ucast_solicit": _i(3, 0, _ZI),
    "unres_qlen": Spec(101, "int", 0, INT_MAX // NEIGH_UNRES_TRUESIZE,
                       alias="unres_qlen_bytes", factor=NEIGH_UNRES_TRUESIZE),
    "unres_qlen_bytes": _i(212992, 0, _ZI),  # SK_WMEM_MAX
}
# table-wide knobs only under neigh/default (init_net)
NEIGH_DEFAULT_ONLY: dict[str, Spec] = {
    "gc_interval": _i(30, hi=_JIF),
    "gc_thresh1": _i(128),
    "gc_thresh2": _i(512),
    "gc_thresh3": _i(1024),
}
# fmt: on
