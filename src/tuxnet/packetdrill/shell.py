"""Backquoted shell commands, emulated on the tuxnet host instead of run by system().

Scripts configure the kernel with a few shell idioms (see the conformance README):
``defaults.sh`` (read from the script's folder and interpreted line by line, or the
built-in profile when the file is absent), ``sysctl -q net.X=V ...``,
``set_sysctls.py /proc/sys/net/X=V ...``, ``echo V > /proc/sys/...``, the
``/tmp/sysctl_restore_${PPID}.sh`` cleanup (a no-op: every script gets a fresh host),
``ip tcp_metrics flush all`` (the fresh host has no cache), ``ip route ...`` (run by
tuxnet's own ``ip route``: per-route metrics such as advmss, mtu lock, initcwnd),
``grep PATTERN /proc/net/tcp ... | grep ...`` (tuxnet's /proc files), ``tc qdisc ... pfifo``
(the tun's default queue behaves as pfifo), ``ethtool -K tun0 tso off gso off`` (tuxnet
TCP builds no TSO super-packets) and the tcp_cubic module parameters. Anything else
raises :class:`ShellUnsupported` and the script FAILs with that reason.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import shlex
from typing import TYPE_CHECKING

from tuxnet.packetdrill.sysfile import run_file_command
from tuxnet.sysctl import SysctlError
from tuxnet.tools import ip_cmd, tc_cmd
from tuxnet.tools.ip_cmd import resolve_object

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["DEFAULTS_PROFILE", "ShellError", "ShellUnsupported", "run_shell", "set_sysctl"]

# gtests/net/common/defaults.sh, as the README's table lists it
DEFAULTS_PROFILE: list[tuple[str, str]] = [
    ("net.ipv4.tcp_rmem", "4096 540000 15728640"),
    ("net.ipv4.tcp_wmem", "4096 262144 4194304"),
    ("net.ipv4.tcp_timestamps", "1"), ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"), ("net.ipv4.tcp_frto", "2"),
    ("net.ipv4.tcp_sack", "1"), ("net.ipv4.tcp_dsack", "1"), ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_reordering", "3"), ("net.ipv4.tcp_congestion_control", "cubic"),
    ("net.ipv4.tcp_slow_start_after_idle", "0"), ("net.ipv4.tcp_early_retrans", "4"),
    ("net.ipv4.tcp_recovery", "1"), ("net.ipv4.tcp_tso_win_divisor", "3"),
    ("net.ipv4.tcp_ecn", "0"), ("net.ipv4.tcp_ecn_option", "2"),
    ("net.ipv4.tcp_pacing_ss_ratio", "200"), ("net.ipv4.tcp_pacing_ca_ratio", "120"),
    ("net.ipv4.tcp_notsent_lowat", "4294967295"), ("net.ipv4.tcp_fastopen", "0x70403"),
    ("net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"),
    ("net.ipv4.tcp_syncookies", "1"),
]


class ShellError(Exception):
    """A command that ran and failed (as a non-zero exit status would)."""


class ShellUnsupported(Exception):
    """A command tuxnet does not emulate."""


_ARITH = re.compile(r"\$\(\(([0-9+\-*/ ()]+)\)\)")


def _expand(text: str) -> str:
    """Shell arithmetic ``$((15*1024*1024))`` (the only expansion the scripts use)."""
    def arith(m: re.Match[str]) -> str:
        expr = m.group(1)
        if not re.fullmatch(r"[0-9+\-*/ ()]+", expr):
            raise ShellUnsupported(f"unsupported: shell expression {expr!r}")
        return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}}, {})))
    return _ARITH.sub(arith, text)


def set_sysctl(host: Host, name: str, value: str) -> None:
    """Write one net.* sysctl as sysctl(8) would (``/`` or ``.`` separated)."""
    name = name.replace("/", ".")
    if name.startswith("net.ipv4.tcp_fastopen") and name not in host.sysctl:
        return
    if name == "net.ipv4.tcp_fastopen" and value.startswith("0x"):
        value = str(int(value, 16))
    if name not in host.sysctl:
        raise ShellUnsupported(f"unsupported: sysctl {name}")
    try:
        host.sysctl.set(name, value)
    except SysctlError as e:
        raise ShellError(f"sysctl: {e}") from None


def _commands(text: str) -> list[tuple[str, str]]:
    """The commands of ``text`` with the separator that follows each (``;``, ``&&``
    or a newline, shown as ``;``)."""
    text = text.replace("\\\n", " ")
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"(;|&&)", line)
        for i in range(0, len(parts), 2):
            cmd = parts[i].strip()
            sep = parts[i + 1] if i + 1 < len(parts) else ";"
            if cmd:
                out.append((cmd, sep))
    return out


def run_shell(host: Host, text: str, script_dir: str, state: dict[str, object]) -> None:
    """Emulate ``text`` on ``host`` (``state`` keeps module parameters and flags). As
    for system(), the exit status is the last command's: a failing command followed
    by more commands is not an error, and ``a && b`` skips ``b`` when ``a`` fails.
    Unsupported commands always fail the script."""
    failed: ShellError | None = None
    skip = False
    for cmd, sep in _commands(text):
        if skip:
            skip = sep == "&&"
            continue
        try:
            _run_one(host, cmd, script_dir, state)
            failed = None
        except ShellError as e:
            failed = e
            skip = sep == "&&"
    if failed is not None:
        raise failed


def _strip_redirects(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w in (">", "2>", ">>"):
            skip = True
            continue
        if w in ("2>&1",) or w.startswith("2>/") or w.startswith(">/"):
            continue
        out.append(w)
    return out


def _grep(host: Host, argv: list[str], stdin: list[str] | None) -> tuple[int, list[str]]:
    """grep(1) with -q/-v/-c/-F/-E/-w/-i over files (the /proc files tuxnet renders) or
    the previous stage's lines: (exit status: 0 a line matched, 1 none, 2 an error;
    the lines it prints)."""
    from tuxnet.tools.cat_cmd import PROC_PROVIDERS
    from tuxnet.tools.procfs import ProcError, read_proc

    for mod in PROC_PROVIDERS:  # the modules that register /proc files
        importlib.import_module(mod)

    flags: set[str] = set()
    args = argv[1:]
    while args and args[0].startswith("-") and len(args[0]) > 1:
        for ch in args.pop(0)[1:]:
            if ch not in "qvcFEwi":
                raise ShellUnsupported(f"unsupported: grep option -{ch}")
            flags.add(ch)
    if not args:
        raise ShellUnsupported("unsupported: grep without a pattern")
    pattern, files = args[0], args[1:]
    expr = re.escape(pattern) if "F" in flags else pattern
    if "w" in flags:
        expr = rf"\b{expr}\b"
    rx = re.compile(expr, re.IGNORECASE if "i" in flags else 0)
    sources: list[tuple[str, list[str]]] = []
    status_err = False
    if files:
        for f in files:
            try:
                sources.append((f, read_proc(host, f).splitlines()))
            except ProcError:
                status_err = True
    else:
        sources.append(("", stdin or []))
    out: list[str] = []
    count = 0
    for name, lines in sources:
        for line in lines:
            if bool(rx.search(line)) != ("v" in flags):
                count += 1
                out.append(f"{name}:{line}" if len(files) > 1 else line)
    if "c" in flags:
        out = [str(count)]
    if "q" in flags:
        return (0 if count else (2 if status_err else 1)), []
    return (2 if status_err else (0 if count else 1)), out


def _run_pipeline(host: Host, cmd: str) -> None:
    """``grep ... | grep ...`` over /proc files; a non-zero status of the last stage
    fails the command (as system() would report it)."""
    lines: list[str] | None = None
    status = 0
    for stage in cmd.split("|"):
        words = _strip_redirects(shlex.split(stage, comments=True))
        if not words or os.path.basename(words[0]) != "grep":
            raise ShellUnsupported(f"unsupported: shell command {cmd!r}")
        status, lines = _grep(host, words, lines)
    if status:
        raise ShellError(f"{cmd!r} exited with status {status}")


def _run_one(host: Host, cmd: str, script_dir: str, state: dict[str, object]) -> None:
    cmd = _expand(cmd)
    try:
        raw = shlex.split(cmd, comments=True)
    except ValueError as e:
        raise ShellUnsupported(f"unsupported: shell command {cmd!r} ({e})") from None
    if not raw:
        return
    if os.path.basename(raw[0]) == "grep":  # (nstat | grep: nstat.py)
        _run_pipeline(host, cmd)
        return
    prog = os.path.basename(raw[0])
    if prog == "echo" and ">" in raw:
        i = raw.index(">")
        target = raw[i + 1] if i + 1 < len(raw) else ""
        value = " ".join(raw[1:i])
        if target.startswith("/proc/sys/"):
            set_sysctl(host, target[len("/proc/sys/"):], value)
            return
        m = re.fullmatch(r"/sys/module/(\w+)/parameters/(\w+)", target)
        if m:
            params = state.setdefault("module_params", {})
            assert isinstance(params, dict)
            params[f"{m.group(1)}.{m.group(2)}"] = value
            return
        raise ShellUnsupported(f"unsupported: shell command {cmd!r}")
    words = _strip_redirects(raw)
    if run_file_command(words, state):
        return  # rm -f / dd if=/dev/zero / touch on the script's files (sysfile.py)
    if prog == "nstat":
        from tuxnet.packetdrill.nstat import NstatError, run_nstat

        try:
            run_nstat(host, words, state)
        except NstatError as e:
            raise ShellError(str(e)) from None
        return
    if prog == "defaults.sh":
        path = os.path.normpath(os.path.join(script_dir, raw[0]))
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                run_shell(host, f.read(), os.path.dirname(path), state)
        else:
            for name, value in DEFAULTS_PROFILE:
                set_sysctl(host, name, value)
        return
    if prog == "sysctl":
        for w in words[1:]:
            if w.startswith("-"):
                continue
            name, eq, value = w.partition("=")
            if not eq:
                raise ShellUnsupported(f"unsupported: shell command {cmd!r}")
            set_sysctl(host, name, value)
        return
    if prog == "set_sysctls.py":
        for w in words[1:]:
            name, eq, value = w.partition("=")
            if not eq or not name.startswith("/proc/sys/"):
                raise ShellUnsupported(f"unsupported: shell command {cmd!r}")
            set_sysctl(host, name[len("/proc/sys/"):], value)
        return
    if re.fullmatch(r"sysctl_restore_.*\.sh", prog):
        return  # each script runs on a fresh host: nothing to restore
    if prog == "ip" and words[1:4] == ["tcp_metrics", "flush", "all"]:
        from tuxnet.tcp.fastopen_client import tcp_fastopen_metrics_flush
        from tuxnet.tcp.netns import tcp_net

        tcp_fastopen_metrics_flush(tcp_net(host))  # the cached Fast Open cookies
        return
    if prog == "ip" and len(words) > 1 and resolve_object(words[1]) == "tuxnet.tools.ip_route":
        out = io.StringIO()  # route metrics (advmss, mtu lock, initcwnd): tuxnet's ip route
        if ip_cmd.run(host, words[1:], out):
            raise ShellError(f"ip: {out.getvalue().strip()}")
        return
    if prog == "tc" and words[1:2] == ["qdisc"]:
        out = io.StringIO()  # tuxnet's tc: the qdisc is grafted onto the host's device
        rc = tc_cmd.run_on_host(host, words[1:], out)
        if rc:
            raise ShellError(f"tc: {out.getvalue().strip()}")
        return
    if prog == "ethtool" and words[1:2] == ["-K"]:
        return  # tuxnet TCP sends MSS-sized segments (no TSO/GSO to turn off)
    raise ShellUnsupported(f"unsupported: shell command {cmd!r}")
