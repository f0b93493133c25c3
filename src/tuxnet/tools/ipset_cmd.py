"""``tuxnet ipset``: ipset 7.17's commands on a host's sets (tuxnet.netfilter.ipset):
create, add, del, test, list (-n, -t), save, flush, destroy, version. Messages and
exit codes as ipset prints them (``ipset v7.17: ...``, exit 1; ``test`` exits 1 when
the element is not in the set)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.netfilter.ipset import IPSET_TYPES, IpSet, IpsetError
from tuxnet.netfilter.tables import nf_net

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["main", "run"]

VERSION = "v7.17"
_ALIASES = {"-N": "create", "-A": "add", "-D": "del", "-T": "test", "-L": "list",
            "-S": "save", "-F": "flush", "-X": "destroy", "-V": "version", "-v": "version",
            "n": "create", "a": "add", "d": "del", "t": "test", "l": "list"}


def _list_one(store_refs: int, s: IpSet, terse: bool) -> str:
    rev = IPSET_TYPES[s.type][0]
    lines = [f"Name: {s.name}", f"Type: {s.type}", f"Revision: {rev}",
             f"Header: {s.header()}", f"Size in memory: {s.memsize()}",
             f"References: {store_refs}", f"Number of entries: {len(s.members)}"]
    if not terse:
        lines.append("Members:")
        lines.extend(s.fmt_elem(e) for e in s.members)
    return "\n".join(lines) + "\n"


def _do(host: Host, argv: list[str], out: TextIO) -> int:
    store = nf_net(host).ipsets
    exist = "-exist" in argv or "-!" in argv
    args = [a for a in argv if a not in ("-exist", "-!", "-q", "-quiet")]
    names_only = any(a in ("-n", "-name") for a in args)
    terse = any(a in ("-t", "-terse") for a in args)
    args = [a for a in args if a not in ("-n", "-name", "-t", "-terse", "-o", "plain")]
    if not args:
        raise IpsetError("Syntax error: no command specified")
    cmd = _ALIASES.get(args[0], args[0])
    rest = args[1:]
    if cmd == "version":
        out.write(f"ipset {VERSION}, protocol version: 7\n")
        return 0
    if cmd == "create":
        if len(rest) < 2:
            raise IpsetError("Syntax error: Missing mandatory argument(s)")
        opts: dict[str, int] = {}
        i = 2
        while i < len(rest):
            key = rest[i]
            if key == "family":
                i += 2
                continue
            if key in ("hashsize", "maxelem", "timeout") and i + 1 < len(rest):
                if not rest[i + 1].isdigit():
                    raise IpsetError(f"Syntax error: '{rest[i + 1]}' is invalid as number")
                opts[key] = int(rest[i + 1])
                i += 2
                continue
            raise IpsetError(f"Syntax error: Unknown argument: '{key}'")
        store.create(rest[0], rest[1], exist, **opts)
        return 0
    if cmd in ("add", "del", "test"):
        if len(rest) < 2:
            raise IpsetError("Syntax error: Missing mandatory argument(s)")
        s = store.must(rest[0])
        elems = s.parse_elems(rest[1])
        if cmd == "test":
            if all(s.test(e) for e in elems):
                out.write(f"Warning: {rest[1]} is in set {s.name}.\n")
                return 0
            out.write(f"{rest[1]} is NOT in set {s.name}.\n")
            return 1
        for e in elems:
            (s.add if cmd == "add" else s.delete)(e, exist)
        return 0
    if cmd == "list":
        sets = [store.must(rest[0])] if rest else list(store.sets.values())
        if names_only:
            out.write("".join(s.name + "\n" for s in sets))
            return 0
        out.write("\n".join(_list_one(store.references(s.name), s, terse) for s in sets))
        return 0
    if cmd == "save":
        sets = [store.must(rest[0])] if rest else list(store.sets.values())
        for s in sets:
            out.write(f"create {s.name} {s.type} {s.header()}\n")
            out.write("".join(f"add {s.name} {s.fmt_elem(e)}\n" for e in s.members))
        return 0
    if cmd == "flush":
        for s in [store.must(rest[0])] if rest else list(store.sets.values()):
            s.flush()
        return 0
    if cmd == "destroy":
        store.destroy(rest[0] if rest else None)
        return 0
    raise IpsetError(f"Syntax error: unknown command `{args[0]}'")


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None) -> int:
    """One ipset command line against ``host``."""
    err = err if err is not None else out
    try:
        return _do(host, argv, out if "test" not in argv[:1] else err)
    except IpsetError as exc:
        err.write(f"ipset {VERSION}: {exc}\n")
        return 1


def main(argv: list[str], prog: str = "tuxnet ipset") -> int:
    """Entry point of ``tuxnet ipset`` (on the demonstration host)."""
    from tuxnet.tools.demo import demo_host

    return run(demo_host(), argv, sys.stdout, sys.stderr)
