"""UDP (RFC 768) as tcpdump 4.99 prints it: ``src.port > dst.port: UDP, length N``.

tcpdump also dissects the payload of well-known ports (DNS, NTP, DHCP, SNMP, ...);
tuxnet prints every datagram in the generic form (see tuxnet.tools.tcpdump)."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd

UDP_HDRLEN = 8


def udp_print(nd: Nd, off: int, length: int, ip_off: int, fragmented: bool) -> None:
    nd.protocol = "udp"
    src = nd.ipaddr(ip_off + 12)
    dst = nd.ipaddr(ip_off + 16)
    if not nd.ttest(off + 2, 2):
        nd.pr(f"{src} > {dst}: ")
        nd.print_trunc()
        return
    sport = nd.be16(off)
    dport = nd.be16(off + 2)
    addrs = f"{src}.{sport} > {dst}.{dport}: "
    if length < UDP_HDRLEN:
        nd.pr(f"{addrs}truncated-udp {length}")
        return
    if not nd.ttest(off + 4, 2):
        nd.pr(addrs)
        nd.print_trunc()
        return
    ulen = nd.be16(off + 4)
    if ulen < UDP_HDRLEN:
        nd.pr(f"{addrs}truncated-udplength {ulen}")
        return
    if not nd.ttest(off, UDP_HDRLEN):
        nd.pr(addrs)
        nd.print_trunc()
        return
    ulen -= UDP_HDRLEN
    length -= UDP_HDRLEN
    length = min(length, ulen)
    nd.pr(addrs)
    if not fragmented and ulen > length:
        nd.pr(f"UDP, bad length {ulen} > {length}")
    else:
        nd.pr(f"UDP, length {ulen}")
