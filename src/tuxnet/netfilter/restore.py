"""iptables-restore (iptables/xtables-restore.c, 1.8.9 nf_tables): read a ruleset in
iptables-save format and commit it table by table.

``*table`` starts a table, which is flushed (user chains deleted, rules removed) unless
--noflush; ``:CHAIN POLICY [pkts:bytes]`` sets a built-in chain's policy or declares a
user chain (``-``); every other line is an iptables command without ``-t``, optionally
prefixed by ``[pkts:bytes]`` (used with --counters); ``COMMIT`` installs the table
(each COMMIT is atomic: a failing table leaves the host's table as it was). Lines are
split as iptables-restore splits them: on blanks, double quotes group (``\\`` escapes
inside them), single quotes are ordinary characters.

Errors (:class:`RestoreError`) carry iptables-restore's stderr text and exit code.
"""

from __future__ import annotations

from tuxnet.netfilter.iptc import (
    KernelError,
    NftError,
    check_jumps,
    do_command,
    format_error,
    validate_table,
)
from tuxnet.netfilter.parse import parse_argv
from tuxnet.netfilter.tables import TABLE_DEFS, Chain, NfNet, XtTable
from tuxnet.netfilter.xt import XtError

__all__ = ["RestoreError", "iptables_restore", "split_restore_line"]

PROG = "iptables-restore"


class RestoreError(Exception):
    """What iptables-restore prints on stderr before exiting with ``rc``."""

    def __init__(self, text: str, rc: int) -> None:
        super().__init__(text)
        self.text = text
        self.rc = rc


def split_restore_line(line: str) -> list[str]:
    """xshared.c add_param_to_argv: blanks split, "..." groups with \\ escapes inside."""
    args: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    have = False
    for ch in line:
        if quoted:
            if escaped:
                cur.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
                args.append("".join(cur))
                cur, have = [], False
            else:
                cur.append(ch)
            continue
        if ch == '"':
            quoted = True
            have = True
            continue
        if ch in " \t\n":
            if cur or have:
                args.append("".join(cur))
                cur, have = [], False
            continue
        cur.append(ch)
    if cur:
        args.append("".join(cur))
    return args


def _flushed(t: XtTable) -> XtTable:
    n = XtTable(t.defn)
    for c in t.builtin_chains():
        n.chains[c.name].policy = c.policy
    return n


def _parse_counters(text: str) -> tuple[int, int] | None:
    if not (text.startswith("[") and text.endswith("]")):
        return None
    p, colon, b = text[1:-1].partition(":")
    if not colon or not p.isdigit() or not b.isdigit():
        return None
    return int(p), int(b)


def iptables_restore(nf: NfNet, text: str, *, counters: bool = False, noflush: bool = False,
                     test: bool = False, only_table: str | None = None) -> None:
    """Restore ``text`` into ``nf``'s tables (see the module doc)."""
    staged: XtTable | None = None
    lines_of: dict[int, int] = {}  # id(rule) -> its line, for the kernel's complaints
    lineno = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if staged is None:
            if not line.startswith("*"):
                raise RestoreError(f"{PROG}: line {lineno} failed\n", 1)
            name = line[1:].strip()
            if name not in TABLE_DEFS:
                raise RestoreError(format_error(PROG, XtError(
                    f"{PROG}: line {lineno} table name '{name}' invalid"), lineno), 2)
            live = nf.view(name)
            staged = live.copy() if noflush else _flushed(live)
            continue
        try:
            if line == "COMMIT":
                check_jumps(staged)
                validate_table(staged)
                if not test and (only_table is None or only_table == staged.name):
                    nf.install(staged)
                staged = None
                continue
            if line.startswith(":"):
                _chain_line(staged, line[1:], counters)
                continue
            pc = None
            if line.startswith("["):
                head, _, rest = line.partition(" ")
                pc = _parse_counters(head)
                if pc is None:
                    raise RestoreError(f"{PROG}: line {lineno} failed\n", 1)
                line = rest
            argv = split_restore_line(line)
            if "-t" in argv or "--table" in argv:
                raise XtError(f"The -t option (seen in line {lineno}) cannot be used in "
                              f"{PROG}.\n")
            cmd = parse_argv(argv)
            cmd.table = staged.name
            if pc is not None and counters:
                for e in cmd.entries:
                    e.pcnt, e.bcnt = pc
            elif not counters:
                for e in cmd.entries:
                    e.pcnt = e.bcnt = 0
            do_command(nf, cmd, staged)
            for e in cmd.entries:
                lines_of[id(e)] = lineno
        except XtError as exc:
            raise RestoreError(format_error(PROG, exc, lineno), exc.rc) from None
        except NftError as exc:
            raise RestoreError(f"{PROG}: line {lineno} failed: {exc.msg}.\n", 1) from None
        except KernelError as exc:
            at = lines_of.get(id(exc.entry), lineno)
            raise RestoreError(f"{PROG} v1.8.9 (nf_tables): \nline {at}: {exc.msg.strip()}\n",
                               exc.rc) from None
    if staged is not None:
        raise RestoreError(f"{PROG}: COMMIT expected at line {lineno + 1}\n", 1)


def _chain_line(t: XtTable, spec: str, counters: bool) -> None:
    parts = spec.split()
    if len(parts) < 2:
        raise NftError("Bad chain line")
    name, policy = parts[0], parts[1]
    pc = _parse_counters(parts[2]) if len(parts) > 2 else None
    c = t.chains.get(name)
    if policy == "-":
        if c is not None and c.builtin:
            raise NftError("Chain already exists")
        if c is None:
            t.chains[name] = Chain(name)
        else:
            c.rules.clear()
        return
    if c is None or not c.builtin:
        raise NftError("Bad built-in chain name")
    if policy not in ("ACCEPT", "DROP"):
        raise NftError("Bad policy name")
    c.policy = policy
    if counters and pc is not None:
        c.pcnt, c.bcnt = pc
    else:
        c.pcnt = c.bcnt = 0
