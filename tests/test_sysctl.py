"""The sysctl tree: Linux names, defaults, value rules and handler side effects."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tuxnet.sysctl import Spec, Sysctl, SysctlError, canonical_name

# The sample's host had tuned these; tuxnet keeps the kernel's built-in defaults.
HOST_TUNED = {
    "net.core.rmem_max": "212992",
    "net.core.wmem_max": "212992",
    "net.ipv4.tcp_allowed_congestion_control": "reno cubic",
    "net.ipv4.tcp_congestion_control": "cubic",
}


@pytest.fixture
def netns() -> Sysctl:
    """A tree shaped like the sample's namespace: lo and veth0."""
    s = Sysctl()
    s.register_device("lo", loopback=True)
    s.register_device("veth0")
    return s


def sample_lines(reference_dir: Path) -> list[str]:
    path = reference_dir / "samples" / "sysctl_net_netns.txt"
    return path.read_text().splitlines()


def test_every_sample_line_is_reproduced_in_order(netns: Sysctl, reference_dir: Path) -> None:
    ours = netns.format_all().splitlines()
    index = {line: i for i, line in enumerate(ours)}
    positions = []
    for line in sample_lines(reference_dir):
        name = line.split(" = ", 1)[0]
        if name in HOST_TUNED:
            assert f"{name} = {HOST_TUNED[name]}" in index, name
            positions.append(index[f"{name} = {HOST_TUNED[name]}"])
            continue
        assert line in index, f"missing or different: {line!r}"
        positions.append(index[line])
    assert positions == sorted(positions), "sysctl -a order differs from the sample"


def test_every_sample_name_reads_the_sample_value(netns: Sysctl, reference_dir: Path) -> None:
    for line in sample_lines(reference_dir):
        name, _, value = line.partition(" = ")
        expected = HOST_TUNED.get(name, value)
        assert netns.format_value(name) == expected, name
        assert netns.format(name) == f"{name} = {expected}"


def test_extra_init_net_defaults() -> None:
    s = Sysctl()
    assert s.get("net.core.netdev_budget") == 300
    assert s.get("net.core.netdev_budget_usecs") == 2000
    assert s.get("net.core.netdev_max_backlog") == 1000
    assert s.get("net.core.rps_sock_flow_entries") == 0
    assert s.get("net.core.dev_weight") == 64
    assert s.get("net.core.flow_limit_table_len") == 4096
    assert s.get("net.core.somaxconn") == 4096
    assert s.get("net.ipv4.tcp_rmem") == (4096, 131072, 33554432)
    assert s.get("net.ipv4.tcp_wmem") == (4096, 16384, 4194304)
    assert s.get("net.ipv4.tcp_congestion_control") == "cubic"
    assert "cubic" in str(s.get("net.ipv4.tcp_available_congestion_control")).split()
    assert s.get("net.ipv4.neigh.default.gc_thresh3") == 1024
    assert s.get("net.ipv4.neigh.default.unres_qlen") == 101
    assert s.get_int("net.ipv4.icmp_ratemask") == 6168
    assert len(s.get("net.ipv4.tcp_mem")) == 3  # type: ignore[arg-type]


def test_sorted_like_the_kernel_rbtree() -> None:
    names = Sysctl().names()
    assert names == sorted(names, key=lambda n: [c.encode() for c in n.split(".")])
    i = names.index
    assert i("net.netfilter.nf_log.1") < i("net.netfilter.nf_log.10") < i("net.netfilter.nf_log.2")
    assert i("net.ipv4.ip_forward") < i("net.ipv4.ip_forward_update_priority")


def test_names_with_slashes_and_proc_prefix() -> None:
    s = Sysctl()
    assert s.get("net/ipv4/tcp_rmem") == s.get("net.ipv4.tcp_rmem")
    assert s.get("/proc/sys/net/ipv4/ip_default_ttl") == 64
    assert "net/core/somaxconn" in s
    assert "net.core.nope" not in s


def test_device_with_a_dot_shows_as_slash() -> None:
    s = Sysctl()
    s.register_device("eth0.100")
    assert "net.ipv4.conf.eth0/100.forwarding" in s.names()
    assert s.get("net/ipv4/conf/eth0.100/rp_filter") == 0
    assert canonical_name("net/ipv4/conf/eth0.100/rp_filter") == "net.ipv4.conf.eth0/100.rp_filter"


def test_integer_parsing_is_the_kernels() -> None:
    s = Sysctl()
    assert s.set("net.ipv4.ip_default_ttl", "0x40") == 64
    assert s.set("net.ipv4.ip_default_ttl", "010") == 8  # octal, as strtoul base 0
    assert s.set("net.ipv4.ip_default_ttl", " 200\n") == 200
    for bad in ("08", "64abc", "", "1.5", "0x", "--1"):
        with pytest.raises(SysctlError):
            s.set("net.ipv4.ip_default_ttl", bad)
    assert s.get("net.ipv4.ip_default_ttl") == 200


def test_ranges_follow_the_proc_handlers() -> None:
    s = Sysctl()
    for name, bad in [("net.ipv4.ip_default_ttl", 0), ("net.ipv4.ip_default_ttl", 256),
                      ("net.ipv4.tcp_sack", 256), ("net.ipv4.tcp_ecn", 3),
                      ("net.ipv4.tcp_pacing_ss_ratio", 1001), ("net.core.somaxconn", -1),
                      ("net.ipv4.tcp_notsent_lowat", -1), ("net.core.rmem_max", 100),
                      ("net.ipv4.tcp_rto_max_ms", 999), ("net.ipv4.tcp_min_rtt_wlen", 86401),
                      ("net.netfilter.nf_conntrack_max", 2**31)]:
        with pytest.raises(SysctlError) as info:
            s.set(name, bad)
        assert str(info.value) == f'sysctl: setting key "{name}": Invalid argument'
        assert info.value.errno == errno.EINVAL
    assert s.set("net.ipv4.tcp_adv_win_scale", -2) == -2
    assert s.set("net.ipv4.tcp_notsent_lowat", 2**32 - 1) == 2**32 - 1


def test_vectors() -> None:
    s = Sysctl()
    assert s.set("net.ipv4.tcp_rmem", "4096 87380 33554432") == (4096, 87380, 33554432)
    assert s.format("net.ipv4.tcp_rmem") == "net.ipv4.tcp_rmem = 4096\t87380\t33554432"
    # fewer values change only the first ones; extra values are ignored
    assert s.set("net.ipv4.tcp_rmem", "8192") == (8192, 87380, 33554432)
    assert s.set("net.ipv4.tcp_rmem", [1, 2, 3, 4]) == (1, 2, 3)
    assert s.set("net.ipv4.tcp_wmem", (4096, 65536, 8388608)) == (4096, 65536, 8388608)
    with pytest.raises(SysctlError):
        s.set("net.ipv4.tcp_rmem", "0 1 2")  # extra1 = SYSCTL_ONE


def test_unknown_and_read_only_and_directory_errors() -> None:
    s = Sysctl()
    with pytest.raises(SysctlError) as info:
        s.get("net.foo")
    assert str(info.value) == "sysctl: cannot stat /proc/sys/net/foo: No such file or directory"
    assert info.value.errno == errno.ENOENT
    with pytest.raises(SysctlError, match="cannot stat /proc/sys/net/ipv4/tcp_nope"):
        s.set("net/ipv4/tcp_nope", 1)
    with pytest.raises(SysctlError) as info:
        s.set("net.ipv4.tcp_available_congestion_control", "reno")
    assert str(info.value) == ('sysctl: setting key "net.ipv4.tcp_available_congestion_control":'
                               ' Operation not permitted')
    with pytest.raises(SysctlError, match="Operation not permitted"):
        s.set("net.netfilter.nf_conntrack_count", 5)
    with pytest.raises(SysctlError, match="Is a directory"):
        s.get("net.ipv4.conf.all")
    with pytest.raises(TypeError, match="not an integer"):
        s.get_int("net.ipv4.tcp_rmem")


def test_congestion_control_names() -> None:
    s = Sysctl()
    with pytest.raises(SysctlError) as info:
        s.set("net.ipv4.tcp_congestion_control", "vegas")
    assert str(info.value).endswith(": No such file or directory")
    s.set("net.ipv4.tcp_congestion_control", "bbr")
    assert s.get("net.ipv4.tcp_allowed_congestion_control") == "reno bbr cubic"
    assert s.set("net.ipv4.tcp_allowed_congestion_control", "cubic reno") == "reno cubic"
    with pytest.raises(SysctlError, match="No such file"):
        s.set("net.ipv4.tcp_allowed_congestion_control", "reno westwood")


def test_watch_fires_on_change_only_and_unwatch() -> None:
    s = Sysctl()
    seen: list[tuple[str, object]] = []
    unwatch = s.watch("net/core/netdev_budget", lambda n, v: seen.append((n, v)))
    s.set("net.core.netdev_budget", 600)
    s.set("net.core.netdev_budget", 600)  # unchanged: no call
    s.set("net.core.netdev_budget", "50")
    assert seen == [("net.core.netdev_budget", 600), ("net.core.netdev_budget", 50)]
    unwatch()
    s.set("net.core.netdev_budget", 300)
    assert len(seen) == 2
    with pytest.raises(SysctlError, match="cannot stat"):
        s.watch("net.core.nope", lambda n, v: None)


def test_watch_pattern_sees_propagated_changes() -> None:
    s = Sysctl()
    s.register_device("eth0")
    s.register_device("eth1")
    seen: list[tuple[str, object]] = []
    stop = s.watch("net.ipv4.conf.*.forwarding", lambda n, v: seen.append((n, v)))
    s.set("net.ipv4.ip_forward", 1)
    assert sorted(seen) == [("net.ipv4.conf.all.forwarding", 1),
                            ("net.ipv4.conf.default.forwarding", 1),
                            ("net.ipv4.conf.eth0.forwarding", 1),
                            ("net.ipv4.conf.eth1.forwarding", 1)]
    stop()
    s.set("net.ipv4.ip_forward", 0)
    assert len(seen) == 4


def test_ip_forward_is_conf_all_forwarding() -> None:
    s = Sysctl()
    s.register_device("eth0")
    fwd: list[object] = []
    s.watch("net.ipv4.ip_forward", lambda n, v: fwd.append(v))
    s.set("net.ipv4.ip_forward", 1)
    assert fwd == [1]
    assert s.get("net.ipv4.conf.all.forwarding") == 1
    assert s.get("net.ipv4.conf.default.forwarding") == 1
    assert s.get("net.ipv4.conf.eth0.forwarding") == 1
    assert s.get("net.ipv4.conf.all.accept_redirects") == 0  # inet_forward_change
    s.set("net.ipv4.conf.all.forwarding", 0)
    assert s.get("net.ipv4.ip_forward") == 0
    assert s.get("net.ipv4.conf.eth0.forwarding") == 0
    assert s.get("net.ipv4.conf.all.accept_redirects") == 1
    # a device's own switch and conf.default.forwarding stay local
    s.set("net.ipv4.conf.eth0.forwarding", 1)
    s.set("net.ipv4.conf.default.forwarding", 1)
    assert s.get("net.ipv4.ip_forward") == 0


def test_conf_default_reaches_devices_that_did_not_set_it() -> None:
    s = Sysctl()
    s.register_device("eth0")
    s.register_device("eth1")
    s.set("net.ipv4.conf.eth1.rp_filter", 2)
    s.set("net.ipv4.conf.default.rp_filter", 1)
    assert s.get("net.ipv4.conf.eth0.rp_filter") == 1
    assert s.get("net.ipv4.conf.eth1.rp_filter") == 2
    assert s.get("net.ipv4.conf.all.rp_filter") == 0
    s.register_device("eth2")  # a new device copies the current default
    assert s.get("net.ipv4.conf.eth2.rp_filter") == 1
    s.set("net.ipv4.neigh.default.ucast_solicit", 5)
    assert s.get("net.ipv4.neigh.eth0.ucast_solicit") == 5


def test_in_dev_conf_combines_all_and_device() -> None:
    s = Sysctl()
    s.register_device("eth0")
    s.set("net.ipv4.conf.all.rp_filter", 2)
    s.set("net.ipv4.conf.eth0.rp_filter", 1)
    assert s.in_dev_conf("eth0", "rp_filter") == 2  # MAXCONF
    assert s.in_dev_conf("eth0", "accept_source_route") == 0  # ANDCONF, all = 0
    s.set("net.ipv4.conf.all.log_martians", 1)
    assert s.in_dev_conf("eth0", "log_martians") == 1  # ORCONF
    assert s.in_dev_conf("eth0", "forwarding") == 0


def test_neighbour_views_and_deprecated_aliases() -> None:
    s = Sysctl()
    s.register_device("eth0")
    assert s.set("net.ipv4.neigh.eth0.unres_qlen", 50) == 50
    assert s.get("net.ipv4.neigh.eth0.unres_qlen_bytes") == 50 * 2090
    s.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 212992)
    assert s.get("net.ipv4.neigh.eth0.unres_qlen") == 101
    assert s.get("net.ipv4.neigh.eth0.retrans_time") == 100  # USER_HZ
    s.set("net.ipv4.neigh.eth0.retrans_time", 50)
    assert s.get("net.ipv4.neigh.eth0.retrans_time_ms") == 500
    assert s.get("net.ipv4.neigh.eth0.base_reachable_time") == 30
    assert "net.ipv4.neigh.eth0.retrans_time = 50" not in s.format_all()
    assert "net.ipv4.neigh.eth0.retrans_time = 50" in s.format_all(deprecated=True)


def test_loopback_and_device_registration() -> None:
    s = Sysctl()
    s.register_device("lo", loopback=True)
    assert s.get("net.ipv4.conf.lo.disable_policy") == 1
    assert s.get("net.ipv4.conf.lo.disable_xfrm") == 1
    for bad in ("lo", "all", "default"):
        with pytest.raises(SysctlError, match="File exists"):
            s.register_device(bad)
    for bad in ("", "a/b", "x" * 16, "a b"):
        with pytest.raises(SysctlError, match="invalid device name"):
            s.register_device(bad)
    s.unregister_device("lo")
    assert "net.ipv4.conf.lo.forwarding" not in s
    assert s.devices() == []


def test_handlers_with_kernel_rules() -> None:
    s = Sysctl()
    assert s.set("net.core.rps_sock_flow_entries", 1000) == 1024
    assert s.set("net.core.rps_sock_flow_entries", 0) == 0
    with pytest.raises(SysctlError):
        s.set("net.core.rps_sock_flow_entries", (1 << 29) + 1)
    with pytest.raises(SysctlError):
        s.set("net.core.flow_limit_table_len", 1000)
    with pytest.raises(SysctlError):
        s.set("net.ipv4.ip_local_port_range", "40000 30000")
    with pytest.raises(SysctlError):
        s.set("net.ipv4.ip_local_port_range", "1000 2000")  # below unprivileged start
    assert s.set("net.ipv4.ip_local_port_range", "1024 65535") == (1024, 65535)
    with pytest.raises(SysctlError):
        s.set("net.ipv4.ip_unprivileged_port_start", 2000)
    assert s.set("net.ipv4.ping_group_range", "100 10") == (1, 0)
    assert s.set("net.ipv4.ping_group_range", "0 2147483647") == (0, 2147483647)
    ports = s.set("net.ipv4.ip_local_reserved_ports", "8080,9000-9002,9003, 22")
    assert ports == "22,8080,9000-9003"
    assert s.format("net.ipv4.ip_local_reserved_ports") == \
        "net.ipv4.ip_local_reserved_ports = 22,8080,9000-9003"
    with pytest.raises(SysctlError):
        s.set("net.ipv4.ip_local_reserved_ports", "70000")
    assert s.set("net.ipv4.tcp_fastopen_key", "1-2-3-4") == "00000001-00000002-00000003-00000004"
    with pytest.raises(SysctlError):
        s.set("net.ipv4.tcp_fastopen_key", "xyz")
    with pytest.raises(SysctlError, match="No such file"):
        s.set("net.core.default_qdisc", "nosuchq")
    assert s.set("net.core.default_qdisc", "fq") == "fq"
    with pytest.raises(SysctlError, match="No such file"):
        s.set("net.netfilter.nf_log.2", "nf_log_ipv6")
    assert s.set("net.netfilter.nf_log.2", "NONE") == "NONE"
    with pytest.raises(SysctlError):
        s.set("net.ipv4.ipfrag_high_thresh", 1000)  # below ipfrag_low_thresh


def test_kernel_set_validator_provider_register() -> None:
    s = Sysctl()
    s.kernel_set("net.netfilter.nf_conntrack_count", 7)
    assert s.get("net.netfilter.nf_conntrack_count") == 7
    count = [3]
    s.set_provider("net.netfilter.nf_conntrack_count", lambda: count[0])
    count[0] = 9
    assert s.get("net.netfilter.nf_conntrack_count") == 9

    def even(v: object) -> object:
        if not isinstance(v, int) or v % 2:
            raise ValueError("odd")
        return v
    s.set_validator("net.core.netdev_budget", even)  # type: ignore[arg-type]
    with pytest.raises(SysctlError, match="Invalid argument"):
        s.set("net.core.netdev_budget", 301)
    assert s.set("net.core.netdev_budget", 302) == 302

    s.register("net.core.tuxnet_test", Spec(5, "int", 0, 10))
    assert s.get("net.core.tuxnet_test") == 5
    with pytest.raises(SysctlError):
        s.set("net.core.tuxnet_test", 11)
    with pytest.raises(SysctlError, match="already registered"):
        s.register("net.core.tuxnet_test", Spec(5))


def test_directory_format_lists_the_subtree() -> None:
    s = Sysctl()
    s.register_device("lo", loopback=True)
    text = s.format("net.ipv4.neigh.lo")
    assert text.splitlines()[0] == "net.ipv4.neigh.lo.anycast_delay = 100"
    assert "retrans_time =" not in text
    assert s.is_dir("net/ipv4/conf") and not s.is_dir("net.ipv4.tcp_sack")


def test_table_wide_neigh_default_knob_with_devices() -> None:
    """neigh.default.gc_thresh* have no per-device copy; setting them must not fail."""
    s = Sysctl()
    s.register_device("eth0")
    s.set("net.ipv4.neigh.default.gc_thresh2", "600")
    assert s.get("net.ipv4.neigh.default.gc_thresh2") == 600
