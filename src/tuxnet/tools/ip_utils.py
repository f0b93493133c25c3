"""What the ``ip`` objects share: iproute2's argument parsing helpers, its error
messages and exit codes (lib/utils.c), and the name tables of lib/rt_names.c with the
/etc/iproute2 files of iproute2 6.1 (rt_protos, rt_scopes, rt_tables).

Errors are raised as :class:`IpError` carrying the text ip prints and its exit code:
255 for the command-line errors that call ``exit(-1)`` (invarg, duparg2, "Command line
is not complete"), 1 for get_prefix failures and missing devices, 2 for answers of the
kernel (``RTNETLINK answers: ...`` / ``Error: <extack>.``).
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "RTN_NAMES",
    "RT_PROTOS",
    "RT_SCOPES",
    "RT_TABLES",
    "ArgStream",
    "IpError",
    "get_addr",
    "get_prefix",
    "matches",
    "name_to_number",
    "number_to_name",
]


class IpError(Exception):
    """An error ip prints (``str()``) before exiting with ``rc``."""

    def __init__(self, message: str, rc: int) -> None:
        super().__init__(message)
        self.rc = rc


# /etc/iproute2/rt_protos (iproute2 6.1)
RT_PROTOS: dict[int, str] = {
    0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
    10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp",
    18: "keepalived", 42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf",
    189: "rip", 192: "eigrp",
}
# /etc/iproute2/rt_scopes
RT_SCOPES: dict[int, str] = {0: "global", 200: "site", 253: "link", 254: "host",
                             255: "nowhere"}
# /etc/iproute2/rt_tables
RT_TABLES: dict[int, str] = {253: "default", 254: "main", 255: "local"}
# lib/rt_names.c rtnl_rtntype_n2a
RTN_NAMES: dict[int, str] = {
    0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
    6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat",
    11: "xresolve",
}


def matches(arg: str, word: str) -> bool:
    """lib/utils.c matches(): ``arg`` is a non-empty prefix of ``word``."""
    return bool(arg) and word.startswith(arg)


def number_to_name(table: dict[int, str], value: int) -> str:
    """rtnl_*_n2a(): the name, else the number."""
    return table.get(value, str(value))


def name_to_number(table: dict[int, str], text: str, limit: int = 255) -> int | None:
    """rtnl_*_a2n(): a name of the table or a number (decimal or 0x hex) up to
    ``limit``; None when neither."""
    for value, name in table.items():
        if name == text:
            return value
    return get_unsigned(text, limit)


def get_unsigned(text: str, limit: int = 0xFFFFFFFF) -> int | None:
    """get_unsigned() / get_u32(): strtoul with base 0, rejecting junk and overflow."""
    if not text[:1].isdigit():
        return None
    try:
        if text[:2].lower() == "0x":
            value = int(text[2:], 16)
        elif len(text) > 1 and text[0] == "0":
            value = int(text[1:], 8)
        else:
            value = int(text, 10)
    except ValueError:
        return None
    return value if value <= limit else None


def get_addr(text: str) -> int | None:
    """get_addr_ipv4(): one to four dot-separated parts read as strtoul base 0
    (``010`` is 8), missing ones zero (``10.20`` is 10.20.0.0); None if not one."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    value = 0
    for p in parts:
        n = get_unsigned(p, 255)
        if n is None:
            return None
        value = (value << 8) | n
    return value << (8 * (4 - len(parts)))


def get_prefix(text: str) -> tuple[int, int, bool]:
    """get_prefix(): ``A[/LEN]``, ``default``, ``any`` or ``all`` -> (address, length,
    length given). An error is get_prefix's message with exit code 1."""
    if text in ("default", "any", "all"):
        return 0, 0, True
    addr_text, slash, len_text = text.partition("/")
    addr = get_addr(addr_text)
    plen = 32
    if slash:
        n = get_unsigned(len_text, 32)
        if n is None:
            addr = None
        else:
            plen = n
    if addr is None:
        raise IpError(f'Error: any valid prefix is expected rather than "{text}".', 1)
    return addr, plen, bool(slash)


def invarg(msg: str, arg: str) -> IpError:
    """invarg(): ``Error: argument "ARG" is wrong: MSG`` and exit(-1)."""
    return IpError(f'Error: argument "{arg}" is wrong: {msg}', 255)


def duparg2(key: str, arg: str) -> IpError:
    """duparg2(): the garbage / duplicate keyword message and exit(-1)."""
    return IpError(f'Error: either "{key}" is duplicate, or "{arg}" is a garbage.', 255)


class ArgStream:
    """The argv walk of iproute2 (NEXT_ARG: "Command line is not complete")."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.i = 0

    def __iter__(self) -> Iterator[str]:
        while self.i < len(self.argv):
            arg = self.argv[self.i]
            self.i += 1
            yield arg

    def next(self) -> str:
        """NEXT_ARG(): the next word, or the incomplete-command error (exit -1)."""
        if self.i >= len(self.argv):
            raise IpError('Command line is not complete. Try option "help"', 255)
        arg = self.argv[self.i]
        self.i += 1
        return arg

    def peek(self) -> str | None:
        """The next word without taking it."""
        return self.argv[self.i] if self.i < len(self.argv) else None
