"""x_tables: the extension framework of iptables (net/netfilter/x_tables.c,
include/uapi/linux/netfilter/x_tables.h) and the user-space side of each extension
(libxtables: option parsing, ``-L`` printing, ``iptables-save`` printing).

A match or target is one object that carries its parsed options and implements both
halves, as an xtables extension plus its kernel module would:

* ``parse(opt, arg, invert, entry)`` takes one command-line option (libxt ``x6_parse``),
  ``final_check(entry)`` runs once the rule is read (``x6_fcheck``);
* ``save()`` prints the options as iptables-save does, ``print_(numeric)`` as
  ``iptables -L`` does (both with the leading space libxtables prints);
* ``checkentry(table, hooks, entry)`` is the kernel's check (False -> -EINVAL);
* ``match(skb, par)`` / ``target(skb, par)`` run on packets.

Errors: :class:`XtError` is ``xtables_error(PARAMETER_PROBLEM, ...)`` (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tuxnet.core.cpu import charge, current_cpu
from tuxnet.netfilter.xt_names import PROTO_NAMES, port_name, service_port

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.netfilter.tables import NfNet
    from tuxnet.skb import SkBuff

__all__ = [
    "MATCHES",
    "TARGETS",
    "XT_CONTINUE",
    "XT_RETURN",
    "XtError",
    "XtMatch",
    "XtParam",
    "XtTarget",
    "fmt_port",
    "nf_charge_set_lookup",
    "parse_mark",
    "parse_port",
    "parse_port_range",
    "parse_uint",
    "register_match",
    "register_target",
    "save_string",
]

# include/uapi/linux/netfilter/x_tables.h
XT_CONTINUE = 0xFFFFFFFF
XT_RETURN = -5  # -NF_REPEAT - 1
XT_FUNCTION_MAXNAMELEN = 30
XT_EXTENSION_MAXNAMELEN = 29


class XtError(Exception):
    """xtables_error(): ``iptables v1.8.9 (nf_tables): <msg>`` then the help hint.

    ``rc`` is the exit status (PARAMETER_PROBLEM 2, VERSION_PROBLEM 3);
    ``plain`` prints the message alone (``Bad argument `x'``)."""

    def __init__(self, msg: str, rc: int = 2, *, plain: bool = False,
                 tryhelp: bool = True) -> None:
        super().__init__(msg)
        self.msg = msg
        self.rc = rc
        self.plain = plain
        self.tryhelp = tryhelp


class XtParam:
    """struct xt_action_param plus what the rule engine computed for the packet."""

    __slots__ = ("data", "fragoff", "hook", "host", "hotdrop", "in_dev", "nf", "out_dev",
                 "proto", "table", "thoff")

    def __init__(self, host: Host, nf: NfNet, table: str, hook: int, in_dev: Any,
                 out_dev: Any) -> None:
        self.host = host
        self.nf = nf
        self.table = table
        self.hook = hook
        self.in_dev = in_dev
        self.out_dev = out_dev
        self.data: memoryview = memoryview(b"")
        self.fragoff = 0
        self.thoff = 0
        self.proto = 0
        self.hotdrop = False


class _Ext:
    """What matches and targets share: name, options, printing."""

    name: ClassVar[str] = ""
    list_name: ClassVar[str] = ""  # the target column of -L when not ``name``
    revision: ClassVar[int] = 0
    # option name -> number of arguments (0 for a flag)
    options: ClassVar[dict[str, int]] = {}

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        raise XtError(f'unknown option "{opt}"')

    def final_check(self, entry: IptEntry) -> None:
        """x6_fcheck: complain about a missing mandatory option."""

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        """The kernel's checkentry for ``table`` and the hooks the rule is reached from."""
        return True

    def save(self) -> str:
        return ""

    def print_(self, numeric: bool) -> str:
        return ""

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and isinstance(other, _Ext)
                and self.save() == other.save())

    def __hash__(self) -> int:
        return hash((self.name, self.save()))


class XtMatch(_Ext):
    """A match extension (struct xt_match + its libxt half)."""

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        raise NotImplementedError


class XtTarget(_Ext):
    """A target extension (struct xt_target + its libxt half); ``target`` returns a
    netfilter verdict or XT_CONTINUE."""

    def target(self, skb: SkBuff, par: XtParam) -> int:
        raise NotImplementedError


M = TypeVar("M", bound=type[XtMatch])
T = TypeVar("T", bound=type[XtTarget])
MATCHES: dict[str, type[XtMatch]] = {}
TARGETS: dict[str, type[XtTarget]] = {}


def register_match(cls: M) -> M:
    """xt_register_match + xtables_register_match."""
    MATCHES[cls.name] = cls
    return cls


def register_target(cls: T) -> T:
    """xt_register_target + xtables_register_target."""
    TARGETS[cls.name] = cls
    return cls


# -- option value helpers (libxtables xtables_strtoui & co.) ---------------------------

def parse_uint(text: str, lo: int = 0, hi: int = 0xFFFFFFFF) -> int | None:
    """xtables_strtoui: decimal, 0x hex or 0 octal in [lo, hi], else None."""
    t = text.strip()
    if not t or t[0] in "+-":
        return None
    try:
        if t.lower().startswith("0x"):
            v = int(t[2:], 16)
        elif len(t) > 1 and t.startswith("0"):
            v = int(t[1:], 8)
        else:
            v = int(t, 10)
    except ValueError:
        return None
    return v if lo <= v <= hi else None


def parse_mark(text: str, what: str = "mark") -> tuple[int, int]:
    """``value[/mask]`` (xtables_parse_mark_mask): mask 0xffffffff by default."""
    value, _, mask = text.partition("/")
    v = parse_uint(value)
    m = parse_uint(mask) if mask else 0xFFFFFFFF
    if v is None or m is None:
        raise XtError(f'Bad {what} value "{text}"')
    return v, m


def parse_port(text: str, proto: str = "tcp") -> int:
    """xtables_parse_port: a number 0..65535 or a service name."""
    v = parse_uint(text, 0, 0xFFFF)
    if v is None or (not text.isalnum() and not text.lower().startswith("0x")):
        v = service_port(text) if v is None else v
    if v is None:
        raise XtError(f"invalid port/service `{text}' specified")
    return v


def parse_port_range(text: str, proto: str = "tcp") -> tuple[int, int]:
    """``a``, ``a:b``, ``:b`` or ``a:`` (libxt_tcp parse_tcp_ports)."""
    if ":" not in text:
        p = parse_port(text, proto)
        return p, p
    lo_s, _, hi_s = text.partition(":")
    lo = parse_port(lo_s, proto) if lo_s else 0
    hi = parse_port(hi_s, proto) if hi_s else 0xFFFF
    if lo > hi:
        raise XtError(f"invalid portrange ({text}) specified")
    return lo, hi


def fmt_port(port: int, numeric: bool, proto: str = "tcp") -> str:
    """print_port: the service name unless numeric (or none is known)."""
    if not numeric:
        name = port_name(port)
        if name is not None:
            return name
    return str(port)


_NO_QUOTE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """xtables_save_string: bare when made of safe characters, else double-quoted with
    ``"``, ``\\`` and ``'`` escaped by a backslash (leading space included)."""
    if value and all(c in _NO_QUOTE for c in value):
        return " " + value
    out = []
    for c in value:
        if c in "\"\\'":
            out.append("\\")
        out.append(c)
    return ' "' + "".join(out) + '"'


def proto_name(proto: int) -> str | None:
    """getprotobynumber(proto)->p_name."""
    return PROTO_NAMES.get(proto)


Checker = Callable[[str, int, "IptEntry"], bool]


def nf_charge_set_lookup(par: XtParam) -> None:
    """One ipset / nft set lookup costs the running CPU CpuCosts.nf_set_lookup_ns."""
    if current_cpu() is not None:
        from tuxnet.core.netcore import get_core

        charge(get_core(par.host).costs.nf_set_lookup_ns)
