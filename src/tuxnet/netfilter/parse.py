"""The iptables command-line grammar (iptables/xshared.c do_parse, iptables 1.8.9), used
by ``iptables`` and by every line of ``iptables-restore``.

Options are read in order, as getopt_long does with iptables' option string: a
command (-A -C -D -I -R -L -S -F -Z -N -X -E -P), rule parts (-s -d -i -o -p -f with
``!`` before them), -j/-g with the target's options after it, -m with the match's
options after it, -c, -t, -v -n -x --line-numbers. An option iptables does not know
goes to the loaded extensions (the latest first), then to the match named after
``-p`` (loaded implicitly, as ``-p tcp --dport 22`` loads ``-m tcp``). ``-s``/``-d``
with several comma-separated addresses make one rule per pair.

Errors raise :class:`~tuxnet.netfilter.xt.XtError` with iptables' text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tuxnet.netfilter.matches
import tuxnet.netfilter.targets  # noqa: F401 - registers the target extensions
from tuxnet.netfilter.matches.tcpudp import _PortMatch
from tuxnet.netfilter.rule import (
    IPT_F_FRAG,
    IPT_F_GOTO,
    IPT_INV_DSTIP,
    IPT_INV_FRAG,
    IPT_INV_PROTO,
    IPT_INV_SRCIP,
    IPT_INV_VIA_IN,
    IPT_INV_VIA_OUT,
    STANDARD_VERDICTS,
    IptEntry,
)
from tuxnet.netfilter.xt import MATCHES, TARGETS, XtError, XtMatch, XtTarget, parse_uint
from tuxnet.netfilter.xt_names import PROTO_NAMES, PROTO_NUMBERS
from tuxnet.wire.addr import ip_int

__all__ = ["Command", "parse_addr", "parse_argv", "parse_proto"]

IFNAMSIZ = 16
# long option -> short option of iptables' own options
_LONG = {
    "--append": "-A", "--check": "-C", "--delete": "-D", "--insert": "-I",
    "--replace": "-R", "--list": "-L", "--list-rules": "-S", "--flush": "-F",
    "--zero": "-Z", "--new-chain": "-N", "--new": "-N", "--delete-chain": "-X",
    "--rename-chain": "-E", "--policy": "-P", "--source": "-s", "--src": "-s",
    "--destination": "-d", "--dst": "-d", "--protocol": "-p", "--in-interface": "-i",
    "--out-interface": "-o", "--jump": "-j", "--goto": "-g", "--match": "-m",
    "--numeric": "-n", "--verbose": "-v", "--exact": "-x", "--table": "-t",
    "--fragment": "-f", "--set-counters": "-c", "--wait": "-w", "--wait-interval": "-W",
    "--ipv4": "-4", "--ipv6": "-6",
}
_COMMANDS = "ACDIRLSFZNXEP"
_FLAGS = "vnxf46"  # options without an argument


@dataclass
class Command:
    """One parsed command line."""

    cmd: str = ""
    table: str = "filter"
    chain: str | None = None
    rulenum: int | None = None
    newname: str | None = None  # -E
    policy: str | None = None  # -P
    entries: list[IptEntry] = field(default_factory=list)
    zero: bool = False  # -L -Z
    verbose: int = 0
    numeric: bool = False
    exact: bool = False
    line_numbers: bool = False
    jump_chain: str | None = None  # -j/-g to a chain name (checked when run)
    counters: tuple[int, int] | None = None


def parse_proto(text: str) -> int:
    """-p: a name (case-insensitive), ``all`` or a number 0..255."""
    t = text.lower()
    if t == "all":
        return 0
    if t in PROTO_NUMBERS:
        return PROTO_NUMBERS[t]
    v = parse_uint(text, 0, 255)
    if v is None:
        raise XtError(f'unknown protocol "{text}" specified')
    return v


def parse_addr(text: str) -> list[tuple[int, int]]:
    """xtables_ipparse_multiple: ``a.b.c.d[/len|/mask][,...]`` -> [(network, mask)]."""
    out = []
    for part in text.split(","):
        addr, slash, mask = part.partition("/")
        if slash:
            if "." in mask:
                try:
                    m = ip_int(mask)
                except ValueError:
                    raise XtError(f"host/network `{mask}' not found") from None
            else:
                n = parse_uint(mask, 0, 32)
                if n is None:
                    raise XtError(f"invalid mask `{mask}' specified")
                m = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
        else:
            m = 0xFFFFFFFF
        try:
            a = ip_int(addr)
        except ValueError:
            raise XtError(f"host/network `{addr}' not found") from None
        out.append((a & m, m))
    return out


def _parse_iface(text: str) -> tuple[str, bool]:
    if len(text) >= IFNAMSIZ:
        raise XtError(f"interface name `{text}' must be shorter than IFNAMSIZ "
                      f"({IFNAMSIZ - 1})")
    if text.endswith("+"):
        return text[:-1], True
    return text, False


def _rulenum(text: str) -> int:
    v = parse_uint(text, 1, 0x7FFFFFFF)
    if v is None or not text.isdigit():
        raise XtError(f"Invalid rule number `{text}'")
    return v


def _is_arg(tokens: list[str], i: int) -> bool:
    return i < len(tokens) and not tokens[i].startswith("-") and tokens[i] != "!"


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.t = tokens
        self.i = 0
        self.c = Command()
        self.e = IptEntry()
        self.exts: list[XtMatch | XtTarget] = []
        self.src: str | None = None
        self.dst: str | None = None
        self.invert = False
        self.seen: set[str] = set()
        self.jumped = False

    def next_arg(self, opt: str) -> str:
        if self.i >= len(self.t):
            raise XtError(f'option "{opt}" requires an argument')
        v = self.t[self.i]
        self.i += 1
        return v

    def set_cmd(self, cmd: str) -> None:
        c = self.c
        if c.cmd and not {c.cmd, cmd} == {"L", "Z"}:
            raise XtError(f"Cannot use -{cmd} with -{c.cmd}\n")
        if c.cmd == "L" and cmd == "Z":
            c.zero = True
            return
        if cmd == "L" and c.cmd == "Z":
            c.zero = True
        c.cmd = cmd

    def once(self, opt: str) -> None:
        if opt in self.seen:
            raise XtError(f"multiple {opt} flags not allowed")
        self.seen.add(opt)

    def take_invert(self) -> bool:
        inv = self.invert
        self.invert = False
        return inv

    def command(self, short: str) -> None:
        c = self.c
        t = self.t
        cmd = short[1]
        if cmd in "ACDIRNEP":
            chain = self.next_arg(short)
            self.set_cmd(cmd)
            c.chain = chain
            if cmd in "DI" and _is_arg(t, self.i):
                c.rulenum = _rulenum(t[self.i])
                self.i += 1
            elif cmd == "R":
                if not _is_arg(t, self.i):
                    raise XtError("-R requires a rule number")
                c.rulenum = _rulenum(t[self.i])
                self.i += 1
            elif cmd == "E":
                c.newname = self.next_arg(short)
            elif cmd == "P":
                c.policy = self.next_arg(short)
            elif cmd == "N":
                _check_chain_name(chain)
        else:  # L S F Z X: optional chain (and rule number for L S Z)
            self.set_cmd(cmd)
            if _is_arg(t, self.i):
                if (cmd == "Z" and c.cmd == "L") or (cmd == "L" and c.chain):
                    pass
                c.chain = t[self.i]
                self.i += 1
                if cmd in "LSZ" and _is_arg(t, self.i):
                    c.rulenum = _rulenum(t[self.i])
                    self.i += 1

    def load_match(self, name: str) -> XtMatch:
        cls = MATCHES.get(name)
        if cls is None:
            raise XtError(f"Couldn't load match `{name}':No such file or directory\n")
        m = cls()
        self.e.matches.append(m)
        self.exts.append(m)
        return m

    def ext_option(self, opt: str) -> None:
        for ext in reversed(self.exts):
            if opt in ext.options:
                self.run_ext(ext, opt)
                return
        pname = PROTO_NAMES.get(self.e.proto)
        if pname in MATCHES and not self.e.invflags & IPT_INV_PROTO and \
                not any(m.name == pname for m in self.e.matches) and \
                opt in MATCHES[pname].options:
            self.run_ext(self.load_match(pname), opt)
            return
        raise XtError(f'unknown option "{opt}"')

    def run_ext(self, ext: XtMatch | XtTarget, opt: str) -> None:
        nargs = ext.options[opt]
        args = [self.next_arg(opt) for _ in range(nargs)]
        ext.parse(opt, " ".join(args), self.take_invert(), self.e)

    def run(self) -> Command:
        c, e, t = self.c, self.e, self.t
        while self.i < len(t):
            tok = t[self.i]
            self.i += 1
            if tok == "!":
                if self.invert:
                    raise XtError("multiple consecutive ! not allowed")
                self.invert = True
                continue
            if not tok.startswith("-") or tok == "-":
                raise XtError(f"Bad argument `{tok}'", plain=True)
            if tok.startswith("--") and "=" in tok:
                name, _, value = tok.partition("=")
                if name in _LONG:
                    # iptables 1.8.9 hands its own options the whole "--name=value"
                    self.t.insert(self.i, tok)
                else:
                    self.t.insert(self.i, value)
                tok = name
            opt = _LONG.get(tok, tok)
            if opt.startswith("--"):
                if opt == "--line-numbers" or (len(opt) > 3 and
                                               "--line-numbers".startswith(opt)):
                    c.line_numbers = True
                elif opt == "--modprobe":
                    self.next_arg(opt)
                else:
                    self.ext_option(opt)
                continue
            if len(opt) > 2:  # getopt clusters: "-nvL" is -n -v -L, "-LINPUT" is -L INPUT
                head = opt[1]
                if head in _FLAGS:
                    self.t.insert(self.i, "-" + opt[2:])
                    opt = opt[:2]
                elif head == "p":  # iptables 1.8.9 hands -p the whole "-ptcp"
                    self.t.insert(self.i, opt)
                    opt = "-p"
                else:
                    self.t.insert(self.i, opt[2:])
                    opt = opt[:2]
            letter = opt[1]
            if letter in _COMMANDS:
                if self.invert:
                    raise XtError(f"cannot have ! before -{letter}")
                self.command(opt)
            elif letter in "vnx":
                self.flag(letter)
            elif letter == "t":
                if self.invert:
                    raise XtError("unexpected ! flag before --table")
                c.table = self.next_arg(opt)
            elif letter in "sd":
                self.once(f"-{letter}")
                v = self.next_arg(opt)
                if letter == "s":
                    self.src = v
                else:
                    self.dst = v
                if self.take_invert():
                    e.invflags |= IPT_INV_SRCIP if letter == "s" else IPT_INV_DSTIP
            elif letter == "p":
                self.once("-p")
                e.proto = parse_proto(self.next_arg(opt))
                if self.take_invert():
                    e.invflags |= IPT_INV_PROTO
            elif letter in "io":
                self.once(f"-{letter}")
                name, prefix = _parse_iface(self.next_arg(opt))
                inv = self.take_invert()
                if letter == "i":
                    e.iniface, e.inprefix = name, prefix
                    if inv:
                        e.invflags |= IPT_INV_VIA_IN
                else:
                    e.outiface, e.outprefix = name, prefix
                    if inv:
                        e.invflags |= IPT_INV_VIA_OUT
            elif letter == "f":
                self.once("-f")
                e.flags |= IPT_F_FRAG
                if self.take_invert():
                    e.invflags |= IPT_INV_FRAG
            elif letter in "jg":
                if self.jumped:
                    raise XtError("multiple -j flags not allowed")
                self.jumped = True
                name = self.next_arg(opt)
                self.jump(name, letter == "g")
            elif letter == "m":
                if self.invert:
                    raise XtError("unexpected ! flag before --match")
                self.load_match(self.next_arg(opt))
            elif letter == "c":
                p = self.next_arg(opt)
                b = self.next_arg(opt)
                pv, bv = parse_uint(p, 0, (1 << 64) - 1), parse_uint(b, 0, (1 << 64) - 1)
                if pv is None:
                    raise XtError("-c packet counter not numeric")
                if bv is None:
                    raise XtError("-c byte counter not numeric")
                c.counters = (pv, bv)
            elif letter in "wW4":
                if letter in "wW" and _is_arg(t, self.i):
                    self.i += 1
            elif letter == "6":
                raise XtError("This is the IPv4 version of iptables.", rc=3)
            else:
                raise XtError(f"unknown option \"{tok}\"")
        if self.invert:
            raise XtError("nothing appropriate following !")
        return self.finish()

    def flag(self, ch: str) -> None:
        c = self.c
        if ch == "v":
            c.verbose += 1
        elif ch == "n":
            c.numeric = True
        else:
            c.exact = True

    def jump(self, name: str, goto: bool) -> None:
        e = self.e
        if goto:
            e.flags |= IPT_F_GOTO
            e.verdict = name
            self.c.jump_chain = name
            return
        if name in STANDARD_VERDICTS:
            e.verdict = name
            return
        cls = TARGETS.get(name)
        if cls is None:
            e.verdict = name
            self.c.jump_chain = name
            return
        tgt = cls()
        e.target = tgt
        self.exts.append(tgt)

    def finish(self) -> Command:
        c, e = self.c, self.e
        if not c.cmd:
            raise XtError("no command specified")
        if c.cmd in "ACDIR" and not (c.cmd == "D" and c.rulenum is not None):
            for ext in self.exts:
                ext.final_check(e)
            _merge_port_matches(e)
            chain = c.chain or ""
            has_out = e.outiface or e.outprefix or e.invflags & IPT_INV_VIA_OUT
            if has_out and chain in ("PREROUTING", "INPUT"):
                raise XtError(f"Can't use -o with {chain}\n")
            has_in = e.iniface or e.inprefix or e.invflags & IPT_INV_VIA_IN
            if has_in and chain in ("POSTROUTING", "OUTPUT"):
                raise XtError(f"Can't use -i with {chain}\n")
            if c.table == "nat" and e.verdict == "DROP":
                raise XtError('\nThe "nat" table is not intended for filtering, the use of '
                              'DROP is therefore inhibited.\n\n')
            srcs = parse_addr(self.src) if self.src is not None else [(0, 0)]
            dsts = parse_addr(self.dst) if self.dst is not None else [(0, 0)]
            if e.iniface == "" and e.inprefix:
                e.inprefix = False
            if e.outiface == "" and e.outprefix:
                e.outprefix = False
            for s, sm in srcs:
                for d, dm in dsts:
                    r = e.copy()
                    r.src, r.smsk, r.dst, r.dmsk = s, sm, d, dm
                    if c.counters is not None:
                        r.pcnt, r.bcnt = c.counters
                    c.entries.append(r)
        elif c.cmd in "D" and self.exts:
            raise XtError("Illegal option `-m' with this command\n")
        return c


def _merge_port_matches(e: IptEntry) -> None:
    """iptables-nft turns tcp/udp matches into one nft payload expression and reads it
    back as one match: a second ``-m tcp`` joins the first."""
    first: dict[str, XtMatch] = {}
    kept: list[XtMatch] = []
    for m in e.matches:
        if isinstance(m, _PortMatch):
            head = first.get(m.name)
            if head is not None:
                assert isinstance(head, _PortMatch)
                head.merge(m)
                continue
            first[m.name] = m
        kept.append(m)
    e.matches = kept


def _check_chain_name(name: str) -> None:
    """-N: iptables' chain name checks (xshared.c)."""
    if len(name) >= 29:
        raise XtError(f"chain name `{name}' too long (must be under 29 chars)")
    if name.startswith("-"):
        raise XtError("chain name not allowed to start with `-'")
    if name in STANDARD_VERDICTS or name in TARGETS:
        raise XtError("chain name may not clash with target name")
    if any(ch.isspace() for ch in name) or name.startswith("!"):
        raise XtError(f"Invalid chain name `{name}'")


def parse_argv(argv: list[str]) -> Command:
    """Parse one iptables command line (without the program name)."""
    return _Parser(list(argv)).run()
