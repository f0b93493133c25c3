"""ipset: named sets of addresses the ``set`` match looks packets up in
(net/netfilter/ipset/ip_set_hash_ip.c, ip_set_hash_net.c, ip_set_hash_ipport.c;
ipset 7.17's user-space grammar and messages).

Types: ``hash:ip`` (addresses; a CIDR or a-b range adds each address), ``hash:net``
(networks /1../32; a lookup tries each prefix length present, longest first, as the
kernel's per-cidr walk does), ``hash:ip,port`` (address, protocol, port; ``tcp`` when
no protocol is given), and ``list:set`` (created and listed only). Every membership
test is a hash lookup, independent of the set size.

Deviation: members are listed in insertion order (the kernel lists bucket order);
"Size in memory" follows the sizes ipset 7.17 printed on 6.18 (a base plus a
per-entry size per type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.wire.addr import int_to_ip, ip_int

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.xt import XtParam

__all__ = ["IPSET_TYPES", "IpSet", "IpsetError", "IpsetStore"]

# type -> (revision, size in memory when empty, bytes per entry)
IPSET_TYPES = {"hash:ip": (6, 216, 40), "hash:net": (7, 456, 48),
               "hash:ip,port": (7, 216, 48), "list:set": (3, 88, 0)}
_PROTOS = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "icmp": 1}
_PROTO_NAMES = {v: k for k, v in _PROTOS.items()}
Elem = tuple[int, ...]


class IpsetError(Exception):
    """``ipset v7.17: <msg>`` (exit 1)."""


def _addr(text: str) -> int:
    try:
        return ip_int(text)
    except ValueError:
        raise IpsetError(f"Syntax error: cannot parse {text}: resolving to IPv4 address "
                         "failed") from None


def _cidr(text: str) -> int:
    if not text.isdigit() or int(text) > 32:
        raise IpsetError(f"Syntax error: '{text}' is out of range 0-32")
    return int(text)


def _addrs(text: str) -> list[int]:
    """An address, a-b range or CIDR, expanded to addresses (hash:ip)."""
    if "-" in text:
        lo_s, _, hi_s = text.partition("-")
        lo, hi = _addr(lo_s), _addr(hi_s)
        return list(range(lo, hi + 1))
    addr, slash, n = text.partition("/")
    a = _addr(addr)
    if not slash:
        return [a]
    bits = _cidr(n)
    m = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    base = a & m
    return list(range(base, base + (1 << (32 - bits))))


class IpSet:
    """One set: its header and its members."""

    def __init__(self, name: str, typ: str, initval: int, hashsize: int = 1024,
                 maxelem: int = 65536, timeout: int | None = None) -> None:
        self.name = name
        self.type = typ
        self.initval = initval
        self.hashsize = hashsize
        self.maxelem = maxelem
        self.timeout = timeout
        self.members: dict[Elem, None] = {}
        self.cidrs: dict[int, int] = {}  # hash:net: prefix length -> entries

    # -- elements ------------------------------------------------------------------------
    def parse_elems(self, text: str) -> list[Elem]:
        if self.type == "hash:ip":
            return [(a,) for a in _addrs(text)]
        if self.type == "hash:net":
            addr, slash, n = text.partition("/")
            bits = _cidr(n) if slash else 32
            if bits == 0:
                raise IpsetError("The value of the CIDR parameter of the IP address is "
                                 "invalid")
            m = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
            return [(_addr(addr) & m, bits)]
        if self.type == "hash:ip,port":
            ip, comma, rest = text.partition(",")
            if not comma:
                raise IpsetError(f"Syntax error: Second element is missing from {text}.")
            proto_s, colon, port_s = rest.rpartition(":")
            if not colon:
                proto_s, port_s = "tcp", rest
            proto = _PROTOS.get(proto_s)
            if proto is None:
                raise IpsetError(f"Syntax error: cannot parse '{proto_s}' as a protocol")
            if proto == 1:
                raise IpsetError(f"Cannot parse {port_s} as an ICMP type/code.")
            lo_s, dash, hi_s = port_s.partition("-")
            if not lo_s.isdigit() or (dash and not hi_s.isdigit()):
                raise IpsetError(f"Syntax error: cannot parse '{port_s}' as a {proto_s} port")
            lo = int(lo_s)
            hi = int(hi_s) if dash else lo
            return [(a, proto, p) for a in _addrs(ip) for p in range(lo, hi + 1)]
        raise IpsetError("Syntax error: the set type does not take elements")

    def fmt_elem(self, e: Elem) -> str:
        if self.type == "hash:net":
            return int_to_ip(e[0]) if e[1] == 32 else f"{int_to_ip(e[0])}/{e[1]}"
        if self.type == "hash:ip,port":
            return f"{int_to_ip(e[0])},{_PROTO_NAMES.get(e[1], str(e[1]))}:{e[2]}"
        return int_to_ip(e[0])

    def add(self, e: Elem, exist: bool) -> None:
        if e in self.members:
            if not exist:
                raise IpsetError("Element cannot be added to the set: it's already added")
            return
        if len(self.members) >= self.maxelem:
            raise IpsetError("Hash is full, cannot add more elements")
        self.members[e] = None
        if self.type == "hash:net":
            self.cidrs[e[1]] = self.cidrs.get(e[1], 0) + 1

    def delete(self, e: Elem, exist: bool) -> None:
        if e not in self.members:
            if not exist:
                raise IpsetError("Element cannot be deleted from the set: it's not added")
            return
        del self.members[e]
        if self.type == "hash:net":
            self.cidrs[e[1]] -= 1
            if not self.cidrs[e[1]]:
                del self.cidrs[e[1]]

    def flush(self) -> None:
        self.members.clear()
        self.cidrs.clear()

    def test(self, e: Elem) -> bool:
        """Membership as the kernel tests it (hash:net: longest prefix first)."""
        if self.type == "hash:net":
            addr = e[0]
            for bits in sorted(self.cidrs, reverse=True):
                m = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
                if (addr & m, bits) in self.members:
                    return True
            return False
        return e in self.members

    def kadt_test(self, par: XtParam, dirs: tuple[str, ...]) -> bool:
        """The kernel-side test of a packet (``dirs``: src/dst per dimension)."""
        data = par.data
        ip_off = 12 if dirs[0] == "src" else 16
        addr = int.from_bytes(data[ip_off:ip_off + 4], "big")
        if self.type == "hash:ip,port":
            if len(dirs) < 2 or par.fragoff:
                return False
            proto = par.proto
            if proto not in (6, 17, 132, 136):
                return False
            off = par.thoff + (0 if dirs[1] == "src" else 2)
            if len(data) < off + 2:
                return False
            port = (data[off] << 8) | data[off + 1]
            return (addr, proto, port) in self.members
        if self.type == "hash:net":
            return self.test((addr, 32))
        if self.type == "hash:ip":
            return (addr,) in self.members
        return False

    def header(self) -> str:
        if self.type == "list:set":
            return "size 8"
        s = f"family inet hashsize {self.hashsize} maxelem {self.maxelem}"
        if self.timeout is not None:
            s += f" timeout {self.timeout}"
        return s + f" bucketsize 12 initval 0x{self.initval:08x}"

    def memsize(self) -> int:
        _rev, base, per = IPSET_TYPES[self.type]
        return base + per * len(self.members)


class IpsetStore:
    """The ipsets of one host (net->ipset)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.sets: dict[str, IpSet] = {}

    def get(self, name: str) -> IpSet | None:
        return self.sets.get(name)

    def must(self, name: str) -> IpSet:
        s = self.sets.get(name)
        if s is None:
            raise IpsetError("The set with the given name does not exist")
        return s

    def create(self, name: str, typ: str, exist: bool = False, **opts: int) -> IpSet:
        if typ not in IPSET_TYPES:
            raise IpsetError(f"Syntax error: typename '{typ}' is unknown")
        old = self.sets.get(name)
        if old is not None:
            if exist and old.type == typ:
                return old
            raise IpsetError("Set cannot be created: set with the same name already exists")
        initval = self.host.rng.getrandbits(32)
        s = IpSet(name, typ, initval, **opts)
        self.sets[name] = s
        return s

    def references(self, name: str) -> int:
        """How many rules' set matches name this set (References:)."""
        from tuxnet.netfilter.matches.set import SetMatch

        nf = self.host.__dict__.get("netfilter")
        if nf is None:
            return 0
        return sum(1 for t in nf.tables.values() for c in t.chains.values()
                   for r in c.rules for m in r.matches
                   if isinstance(m, SetMatch) and m.setname == name)

    def destroy(self, name: str | None) -> None:
        names = [name] if name is not None else list(self.sets)
        for n in names:
            self.must(n)
            if self.references(n):
                raise IpsetError("Set cannot be destroyed: it is in use by a kernel component")
        for n in names:
            del self.sets[n]
