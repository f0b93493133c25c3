"""The packetdrill script AST (packetdrill's script.h / packet.h / tcp_options.h).

Times are integers in microseconds. An :class:`Event` has a time spec and one action:
a :class:`PacketSpec`, :class:`Syscall`, :class:`Command` (backquoted shell text) or
:class:`CodeBlock` (``%{ }%``). Syscall arguments are :class:`Expr` trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ANY_TIME", "CodeBlock", "Command", "Event", "Expr", "PacketSpec", "Script",
           "Syscall", "TcpOption", "TimeSpec"]

ANY_TIME = "any"


@dataclass
class TimeSpec:
    """An event time: ``kind`` is "abs", "rel" or "any"; ``end``/``end_rel`` a range end
    (``t1~t2``); ``block_end``/``block_rel`` a blocking syscall's ``...END``."""

    kind: str
    usecs: int = 0
    end: int | None = None
    end_rel: bool = False
    block_end: int | None = None
    block_rel: bool = False


@dataclass
class TcpOption:
    """One TCP option as written: kind name and values (sack blocks as pairs)."""

    name: str
    values: list[int] = field(default_factory=list)
    blocks: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class PacketSpec:
    """A ``<`` or ``>`` TCP packet line (or an unsupported kind with ``unsupported``)."""

    direction: str
    flags: str
    seq: int = 0
    end_seq: int = 0
    length: int = 0
    ack: int | None = None
    win: int | None = None
    urg: int | None = None
    options: list[TcpOption] | None = None  # None: no list (no options allowed)
    any_options: bool = False  # <...>
    ecn: str | None = None
    tos: int | None = None
    ttl: int | None = None
    unsupported: str = ""
    icmp: tuple[str, str, int | None] | None = None  # (type, code, mtu) for < icmp
    icmp_tcp: PacketSpec | None = None


@dataclass
class Expr:
    """A syscall argument: ``kind`` in ellipsis, int, word, string, list, struct, or
    (``|`` of values), call (``name(args)``), field (``name=value``)."""

    kind: str
    value: object = None
    name: str = ""
    items: list[Expr] = field(default_factory=list)


@dataclass
class Syscall:
    """``name(args) = result [ERRNO] [(note)]``."""

    name: str
    args: list[Expr]
    result: Expr
    errno: str | None = None


@dataclass
class Command:
    """A backquoted shell command."""

    text: str


@dataclass
class CodeBlock:
    """A ``%{ python }%`` block."""

    code: str


Action = PacketSpec | Syscall | Command | CodeBlock


@dataclass
class Event:
    """One timed event of the script, with its source line."""

    line: int
    time: TimeSpec
    action: Action


@dataclass
class Script:
    """A parsed script: ``--options``, an optional init command, the events."""

    options: dict[str, str] = field(default_factory=dict)
    init_command: Command | None = None
    events: list[Event] = field(default_factory=list)
    cleanup_command: Command | None = None
