"""What ethtool 6.1 prints: the text of each view, from a device's ethtool_ops answers.

Pure formatting (no argument parsing, no device changes): ``tuxnet.tools.ethtool_cmd``
asks the device and hands the answers here. Each function names the ethtool 6.1
function whose output it reproduces; layouts are checked against the samples in
``shared/reference/samples/ethtool_*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuxnet.core.netdevice import (
    IFF_UP,
    NETDEV_FEATURE_NAMES,
    NETIF_F_VLAN_CHALLENGED,
    Channels,
    Coalesce,
)

if TYPE_CHECKING:
    from tuxnet.core.netdevice import NetDevice
    from tuxnet.core.ring import Ringparam

__all__ = [
    "FEATURE_STRINGS",
    "LEGACY_FLAGS",
    "FeatureState",
    "LinkSettings",
    "feature_states",
    "flag_pattern_match",
    "format_channels",
    "format_coalesce",
    "format_drvinfo",
    "format_features",
    "format_rings",
    "format_rxfh",
    "format_settings",
    "format_stats",
    "link_settings",
]

# net/ethtool/common.c netdev_features_strings, in NETIF_F_*_BIT order as Linux 6.18
# reports them (ETH_SS_FEATURES); "" = an unused bit (tx-lockless, netns-local and
# fcoe-mtu became private flags). The sample ethtool_-k_veth.txt shows this order.
FEATURE_STRINGS: tuple[str, ...] = (
    "tx-scatter-gather", "tx-checksum-ipv4", "", "tx-checksum-ip-generic",
    "tx-checksum-ipv6", "highdma", "tx-scatter-gather-fraglist", "tx-vlan-hw-insert",
    "rx-vlan-hw-parse", "rx-vlan-filter", "vlan-challenged", "tx-generic-segmentation",
    "", "", "rx-gro", "rx-lro",
    "tx-tcp-segmentation", "tx-gso-robust", "tx-tcp-ecn-segmentation",
    "tx-tcp-mangleid-segmentation", "tx-tcp6-segmentation", "tx-fcoe-segmentation",
    "tx-gre-segmentation", "tx-gre-csum-segmentation", "tx-ipxip4-segmentation",
    "tx-ipxip6-segmentation", "tx-udp_tnl-segmentation", "tx-udp_tnl-csum-segmentation",
    "tx-gso-partial", "tx-tunnel-remcsum-segmentation", "tx-sctp-segmentation",
    "tx-esp-segmentation", "tx-udp-fragmentation", "tx-udp-segmentation", "tx-gso-list",
    "tx-tcp-accecn-segmentation",
    "tx-checksum-fcoe-crc", "tx-checksum-sctp", "", "rx-ntuple-filter", "rx-hashing",
    "rx-checksum", "tx-nocache-copy", "loopback", "rx-fcs", "rx-all",
    "tx-vlan-stag-hw-insert", "rx-vlan-stag-hw-parse", "rx-vlan-stag-filter",
    "l2-fwd-offload", "hw-tc-offload", "esp-hw-offload", "esp-tx-csum-hw-offload",
    "rx-udp_tunnel-port-offload", "tls-hw-tx-offload", "tls-hw-rx-offload", "rx-gro-hw",
    "tls-hw-record", "rx-gro-list", "macsec-hw-offload", "rx-udp-gro-forwarding",
    "hsr-tag-ins-offload", "hsr-tag-rm-offload", "hsr-fwd-offload", "hsr-dup-offload",
)

# ethtool 6.1 common.c off_flag_def: (short name, long name, kernel name pattern); ufo
# is listed but never shown ("no kernel with netlink interface supports UFO")
LEGACY_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("rx", "rx-checksumming", "rx-checksum"),
    ("tx", "tx-checksumming", "tx-checksum-*"),
    ("sg", "scatter-gather", "tx-scatter-gather*"),
    ("tso", "tcp-segmentation-offload", "tx-tcp*-segmentation"),
    ("ufo", "udp-fragmentation-offload", "tx-udp-fragmentation"),
    ("gso", "generic-segmentation-offload", "tx-generic-segmentation"),
    ("gro", "generic-receive-offload", "rx-gro"),
    ("lro", "large-receive-offload", "rx-lro"),
    ("rxvlan", "rx-vlan-offload", "rx-vlan-hw-parse"),
    ("txvlan", "tx-vlan-offload", "tx-vlan-hw-insert"),
    ("ntuple", "ntuple-filters", "rx-ntuple-filter"),
    ("rxhash", "receive-hashing", "rx-hashing"),
)
_UFO = "ufo"
# include/linux/netdev_features.h NETIF_F_NEVER_CHANGE (6.18: only vlan-challenged)
_NEVER_CHANGE = NETIF_F_VLAN_CHALLENGED
_BIT_BY_NAME = {name: bit for bit, name in NETDEV_FEATURE_NAMES.items()}


def flag_pattern_match(name: str, pattern: str) -> bool:
    """ethtool netlink/features.c flag_pattern_match: ``pattern`` with at most one
    ``*`` matching any middle part."""
    star = pattern.find("*")
    if star < 0:
        return name == pattern
    head, tail = pattern[:star], pattern[star + 1:]
    return len(name) + 1 >= len(pattern) and name.startswith(head) and name.endswith(tail)


@dataclass(frozen=True, slots=True)
class FeatureState:
    """One feature bit as ETHTOOL_MSG_FEATURES_GET reports it."""

    active: bool
    hw: bool  # in hw_features: ethtool -K may change it
    wanted: bool
    nochange: bool

    @property
    def fixed(self) -> bool:
        """What -k shows as ``[fixed]``."""
        return not self.hw or self.nochange


def feature_states(dev: NetDevice) -> dict[str, FeatureState]:
    """Every named feature of :data:`FEATURE_STRINGS` for ``dev``; features tuxnet does
    not model are off and fixed (the device does not have them)."""
    out: dict[str, FeatureState] = {}
    for name in FEATURE_STRINGS:
        if not name:
            continue
        bit = _BIT_BY_NAME.get(name, 0)
        on = bool(dev.features & bit)
        out[name] = FeatureState(on, bool(dev.hw_features & bit), on,
                                 bool(bit & _NEVER_CHANGE))
    return out


def _feature_line(st: FeatureState, name: str, prefix: str) -> str:
    # netlink/features.c dump_feature
    suffix = ""
    if st.fixed:
        suffix = " [fixed]"
    elif st.active != st.wanted:
        suffix = " [requested on]" if st.wanted else " [requested off]"
    return f"{prefix}{name}: {'on' if st.active else 'off'}{suffix}\n"


def format_features(dev: NetDevice) -> str:
    """ethtool -k (netlink/features.c features_reply_cb + dump_features): the legacy
    flags with their features (tab-indented when a flag covers several), then every
    other feature in bit order."""
    states = feature_states(dev)
    names = [n for n in FEATURE_STRINGS if n]
    owner: dict[str, int] = {}
    for name in names:
        for i, (_, _, pattern) in enumerate(LEGACY_FLAGS):
            if flag_pattern_match(name, pattern):
                owner[name] = i
                break
    lines = [f"Features for {dev.name}:\n"]
    for i, (short, long_name, _) in enumerate(LEGACY_FLAGS):
        if short == _UFO:
            continue
        members = [n for n in names if owner.get(n) == i]
        if len(members) != 1:
            on = any(states[n].active for n in members)
            lines.append(f"{long_name}: {'on' if on else 'off'}\n")
        if len(members) == 1:
            lines.append(_feature_line(states[members[0]], long_name, ""))
        else:
            lines += [_feature_line(states[n], n, "\t") for n in members]
    lines += [_feature_line(states[n], n, "") for n in names if n not in owner]
    return "".join(lines)


# -- ethtool DEV (netlink/settings.c) ---------------------------------------------------

# include/uapi/linux/ethtool.h PORT_*; netlink/settings.c names_port
PORT_TP, PORT_OTHER = 0x00, 0xFF
_PORT_NAMES = {0x00: "Twisted Pair", 0x01: "AUI", 0x02: "BNC", 0x03: "MII", 0x04: "FIBRE",
               0x05: "Direct Attach Copper", 0xEF: "None", 0xFF: "Other"}
DUPLEX_HALF, DUPLEX_FULL, DUPLEX_UNKNOWN = 0x00, 0x01, 0xFF
_DUPLEX_NAMES = {DUPLEX_HALF: "Half", DUPLEX_FULL: "Full"}
SPEED_UNKNOWN = -1


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """get_link_ksettings of a device with no link modes to report (software and
    simulated devices): speed in Mb/s (SPEED_UNKNOWN), duplex, port."""

    speed: int
    duplex: int
    port: int


def link_settings(dev: NetDevice) -> LinkSettings | None:
    """The device's get_link_ksettings, None when it has none (loopback). veth:
    veth_get_link_ksettings (10000 full, TP); SimNic: its link's rate, full, Other; a
    driver may define ``get_link_ksettings()`` returning a LinkSettings itself."""
    own = getattr(dev, "get_link_ksettings", None)
    if callable(own):
        got = own()
        return got if isinstance(got, LinkSettings) else None
    driver = type(dev).driver_name
    if driver == "veth":
        return LinkSettings(10_000, DUPLEX_FULL, PORT_TP)  # veth.c veth_get_link_ksettings
    if driver == "simnic":
        link = getattr(dev, "link", None)
        rate = getattr(getattr(link, "config", None), "rate_bps", None)
        speed = rate // 1_000_000 if isinstance(rate, int) and rate > 0 else SPEED_UNKNOWN
        return LinkSettings(speed, DUPLEX_FULL if link is not None else DUPLEX_UNKNOWN,
                            PORT_OTHER)
    if driver == "loopback":
        return None
    return LinkSettings(SPEED_UNKNOWN, DUPLEX_UNKNOWN, PORT_OTHER)


def link_detected(dev: NetDevice) -> bool:
    """__ethtool_get_link: netif_running && netif_carrier_ok."""
    return bool(dev.flags & IFF_UP) and bool(dev.carrier)


def format_settings(dev: NetDevice) -> str:
    """ethtool DEV (netlink/settings.c nl_gset): link modes and link info when the
    device reports them, then "Link detected" (linkstate), under one banner."""
    lines = [f"Settings for {dev.name}:\n"]
    ls = link_settings(dev)
    if ls is not None:
        # dump_our_modes: no link modes, pause or FEC bits are reported
        lines += ["\tSupported ports: [  ]\n",
                  "\tSupported link modes:   Not reported\n",
                  "\tSupported pause frame use: No\n",
                  "\tSupports auto-negotiation: No\n",
                  "\tSupported FEC modes: Not reported\n",
                  "\tAdvertised link modes:  Not reported\n",
                  "\tAdvertised pause frame use: No\n",
                  "\tAdvertised auto-negotiation: No\n",
                  "\tAdvertised FEC modes: Not reported\n"]
        # linkmodes_reply_cb: 0, 0xffff and 0xffffffff print as unknown
        speed = ls.speed
        if speed <= 0 or speed in (0xFFFF, 0xFFFFFFFF):
            lines.append("\tSpeed: Unknown!\n")
        else:
            lines.append(f"\tSpeed: {speed}Mb/s\n")
        lines.append(_enum_line("Duplex", _DUPLEX_NAMES, ls.duplex))
        lines.append("\tAuto-negotiation: off\n")
        # linkinfo_reply_cb
        lines.append(_enum_line("Port", _PORT_NAMES, ls.port))
        lines.append("\tPHYAD: 0\n")
        lines.append("\tTransceiver: internal\n")
        if ls.port == PORT_TP:
            lines.append("\tMDI-X: Unknown\n")  # dump_mdix: ETH_TP_MDI_INVALID
    lines.append(f"\tLink detected: {'yes' if link_detected(dev) else 'no'}\n")
    return "".join(lines)


def _enum_line(label: str, names: dict[int, str], value: int) -> str:
    # netlink/settings.c print_enum
    name = names.get(value)
    if name is None:
        return f"\t{label}: Unknown! ({value})\n"
    return f"\t{label}: {name}\n"


# -- the other views ----------------------------------------------------------------------

_DRVINFO_KEYS = ("driver", "version", "firmware-version", "expansion-rom-version",
                 "bus-info", "supports-statistics", "supports-test",
                 "supports-eeprom-access", "supports-register-dump", "supports-priv-flags")


def format_drvinfo(info: dict[str, str]) -> str:
    """ethtool -i (ethtool.c dump_drvinfo)."""
    return "".join(f"{key}: {info.get(key, '')}\n" for key in _DRVINFO_KEYS)


def _u32(label: str, value: int | None) -> str:
    # netlink/netlink.h show_u32: "n/a" when the kernel left the attribute out
    return f"{label}n/a\n" if value is None else f"{label}{value}\n"


def format_rings(name: str, rp: Ringparam) -> str:
    """ethtool -g (ethtool 6.1 netlink/rings.c rings_reply_cb). The kernel leaves out
    the mini/jumbo pair when its maximum is 0, rx-buf-len and cqe-size when 0 and
    tcp-data-split when unknown; TX Push is always reported."""
    def opt(mx: int, cur: int) -> tuple[int | None, int | None]:
        return (mx, cur) if mx else (None, None)

    mini_max, mini = opt(rp.rx_mini_max_pending, rp.rx_mini_pending)
    jumbo_max, jumbo = opt(rp.rx_jumbo_max_pending, rp.rx_jumbo_pending)
    return "".join([
        f"Ring parameters for {name}:\n", "Pre-set maximums:\n",
        _u32("RX:\t\t", rp.rx_max_pending), _u32("RX Mini:\t", mini_max),
        _u32("RX Jumbo:\t", jumbo_max), _u32("TX:\t\t", rp.tx_max_pending),
        "Current hardware settings:\n",
        _u32("RX:\t\t", rp.rx_pending), _u32("RX Mini:\t", mini),
        _u32("RX Jumbo:\t", jumbo), _u32("TX:\t\t", rp.tx_pending),
        _u32("RX Buf Len:\t", None), _u32("CQE Size:\t", None),
        "TX Push:\toff\n", "TCP data split:\tn/a\n",
    ])


# what ethtool 6.1 -c shows, in order: (label, Coalesce field or None = not modelled)
_COALESCE_ROWS: tuple[tuple[tuple[str, str | None], ...], ...] = (
    (("stats-block-usecs: ", None), ("sample-interval: ", None), ("pkt-rate-low: ", None),
     ("pkt-rate-high: ", None)),
    (("rx-usecs: ", "rx_usecs"), ("rx-frames: ", "rx_max_frames"), ("rx-usecs-irq: ", None),
     ("rx-frames-irq: ", None)),
    (("tx-usecs: ", "tx_usecs"), ("tx-frames: ", "tx_max_frames"), ("tx-usecs-irq: ", None),
     ("tx-frames-irq: ", None)),
    (("rx-usecs-low: ", None), ("rx-frame-low: ", None), ("tx-usecs-low: ", None),
     ("tx-frame-low: ", None)),
    (("rx-usecs-high: ", None), ("rx-frame-high: ", None), ("tx-usecs-high: ", None),
     ("tx-frame-high: ", None)),
)


def format_coalesce(name: str, c: Coalesce, supported: frozenset[str]) -> str:
    """ethtool -c (ethtool 6.1 netlink/coalesce.c coalesce_reply_cb, before 6.2's
    JSON rework): "label: value" lines in blank-line separated groups; parameters the
    driver does not support (not in ``supported``, Coalesce field names) are left out
    by the kernel and print "n/a"."""
    def flag(field: str) -> str:
        return ("on" if getattr(c, field) else "off") if field in supported else "n/a"

    lines = [f"Coalesce parameters for {name}:\n",
             f"Adaptive RX: {flag('use_adaptive_rx')}  TX: {flag('use_adaptive_tx')}\n"]
    for group in _COALESCE_ROWS:
        for label, field in group:
            value = getattr(c, field) if field is not None and field in supported else None
            lines.append(_u32(label, value))
        lines.append("\n")
    lines.append("CQE mode RX: n/a  TX: n/a\n\n")
    return "".join(lines)


def format_channels(name: str, ch: Channels) -> str:
    """ethtool -l (netlink/channels.c channels_reply_cb); a kind of channel whose
    maximum is 0 is left out by the kernel (n/a) for both its lines."""
    def pair(mx: int, cur: int) -> tuple[int | None, int | None]:
        return (mx, cur) if mx else (None, None)

    rx = pair(ch.max_rx, ch.rx_count)
    tx = pair(ch.max_tx, ch.tx_count)
    other = pair(ch.max_other, ch.other_count)
    comb = pair(ch.max_combined, ch.combined_count)
    return "".join([
        f"Channel parameters for {name}:\n", "Pre-set maximums:\n",
        _u32("RX:\t\t", rx[0]), _u32("TX:\t\t", tx[0]), _u32("Other:\t\t", other[0]),
        _u32("Combined:\t", comb[0]), "Current hardware settings:\n",
        _u32("RX:\t\t", rx[1]), _u32("TX:\t\t", tx[1]), _u32("Other:\t\t", other[1]),
        _u32("Combined:\t", comb[1]),
    ])


def format_stats(stats: Sequence[tuple[str, int]]) -> str:
    """ethtool -S (ethtool.c do_gstats): "NIC statistics:" then 5-space indented
    "name: value" lines (names cut to ETH_GSTRING_LEN - 1 = 31 characters)."""
    return "NIC statistics:\n" + "".join(f"     {n[:31]}: {v}\n" for n, v in stats)


# ETH_SS_RSS_HASH_FUNCS of Linux 6.18 (net/ethtool/common.c rss_hash_func_strings)
RSS_HASH_FUNCS = ("toeplitz", "xor", "crc32")


def format_rxfh(name: str, ring_count: int, indir: Sequence[int], key: bytes,
                hfunc: int) -> str:
    """ethtool -x (ethtool 6.1 ioctl path: do_grxfh, common.c print_indir_table,
    print_rss_hkey): the indirection table 8 entries a row, the key as colon-separated
    hex, the hash functions by bit of ``hfunc`` (0 = the driver reports none)."""
    lines = [f"RX flow hash indirection table for {name} with {ring_count} RX ring(s):\n"]
    if not indir:
        lines.append("Operation not supported\n")
    for start in range(0, len(indir), 8):
        row = "".join(f" {q:5d}" for q in indir[start:start + 8])
        lines.append(f"{start:5d}: {row}\n")
    lines.append("RSS hash key:\n")
    lines.append(":".join(f"{b:02x}" for b in key) + "\n" if key
                 else "Operation not supported\n")
    lines.append("RSS hash function:\n")
    if not hfunc:
        lines.append("    Operation not supported\n")
    else:
        lines += [f"    {fn}: {'on' if hfunc & (1 << i) else 'off'}\n"
                  for i, fn in enumerate(RSS_HASH_FUNCS)]
    return "".join(lines)
