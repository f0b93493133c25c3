"""/proc files of a host, rendered byte for byte as Linux prints them.

``read_proc(host, "/proc/net/snmp")`` returns the file's text; ``/proc/sys/...`` paths
read the sysctl tree; ``/sys/module/MODULE/parameters/NAME`` reads the module parameters
of the congestion-control modules (``write_file`` writes them, EACCES for a 0444 one).
Other subsystems add their files with ``register`` (e.g. /proc/net/dev, /proc/net/tcp),
so ``tuxnet cat`` needs one table only.
"""

from __future__ import annotations

from collections.abc import Callable

from tuxnet.host import Host
from tuxnet.sysctl import SysctlError

__all__ = ["PROC_FILES", "ProcError", "proc_net_netstat", "proc_net_snmp", "read_proc",
           "register", "write_file"]

Renderer = Callable[[Host], str]


class ProcError(Exception):
    """A /proc path that does not exist; the message is cat's."""


def proc_net_snmp(host: Host) -> str:
    """/proc/net/snmp (net/ipv4/proc.c snmp_seq_show)."""
    return host.mib.format_snmp()


def proc_net_netstat(host: Host) -> str:
    """/proc/net/netstat (net/ipv4/proc.c netstat_seq_show)."""
    return host.mib.format_netstat()


PROC_FILES: dict[str, Renderer] = {
    "/proc/net/snmp": proc_net_snmp,
    "/proc/net/netstat": proc_net_netstat,
}


def register(path: str, renderer: Renderer) -> None:
    """Add a /proc file rendered by ``renderer(host)``."""
    if not path.startswith("/proc/"):
        raise ValueError(f"not a /proc path: {path!r}")
    PROC_FILES[path] = renderer


def read_proc(host: Host, path: str) -> str:
    """The text of ``path`` on ``host``, as `cat` would print it."""
    renderer = PROC_FILES.get(path)
    if renderer is not None:
        return renderer(host)
    if path.startswith("/sys/module/"):
        from tuxnet.tcp.cong import tcp_ca_find
        from tuxnet.tcp.cong.modparams import read_param

        tcp_ca_find("reno")  # the built-in algorithms declare their parameters
        try:
            return read_param(host, path)
        except FileNotFoundError:
            pass
    if path.startswith("/proc/sys/"):
        try:
            if host.sysctl.is_dir(path):
                raise ProcError(f"cat: {path}: Is a directory")
            return host.sysctl.format_value(path) + "\n"
        except SysctlError:
            pass
    raise ProcError(f"cat: {path}: No such file or directory")


def write_file(host: Host, path: str, text: str) -> None:
    """``echo TEXT > PATH``: a /proc/sys file (the sysctl's checks) or a module
    parameter. Raises OSError with Linux's errno (ENOENT, EACCES, EINVAL, ...)."""
    import errno

    if path.startswith("/sys/module/"):
        from tuxnet.tcp.cong import tcp_ca_find
        from tuxnet.tcp.cong.modparams import write_param

        tcp_ca_find("reno")
        write_param(host, path, text)
        return
    if path.startswith("/proc/sys/"):
        try:
            host.sysctl.set(path, text.strip())
        except SysctlError as e:
            raise OSError(e.errno, str(e), path) from None
        return
    raise OSError(errno.ENOENT, "No such file or directory", path)
