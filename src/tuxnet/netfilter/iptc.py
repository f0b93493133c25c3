"""Running iptables commands on a host's tables (what iptables-nft's nft.c does for
``iptables``), with the errors iptables 1.8.9 (nf_tables) reports:

* :class:`NftError` -> ``iptables: <nft_strerror text>.``, exit 1
  (e.g. ``Bad rule (does a matching rule exist in that chain?)``);
* :class:`KernelError` -> ``iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid
  argument): rule in chain INPUT``, exit 4 (the kernel refused the batch: a target's
  checkentry, a busy chain, a loop);
* :class:`~tuxnet.netfilter.xt.XtError` from parsing, exit 2.

``do_command(nf, cmd)`` returns what the command prints on stdout.
"""

from __future__ import annotations

from tuxnet.netfilter.parse import Command
from tuxnet.netfilter.printer import ListFormat, list_chain, list_rules
from tuxnet.netfilter.rule import STANDARD_VERDICTS, IptEntry
from tuxnet.netfilter.tables import TABLE_DEFS, Chain, NfNet, XtTable
from tuxnet.netfilter.xt import XtError

__all__ = ["KernelError", "NftError", "check_jumps", "do_command", "format_error", "validate_table"]

_OPS = {"A": "RULE_APPEND", "I": "RULE_INSERT", "R": "RULE_REPLACE"}


class NftError(Exception):
    """nft_strerror(errno) of a failed operation (exit 1)."""

    def __init__(self, msg: str, rc: int = 1) -> None:
        super().__init__(msg)
        self.msg = msg
        self.rc = rc


class KernelError(Exception):
    """The kernel refused the transaction (exit 4); ``entry`` is the refused rule."""

    def __init__(self, msg: str, rc: int = 4, entry: IptEntry | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.rc = rc
        self.entry = entry


_NO_CHAIN = "No chain/target/match by that name"
_BAD_RULE = "Bad rule (does a matching rule exist in that chain?)"


def format_error(prog: str, exc: Exception, lineno: int | None = None) -> str:
    """The stderr text of an error, as ``prog`` prints it."""
    ver = "v1.8.9 (nf_tables)"
    if isinstance(exc, XtError):
        text = exc.msg if exc.plain else f"{prog} {ver}: {exc.msg}"
        out = text + "\n"
        if lineno is not None:
            out += f"Error occurred at line: {lineno}\n"
        if exc.tryhelp:
            out += f"Try `{prog} -h' or '{prog} --help' for more information.\n"
        return out
    if isinstance(exc, NftError):
        return f"{prog}: {exc.msg}.\n"
    if isinstance(exc, KernelError):
        return f"{prog} {ver}: {exc.msg}\n"
    raise TypeError(exc)


def _chain(t: XtTable, name: str | None) -> Chain:
    c = t.chains.get(name or "")
    if c is None:
        raise NftError(_NO_CHAIN)
    return c


def _prepare(nf: NfNet, t: XtTable, cmd: Command, deferred: bool = False) -> None:
    """Checks before a rule goes in: its jump target exists (unless ``deferred``:
    iptables-restore checks jumps at COMMIT), its sets exist."""
    if not deferred and cmd.jump_chain is not None and cmd.jump_chain not in t.chains:
        raise XtError(f"Chain '{cmd.jump_chain}' does not exist")
    for e in cmd.entries:
        for m in e.matches:
            bind = getattr(m, "bind", None)
            if bind is not None:
                bind(nf)


def validate_table(t: XtTable, op: str = "RULE_APPEND",
                   only: list[tuple[str, IptEntry]] | None = None) -> None:
    """The kernel's checks: each extension's checkentry for the hooks its chain is
    reached from (``only``: just these rules and what they jump to). Jump loops are
    accepted, as iptables-nft 1.8.9 on 6.18 accepts them (the engine bounds a walk)."""
    reach = t.reach_hooks()
    items = only if only is not None else [(c.name, r) for c in t.chains.values()
                                           for r in c.rules]
    if only is not None:  # rules newly reached through a jump are checked too
        for _name, r in list(only):
            if r.verdict in t.chains and not t.chains[r.verdict].builtin:
                items = items + [(r.verdict, x) for x in t.chains[r.verdict].rules]
    for name, r in items:
        hooks = reach.get(name, 0)
        exts = [*r.matches, *([r.target] if r.target is not None else [])]
        for ext in exts:
            if not ext.checkentry(t.name, hooks, r):
                raise KernelError(f" {op} failed (Invalid argument): rule in chain {name}",
                                  entry=r)


def _table(nf: NfNet, name: str, create: bool) -> XtTable:
    if name not in TABLE_DEFS:
        raise XtError(f"table '{name}' does not exist\n"
                      "Perhaps iptables or your kernel needs to be upgraded.", rc=3,
                      tryhelp=False)
    t = nf.table(name, create) if create else nf.view(name)
    assert t is not None
    return t


def check_jumps(t: XtTable) -> None:
    """Every jump and goto names an existing chain."""
    for c in t.chains.values():
        for r in c.rules:
            v = r.verdict
            if v is not None and v not in STANDARD_VERDICTS and v not in t.chains:
                raise XtError(f"Chain '{v}' does not exist")


def do_command(nf: NfNet, cmd: Command, table: XtTable | None = None) -> str:
    """Run a parsed command on ``table`` (default: the host's live table); returns the
    text it prints. A change to the live ruleset may switch conntrack on or off
    (NfNet.rules_changed)."""
    try:
        return _do_command(nf, cmd, table)
    finally:
        if table is None and cmd.cmd not in "LSC":
            nf.rules_changed()


def _do_command(nf: NfNet, cmd: Command, table: XtTable | None = None) -> str:
    write = cmd.cmd not in "LSC"
    t = table if table is not None else _table(nf, cmd.table, write)
    op = cmd.cmd
    if op in "AIR":
        c = _chain(t, cmd.chain)
        _prepare(nf, t, cmd, deferred=table is not None)
        entries = cmd.entries
        if op == "A":
            c.rules.extend(entries)
            removed: list[IptEntry] = []
        elif op == "I":
            pos = (cmd.rulenum or 1) - 1
            if pos > len(c.rules):
                raise NftError("Index of insertion too big")
            for e in entries:  # each expanded rule goes in at the position in turn
                c.rules.insert(pos, e)
            removed = []
        else:
            assert cmd.rulenum is not None
            if cmd.rulenum > len(c.rules):
                raise NftError("Index of replacement too big")
            if len(entries) != 1:
                raise XtError("Replacement rule does not specify a unique address")
            removed = [c.rules[cmd.rulenum - 1]]
            c.rules[cmd.rulenum - 1] = entries[0]
        try:
            if table is None:  # iptables-restore validates the whole table at COMMIT
                validate_table(t, _OPS[op], [(c.name, e) for e in entries])
        except KernelError as exc:  # nft names the chain the rule was added to
            for e in entries:
                c.rules.remove(e)
            if removed:
                c.rules.insert((cmd.rulenum or 1) - 1, removed[0])
            raise KernelError(f" {_OPS[op]} failed (Invalid argument): rule in chain {c.name}",
                              entry=exc.entry) from None
        return ""
    if op in "DC":
        c = _chain(t, cmd.chain)
        if op == "D" and cmd.rulenum is not None:
            if cmd.rulenum > len(c.rules):
                raise NftError("Index of deletion too big")
            del c.rules[cmd.rulenum - 1]
            return ""
        for e in cmd.entries:
            key = e.spec_key()
            for i, r in enumerate(c.rules):
                if r.spec_key() == key:
                    if op == "D":
                        del c.rules[i]
                    break
            else:
                raise NftError(_BAD_RULE)
        return ""
    if op == "N":
        assert cmd.chain is not None
        if cmd.chain in t.chains:
            raise NftError("Chain already exists")
        t.chains[cmd.chain] = Chain(cmd.chain)
        return ""
    if op == "X":
        names = [cmd.chain] if cmd.chain else [c.name for c in t.user_chains()]
        for name in names:
            old = t.chains.get(name)
            if old is None or old.builtin:
                raise NftError(_NO_CHAIN)
        # nft refuses to delete a chain some rule still jumps to (EBUSY); for a plain -X
        # the whole batch fails and iptables-nft 1.8.9 names the batch's last chain
        if any(t.references(name) for name in names):
            busy = cmd.chain or names[-1]
            raise KernelError(f" CHAIN_DEL failed (Device or resource busy): chain {busy}")
        for name in names:
            del t.chains[name]
        return ""
    if op == "F":
        for c in [_chain(t, cmd.chain)] if cmd.chain else list(t.chains.values()):
            c.rules.clear()
        return ""
    if op == "Z":
        _zero(t, cmd.chain, cmd.rulenum)
        return ""
    if op == "P":
        pc = t.chains.get(cmd.chain or "")
        if pc is None or not pc.builtin:
            raise NftError("Bad built-in chain name")
        if cmd.policy not in ("ACCEPT", "DROP"):
            raise NftError("Bad policy name. Run `dmesg' for more information")
        pc.policy = cmd.policy  # iptables-nft ignores -c here
        return ""
    if op == "E":
        c = _chain(t, cmd.chain)
        assert cmd.newname is not None
        if cmd.newname in t.chains:
            raise NftError("File exists")
        if c.builtin:
            raise NftError("Invalid argument")
        del t.chains[c.name]
        for ch in t.chains.values():
            for r in ch.rules:
                if r.verdict == c.name:
                    r.verdict = cmd.newname
        c.name = cmd.newname
        t.chains[c.name] = c
        return ""
    if op == "L":
        return _list(t, cmd)
    if op == "S":
        chain = None
        if cmd.chain:
            chain = t.chains.get(cmd.chain)
            if chain is None:
                raise _incompatible(cmd.chain, t.name)
        return list_rules(t, chain, cmd.rulenum, counters=cmd.verbose > 0)
    raise XtError(f"unknown command -{op}")


def _incompatible(chain: str, table: str) -> XtError:
    return XtError(f"chain `{chain}' in table `{table}' is incompatible, use 'nft' tool.",
                   rc=1, tryhelp=False)


def _zero(t: XtTable, chain: str | None, rulenum: int | None) -> list[str]:
    chains = [_chain(t, chain)] if chain else t.ordered_chains()
    for c in chains:
        if rulenum is not None:
            if rulenum > len(c.rules):
                continue  # iptables-nft 1.8.9 ignores a rule number past the end
            r = c.rules[rulenum - 1]
            r.pcnt = r.bcnt = 0
            continue
        c.pcnt = c.bcnt = 0
        for r in c.rules:
            r.pcnt = r.bcnt = 0
    return [c.name for c in chains]


def _list(t: XtTable, cmd: Command) -> str:
    fmt = ListFormat(cmd.verbose > 0, cmd.numeric, cmd.exact, cmd.line_numbers)
    if cmd.chain:
        c = t.chains.get(cmd.chain)
        if c is None:
            raise _incompatible(cmd.chain, t.name)
        text = list_chain(t, c, fmt, cmd.rulenum)
    else:
        text = "\n".join(list_chain(t, c, fmt) for c in t.ordered_chains())
    if cmd.zero:
        names = _zero(t, cmd.chain, None)
        if cmd.verbose:
            text += "".join(f"Zeroing chain `{n}'\n" for n in names)
    return text
