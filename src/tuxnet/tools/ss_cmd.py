"""``tuxnet ss``: iproute2's ss (6.1) on a tuxnet host.

    tuxnet ss [OPTIONS] [ state STATE | exclude STATE ]... [ EXPRESSION ]
    tuxnet ss --scenario sockets -tan        (a host with sockets in many states)
    tuxnet ss --scenario tcp -tinm [--at SECONDS] [--host a|b]

Options as ss's getopt_long takes them (clustered, anywhere on the line, long forms
by unique prefix): -t -u -w (raw: tuxnet has no raw socket table, so none are listed)
-a -l -n -r (accepted; tuxnet has no resolver, hosts print numerically) -e -m -i -o
-O -p (tuxnet sockets belong to no process: no users: field, a note on stderr) -s -H
-4 -6 (no IPv6 sockets in tuxnet) -f inet|inet6 -A tcp,udp,raw,inet,all -h -V.
Families and options for what tuxnet does not model (-x, -0, -f unix/link/netlink,
-K, -E, -b, -D, -F, -N, -z, -Z, --tos, --cgroup, --inet-sockopt ...) are a clear
error (exit 1). Unknown options and state names give iproute2's messages and exit
status 255. Without -n, ports outside ip_local_port_range print as service names
(getservbyport, as ss does).

The output is ss's own layout (tools/ss_render.py) over what sock_diag reports
(tools/ss_diag.py): -m adds skmem:(r,rb,t,tb,f,w,o,bl,d) from the socket's memory
accounting, -i the TCP_INFO line of tools/ss_fmt.py, -o the timer, -e uid/ino/sk/
cgroup (cookies and the cgroup id are made up deterministically, see ss_diag), -s
iproute2's summary from the host's sockstat numbers.

Which host: the demonstration host by default (no sockets: a header only, like a new
namespace), or ``--scenario NAME`` run first: ``sockets`` (tuxnet.scenarios.sockets:
listeners, connections in several states, TIME_WAIT, UDP) or ``tcp``
(tuxnet.scenarios.tcp_bulk, both endpoints, by default when b has read half the
data, or at ``--at SECONDS`` of virtual time; ``--host`` picks one endpoint).
``ss_lines(host, "-tan")`` and ``run(host, argv, out, err)`` are the library entries.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from tuxnet.ipv4.udp_table import sysctl_vec
from tuxnet.tools.scenario_hosts import run_on_hosts
from tuxnet.tools.ss_diag import SockRecord, inet_diag_dump, sockstat
from tuxnet.tools.ss_filter import SS_ALL, SS_CONN, SsError, parse_filter, scan_state
from tuxnet.tools.ss_fmt import SS_STATE_NAMES, tcp_info_text
from tuxnet.tools.ss_render import COL_NETID, COL_STATE, HEADERS, render
from tuxnet.wire.addr import int_to_ip

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["main", "run", "ss_lines"]

VERSION = "6.1.0"
_LISTEN, _CLOSE, _ESTAB = 10, 7, 1
_USAGE = """Usage: ss [ OPTIONS ]
       ss [ OPTIONS ] [ FILTER ]
   -h, --help          this message
   -V, --version       output version information
   -n, --numeric       don't resolve service names
   -r, --resolve       resolve host names
   -a, --all           display all sockets
   -l, --listening     display listening sockets
   -o, --options       show timer information
   -e, --extended      show detailed socket information
   -m, --memory        show socket memory usage
   -p, --processes     show process using socket
   -i, --info          show internal TCP information
   -s, --summary       show socket usage summary
   -4, --ipv4          display only IP version 4 sockets
   -6, --ipv6          display only IP version 6 sockets
   -t, --tcp           display only TCP sockets
   -u, --udp           display only UDP sockets
   -w, --raw           display only RAW sockets
   -f, --family=FAMILY display sockets of type FAMILY
       FAMILY := {inet|inet6}
   -H, --no-header     Suppress header line
   -O, --oneline       socket's data printed on a single line
   -A, --query=QUERY, --socket=QUERY
       QUERY := {all|inet|tcp|udp|raw}[,QUERY]
       FILTER := [ state STATE-FILTER ] [ EXPRESSION ]
       STATE-FILTER := {all|connected|synchronized|bucket|big|TCP-STATES}
""" + (
    "         TCP-STATES := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|"
    "closed|close-wait|last-ack|listening|closing}\n"
    "          connected := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|"
    "close-wait|last-ack|closing}\n"
    "       synchronized := {established|syn-recv|fin-wait-{1,2}|time-wait|close-wait|"
    "last-ack|closing}\n"
    "             bucket := {syn-recv|time-wait}\n"
    "                big := {established|syn-sent|fin-wait-{1,2}|closed|close-wait|"
    "last-ack|listening|closing}\n")
# getopt_long's table: long name -> (short letter, takes an argument)
_LONG = {
    "numeric": ("n", False), "resolve": ("r", False), "options": ("o", False),
    "extended": ("e", False), "memory": ("m", False), "info": ("i", False),
    "processes": ("p", False), "bpf": ("b", False), "events": ("E", False),
    "dccp": ("d", False), "tcp": ("t", False), "sctp": ("S", False), "udp": ("u", False),
    "raw": ("w", False), "unix": ("x", False), "tipc": ("tipc", False),
    "vsock": ("vsock", False), "all": ("a", False), "listening": ("l", False),
    "ipv4": ("4", False), "ipv6": ("6", False), "packet": ("0", False),
    "family": ("f", True), "socket": ("A", True), "query": ("A", True),
    "summary": ("s", False), "diag": ("D", True), "filter": ("F", True),
    "version": ("V", False), "help": ("h", False), "context": ("Z", False),
    "contexts": ("z", False), "net": ("N", True), "tipcinfo": ("tipcinfo", False),
    "tos": ("tos", False), "cgroup": ("cgroup", False), "kill": ("K", False),
    "no-header": ("H", False), "xdp": ("xdp", False), "mptcp": ("M", False),
    "oneline": ("O", False), "inet-sockopt": ("inet-sockopt", False),
}
_SHORT = "dhaletuwxnro460spbEf:mMiA:D:F:vVzZN:KHSO"
_INET_DBS = ("tcp", "mptcp", "dccp", "udp", "raw", "sctp")
_ALL_DBS = (*_INET_DBS, "unix", "packet", "netlink", "vsock", "xdp")
_DB_STATES = {"tcp": SS_CONN, "mptcp": SS_CONN, "dccp": SS_CONN, "sctp": SS_CONN,
              "udp": 1 << _ESTAB, "raw": 1 << _ESTAB}
_QUERY = {"all": _ALL_DBS, "inet": _INET_DBS, "tcp": ("tcp",), "udp": ("udp",),
          "raw": ("raw",), "dccp": ("dccp",), "sctp": ("sctp",), "mptcp": ("mptcp",)}
_UNMODELLED_TABLES = frozenset((
    "unix", "unix_dgram", "unix_stream", "unix_seqpacket", "u_str", "u_dgr", "u_seq",
    "packet", "packet_raw", "packet_dgram", "p_raw", "p_dgr", "netlink", "vsock",
    "vsock_stream", "vsock_dgram", "v_str", "v_dgr", "xdp", "tipc"))
_NOT_MODELLED = {
    "x": "-x: Unix domain sockets are not modelled (tuxnet has no AF_UNIX)",
    "0": "-0: packet sockets are not modelled (tuxnet has no AF_PACKET sockets)",
    "vsock": "--vsock: vsock sockets are not modelled",
    "tipc": "--tipc: TIPC sockets are not modelled",
    "xdp": "--xdp: AF_XDP sockets are not modelled",
    "K": "-K: killing sockets is not modelled", "E": "-E: socket events are not modelled",
    "b": "-b: socket BPF filters are not modelled",
    "D": "-D: raw inet_diag dumps are not modelled",
    "F": "-F: filters from a file are not modelled",
    "N": "-N: named network namespaces are not modelled",
    "z": "-z: SELinux contexts are not modelled", "Z": "-Z: SELinux contexts are not modelled",
    "tos": "--tos is not modelled", "cgroup": "--cgroup is not modelled",
    "tipcinfo": "--tipcinfo is not modelled", "inet-sockopt": "--inet-sockopt is not modelled",
}


@dataclass
class Options:
    """What ss's main() sets from the command line."""

    numeric: bool = False
    show_options: bool = False
    show_details: bool = False
    show_mem: bool = False
    show_tcpinfo: bool = False
    show_users: bool = False
    show_header: bool = True
    oneline: bool = False
    summary: bool = False
    dbs: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)
    states: int = 0
    do_default: bool = True
    args: list[str] = field(default_factory=list)


def _getopt(argv: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """getopt_long with argument permutation: (option, value) pairs and the operands."""
    opts: list[tuple[str, str]] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            rest += argv[i:]
            break
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            hits = [n for n in _LONG if n.startswith(name)]
            exact = name in _LONG
            if not hits or (len(hits) > 1 and not exact and
                            len({_LONG[h] for h in hits}) > 1):
                if hits:
                    raise SsError(f"ss: option '{a}' is ambiguous\n", usage=True)
                raise SsError(f"ss: unrecognized option '{a}'\n", usage=True)
            letter, needs = _LONG[name if exact else hits[0]]
            if needs and not eq:
                if i >= len(argv):
                    raise SsError(f"ss: option '--{name}' requires an argument\n",
                                  usage=True)
                val = argv[i]
                i += 1
            elif eq and not needs:
                raise SsError(f"ss: option '--{name}' doesn't allow an argument\n",
                              usage=True)
            opts.append((letter, val))
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                ch = a[j]
                j += 1
                k = _SHORT.find(ch)
                if ch == ":" or k < 0:
                    raise SsError(f"ss: invalid option -- '{ch}'\n", usage=True)
                if k + 1 < len(_SHORT) and _SHORT[k + 1] == ":":
                    if j < len(a):
                        val, j = a[j:], len(a)
                    elif i < len(argv):
                        val = argv[i]
                        i += 1
                    else:
                        raise SsError(f"ss: option requires an argument -- '{ch}'\n",
                                      usage=True)
                    opts.append((ch, val))
                else:
                    opts.append((ch, ""))
            continue
        rest.append(a)
    return opts, rest


def parse_args(argv: list[str]) -> Options:
    """main()'s option loop and state words; raises SsError."""
    o = Options()
    opts, rest = _getopt(argv)
    state_filter = 0
    saw_query = False
    for ch, val in opts:
        if ch in _NOT_MODELLED:
            raise SsError(f"tuxnet ss: {_NOT_MODELLED[ch]}\n", 1)
        if ch == "n":
            o.numeric = True
        elif ch == "r":
            pass  # resolve_hosts: tuxnet has no resolver, addresses stay numeric
        elif ch == "o":
            o.show_options = True
        elif ch == "e":
            o.show_options = o.show_details = True
        elif ch == "m":
            o.show_mem = True
        elif ch == "i":
            o.show_tcpinfo = True
        elif ch == "p":
            o.show_users = True
        elif ch in ("t", "u", "w", "d", "S", "M"):
            db = {"t": "tcp", "u": "udp", "w": "raw", "d": "dccp", "S": "sctp",
                  "M": "mptcp"}[ch]
            o.dbs.add(db)
            o.states |= _DB_STATES[db]
            o.do_default = False
        elif ch == "a":
            state_filter = SS_ALL
        elif ch == "l":
            state_filter = (1 << _LISTEN) | (1 << _CLOSE)
        elif ch in ("4", "6"):
            _af_set(o, "inet" if ch == "4" else "inet6")
        elif ch == "f":
            if val not in ("inet", "inet6"):
                if val in ("link", "unix", "netlink", "vsock", "tipc", "xdp"):
                    raise SsError(f"tuxnet ss: family {val} is not modelled\n", 1)
                raise SsError(f'ss: "{val}" is invalid family\n', usage=True)
            _af_set(o, val)
        elif ch == "A":
            if not saw_query:
                o.dbs = set()
                state_filter = state_filter or SS_CONN
                o.do_default = False
                saw_query = True
            for name in val.split(","):
                neg = name.startswith("!")
                base = name[1:] if neg else name
                dbs = _QUERY.get(base)
                if dbs is None and base in _UNMODELLED_TABLES:
                    raise SsError(f"tuxnet ss: socket table {base} is not modelled\n", 1)
                if dbs is None:
                    raise SsError(f'ss: "{name}" is illegal socket table id\n', usage=True)
                for db in dbs:
                    if neg:
                        o.dbs.discard(db)
                    else:
                        o.dbs.add(db)
                        o.states |= _DB_STATES.get(db, SS_CONN)
        elif ch == "s":
            o.summary = True
        elif ch == "H":
            o.show_header = False
        elif ch == "O":
            o.oneline = True
        elif ch == "h":
            raise SsError("", 0)  # help: usage on stdout (main handles it)
        elif ch in ("v", "V"):
            raise SsError(f"ss utility, iproute2-{VERSION}\n", 0)
    saw_states = False
    i = 0
    while i < len(rest):
        word = rest[i]
        if word not in ("state", "exclude", "excl"):
            break
        if i + 1 >= len(rest):
            raise SsError('Command line is not complete. Try option "help"\n')
        mask = scan_state(rest[i + 1])
        if word == "state":
            state_filter = (state_filter if saw_states else 0) | mask
        else:
            state_filter = (state_filter if saw_states else SS_ALL) & ~mask
        saw_states = True
        i += 2
    o.args = rest[i:]
    if o.do_default:
        state_filter = state_filter or SS_CONN
        o.dbs = set(_ALL_DBS)
    if state_filter:
        o.states = state_filter
    # filter_merge_defaults(): a table brings its families, a family its tables
    if o.dbs & set(_INET_DBS) and not o.families & {"inet", "inet6"}:
        o.families |= {"inet", "inet6"}
    if o.families & {"inet", "inet6"} and not o.dbs & set(_INET_DBS):
        o.dbs |= set(_INET_DBS)
    return o


def _af_set(o: Options, family: str) -> None:
    """filter_af_set()."""
    o.states |= SS_CONN
    o.families.add(family)
    o.do_default = False


# -- output -----------------------------------------------------------------------------

def service_name(port: int, proto: str) -> str | None:
    """getservbyport() (ss: __resolve_service); None when the port has no name."""
    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return None


def _print_ms_timer(timeout: int) -> str:
    """print_ms_timer(): 59sec, 1.500ms, 3min ..."""
    secs, msecs = divmod(timeout, 1000)
    minutes, secs = divmod(secs, 60)
    out = ""
    if minutes:
        msecs = 0
        out = f"{minutes}min"
        if minutes > 9:
            secs = 0
    if secs:
        if secs > 9:
            msecs = 0
        out += f"{secs}{'.' if msecs else 'sec'}"
    if msecs:
        out += f"{msecs:03d}ms"
    return out


_TIMERS = ("off", "on", "keepalive", "timewait", "persist", "unknown")


class _Printer:
    """inet_stats_print + inet_show_sock for one host and one option set."""

    def __init__(self, host: Host, o: Options) -> None:
        self.host = host
        self.o = o
        lo, hi = sysctl_vec(host, "net.ipv4.ip_local_port_range")[:2]
        self.ephemeral = (lo, hi)
        self.ifnames = {getattr(d, "ifindex", 0): name for name, d in host.devices.items()}

    def service(self, port: int, proto: str) -> str:
        """resolve_service()."""
        if port == 0:
            return "*"
        if not self.o.numeric and not self.ephemeral[0] <= port <= self.ephemeral[1]:
            name = service_name(port, proto)
            if name:
                return name
        return str(port)

    def row(self, r: SockRecord) -> list[str]:
        o = self.o
        local = int_to_ip(r.saddr)
        if r.ifindex:
            local += "%" + self.ifnames.get(r.ifindex, str(r.ifindex))
        ext = ""
        if o.show_options and r.timer:
            ext += (f" timer:({_TIMERS[min(r.timer, 5)]},{_print_ms_timer(r.expires_ms)},"
                    f"{r.retrans})")
        if o.show_details:
            if r.uid:
                ext += f" uid:{r.uid}"
            ext += f" ino:{r.ino} sk:{r.cookie:x}"
            if r.mark:
                ext += f" fwmark:0x{r.mark:x}"
            if r.cgroup:
                ext += f" cgroup:unreachable:{r.cgroup:x}"  # cg_id_to_path: no cgroup2 fs
            if r.shutdown is not None:
                ext += (f" {'-' if r.shutdown & 1 else '<'}-"
                        f"{'-' if r.shutdown & 2 else '>'}")
        if o.show_mem or (o.show_tcpinfo and r.proto != "udp"):
            if not o.oneline:
                ext += "\n\t"
            if r.skmem is not None:
                ext += (" skmem:(r{},rb{},t{},tb{},f{},w{},o{},bl{},d{})"
                        .format(*r.skmem))
            if r.info is not None:
                ext += tcp_info_text(r.info, r.cong, numeric=o.numeric,
                                     show_options=o.show_options, state=r.state)
        return [r.proto, SS_STATE_NAMES.get(r.state, "UNKNOWN"), f"{r.rq:<6d}",
                f"{r.wq:<6d}", local + ":", self.service(r.sport, r.proto),
                int_to_ip(r.daddr) + ":", self.service(r.dport, r.proto), ext, ""]


def summary_text(host: Host) -> str:
    """print_summary(): the ``ss -s`` text from /proc/net/sockstat and CurrEstab."""
    s = sockstat(host)
    tcp4, tw, total = s["tcp_inuse"], s["tcp_tw"], s["tcp_alloc"]
    udp4, raw4, frag4 = s["udp_inuse"], s["raw_inuse"], s["frag_inuse"]
    inet = raw4 + udp4 + tcp4
    return (f"Total: {s['used']}\n"
            f"TCP:   {total + tw} (estab {s['curr_estab']}, closed {total - (tcp4 - tw)}, "
            f"orphaned {s['tcp_orphan']}, timewait {tw})\n\n"
            "Transport Total     IP        IPv6\n"
            f"RAW\t  {raw4:<9d} {raw4:<9d} {0:<9d}\n"
            f"UDP\t  {udp4:<9d} {udp4:<9d} {0:<9d}\n"
            f"TCP\t  {tcp4:<9d} {tcp4:<9d} {0:<9d}\n"
            f"INET\t  {inet:<9d} {inet:<9d} {0:<9d}\n"
            f"FRAG\t  {frag4:<9d} {frag4:<9d} {0:<9d}\n\n")


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None,
        screen_width: int | None = None) -> int:
    """One ss command line against ``host``; returns ss's exit status. ``screen_width``:
    lay out for a terminal that wide (None: compact, as when piped)."""
    err = err if err is not None else out
    try:
        o = parse_args(argv)
        if o.summary:
            out.write(summary_text(host))
            if o.do_default and not o.args:
                return 0
        if not o.dbs:
            err.write("ss: no socket tables to show with such filter.\n")
            return 0
        if not o.families:
            err.write("ss: no families to show with such filter.\n")
            return 0
        if not o.states:
            err.write("ss: no socket states to show with such filter.\n")
            return 0
        protos = tuple(p for p in ("udp", "tcp") if p in o.dbs)
        lo, hi = sysctl_vec(host, "net.ipv4.ip_local_port_range")[:2]
        pred = parse_filter(o.args, protos, (lo, hi))
    except SsError as exc:
        if exc.status == 0 and not str(exc):
            out.write(_USAGE)
            return 0
        (out if exc.status == 0 else err).write(str(exc))
        if exc.usage:
            err.write(_USAGE)
        return exc.status
    if o.show_users:
        err.write("tuxnet ss: -p: tuxnet sockets belong to no process; no users: shown\n")
    disabled = set()
    if len(o.dbs) == 1:
        disabled.add(COL_NETID)
    if not o.states & (o.states - 1):
        disabled.add(COL_STATE)
    rows: list[list[str]] = [list(HEADERS)] if o.show_header else []
    if "inet" in o.families:
        p = _Printer(host, o)
        for rec in inet_diag_dump(host, protos, o.states, ext_mem=o.show_mem,
                                  ext_info=o.show_tcpinfo):
            if pred is None or pred(rec):
                rows.append(p.row(rec))
    n_header = 1 if o.show_header else 0
    out.write(render(rows, frozenset(disabled), screen_width, len(rows) > n_header))
    return 0


def ss_lines(host: Host, *args: str) -> list[str]:
    """The lines ``ss ARGS`` prints for ``host`` (not a terminal), e.g.
    ``ss_lines(host, "-tan")``; raises ValueError with ss's message on a bad line."""
    import io

    out, err = io.StringIO(), io.StringIO()
    argv = [w for a in args for w in a.split()]
    rc = run(host, argv, out, err)
    if rc:
        raise ValueError(err.getvalue().strip())
    return out.getvalue().splitlines()


# -- the command ------------------------------------------------------------------------

def _screen_width(out: TextIO) -> int | None:
    """render_screen_width(): the terminal's columns when ``out`` is one."""
    try:
        if out.isatty():
            return os.get_terminal_size(out.fileno()).columns or None
    except (OSError, ValueError):
        pass
    return None


def main(argv: list[str], prog: str = "tuxnet ss") -> int:
    """Entry point of ``tuxnet ss``."""
    width = _screen_width(sys.stdout)
    return run_on_hosts(argv, prog,
                        lambda host, args: run(host, args, sys.stdout, sys.stderr, width))
