"""Match extensions; importing this package registers them all."""

from tuxnet.netfilter.matches import (  # noqa: F401 - imported to register
    addrtype,
    conntrack,
    icmp,
    limit,
    mark,
    misc,
    multiport,
    set,
    tcpudp,
)
