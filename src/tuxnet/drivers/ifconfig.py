"""Interface configuration by ioctl, as ifconfig(8) does it (net/core/dev_ioctl.c,
net/ipv4/devinet.c): address, netmask, flags (up/down), MTU, MAC, ifindex, txqueuelen.

This is the OS edge used by the TAP driver to configure the *kernel's* side of a TAP
(and, for ``--peer-addr``, any kernel interface). Every request goes through one
``socket(AF_INET, SOCK_DGRAM)`` owned by an :class:`IfConfig`; the socket belongs to
the network namespace that was current when it was opened, so an ``IfConfig`` made
inside :func:`in_netns` keeps configuring that namespace wherever it is used later.

Errors are raised as ``OSError`` with the errno and a message that names the request,
the interface and the value (``tuxnet: SIOCSIFMTU tnx0 mtu 70000: Invalid argument``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import cast

__all__ = [
    "IFF_BROADCAST",
    "IFF_LOWER_UP",
    "IFF_MULTICAST",
    "IFF_RUNNING",
    "IFF_UP",
    "IFNAMSIZ",
    "IfConfig",
    "check_ifname",
    "in_netns",
    "netns_path",
]

# include/uapi/linux/sockios.h
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCGIFADDR = 0x8915
SIOCSIFADDR = 0x8916
SIOCGIFNETMASK = 0x891B
SIOCSIFNETMASK = 0x891C
SIOCGIFMTU = 0x8921
SIOCSIFMTU = 0x8922
SIOCSIFHWADDR = 0x8924
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
SIOCGIFTXQLEN = 0x8942
SIOCSIFTXQLEN = 0x8943

# include/uapi/linux/if.h: enum net_device_flags (ifr_flags is a short: low 16 bits)
IFF_UP = 1 << 0
IFF_BROADCAST = 1 << 1
IFF_RUNNING = 1 << 6
IFF_MULTICAST = 1 << 12
IFF_LOWER_UP = 1 << 16
IFNAMSIZ = 16  # include/uapi/linux/if.h: IFNAMSIZ 16, NUL included

ARPHRD_ETHER = 1  # include/uapi/linux/if_arp.h
CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h

# struct ifreq: char ifr_name[IFNAMSIZ] + a 24-byte union on 64-bit (struct ifmap)
IFREQ_SIZE = 40
_IFR_NAME = struct.Struct("16s")
_IFR_INT = struct.Struct("16si")  # ifr_ifindex, ifr_mtu, ifr_qlen
_IFR_SHORT = struct.Struct("16sh")  # ifr_flags
# struct sockaddr_in: sa_family (host order), sin_port, sin_addr (network order)
_IFR_SIN = struct.Struct("16sHH4s8x")
_IFR_SA = struct.Struct("16sH6s8x")  # struct sockaddr with an Ethernet address (sa_data)


def check_ifname(name: str, *, allow_format: bool = False) -> bytes:
    """dev_valid_name: 1..15 bytes, not '.'/'..', no '/', ':' or whitespace; ``%d`` is
    allowed (the kernel picks a number, dev_alloc_name) when ``allow_format``."""
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise OSError(errno.EINVAL, f"tuxnet: bad interface name {name!r} (ASCII only)") from None
    bad = not raw or len(raw) >= IFNAMSIZ or name in (".", "..")
    bad = bad or any(c in name for c in "/: \t\n\r\v\f") or "\0" in name
    if not allow_format and "%" in name:
        bad = True
    if bad:
        raise OSError(errno.EINVAL, f"tuxnet: bad interface name {name!r} "
                      f"(1..{IFNAMSIZ - 1} characters, no '/', ':' or spaces)")
    return raw


def netns_path(netns: str) -> str:
    """The file that names a network namespace: /run/netns/NAME (as ``ip netns add``
    makes it), or a path given as is (e.g. /proc/PID/ns/net)."""
    return netns if "/" in netns else "/run/netns/" + netns


def _setns_func() -> Callable[[int, int], None]:
    """os.setns (Python >= 3.12), else setns(2) from libc through ctypes."""
    fn = getattr(os, "setns", None)
    if fn is not None:
        return cast("Callable[[int, int], None]", fn)
    libc = ctypes.CDLL(None, use_errno=True)
    c_setns = libc.setns
    c_setns.argtypes = (ctypes.c_int, ctypes.c_int)
    c_setns.restype = ctypes.c_int

    def setns(fd: int, nstype: int) -> None:
        if c_setns(fd, nstype) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return setns


@contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """Run the body with the calling thread in network namespace ``netns`` (setns(2)
    with CLONE_NEWNET), and switch back afterwards, also on error. Sockets and TAP
    devices opened inside stay in that namespace. ``None`` does nothing."""
    if netns is None:
        yield
        return
    path = netns_path(netns)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"tuxnet: cannot open network namespace {path}: "
                      f"{exc.strerror} (create it with `ip netns add {netns}`)") from None
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(target)
        raise OSError(exc.errno, f"tuxnet: cannot open this thread's network namespace: "
                      f"{exc.strerror}") from None
    setns = _setns_func()
    try:
        try:
            setns(target, CLONE_NEWNET)
        except OSError as exc:
            raise OSError(exc.errno, f"tuxnet: cannot enter network namespace {path}: "
                          f"{exc.strerror} (are you root?)") from None
        try:
            yield
        finally:
            setns(home, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)


def _mask_of(prefixlen: int) -> int:
    if not 0 <= prefixlen <= 32:
        raise OSError(errno.EINVAL, f"tuxnet: bad IPv4 prefix length {prefixlen}")
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF


class IfConfig:
    """The ioctls ifconfig(8) uses, on one AF_INET datagram socket (dev_ioctl /
    devinet_ioctl); works in the network namespace it was opened in."""

    __slots__ = ("_sock", "netns")

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        with in_netns(netns):
            try:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            except OSError as exc:
                raise OSError(exc.errno, f"tuxnet: cannot open a control socket: "
                              f"{exc.strerror}") from None

    def close(self) -> None:
        """Close the control socket."""
        self._sock.close()

    def __enter__(self) -> IfConfig:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- the one ioctl call, with a clear error ----------------------------------

    def _ioctl(self, req: int, what: str, ifname: str, ifr: bytes) -> bytes:
        try:
            out = _ioctl_sock(self._sock, req, ifr)
        except OSError as exc:
            hint = " (are you root?)" if exc.errno in (errno.EPERM, errno.EACCES) else ""
            if exc.errno == errno.ENODEV:
                hint = " (no such interface in this network namespace)"
            raise OSError(exc.errno, f"tuxnet: {what} on {ifname}: "
                          f"{os.strerror(exc.errno or 0)}{hint}") from None
        return out

    @staticmethod
    def _req(ifname: str) -> bytes:
        return _IFR_NAME.pack(check_ifname(ifname)).ljust(IFREQ_SIZE, b"\0")

    # --- identity ------------------------------------------------------------------

    def get_ifindex(self, ifname: str) -> int:
        """SIOCGIFINDEX (dev_ifsioc_locked): the interface index."""
        out = self._ioctl(SIOCGIFINDEX, "SIOCGIFINDEX", ifname, self._req(ifname))
        return int(_IFR_INT.unpack_from(out)[1])

    def get_hwaddr(self, ifname: str) -> bytes:
        """SIOCGIFHWADDR (dev_ifsioc_locked): the 6-byte MAC address."""
        out = self._ioctl(SIOCGIFHWADDR, "SIOCGIFHWADDR", ifname, self._req(ifname))
        return bytes(_IFR_SA.unpack_from(out)[2])

    def set_hwaddr(self, ifname: str, mac: bytes) -> None:
        """SIOCSIFHWADDR (dev_set_mac_address_user): set the MAC address."""
        if len(mac) != 6:
            raise OSError(errno.EINVAL, f"tuxnet: MAC address must be 6 bytes, got {len(mac)}")
        ifr = _IFR_SA.pack(check_ifname(ifname), ARPHRD_ETHER, bytes(mac)).ljust(IFREQ_SIZE, b"\0")
        self._ioctl(SIOCSIFHWADDR, f"SIOCSIFHWADDR {bytes(mac).hex(':')}", ifname, ifr)

    # --- flags -------------------------------------------------------------------

    def get_flags(self, ifname: str) -> int:
        """SIOCGIFFLAGS (dev_get_flags): IFF_* flags, low 16 bits."""
        out = self._ioctl(SIOCGIFFLAGS, "SIOCGIFFLAGS", ifname, self._req(ifname))
        return int(_IFR_SHORT.unpack_from(out)[1]) & 0xFFFF

    def set_flags(self, ifname: str, flags: int) -> None:
        """SIOCSIFFLAGS (dev_change_flags): set IFF_* flags."""
        flags &= 0xFFFF
        signed = flags - 0x10000 if flags & 0x8000 else flags
        ifr = _IFR_SHORT.pack(check_ifname(ifname), signed).ljust(IFREQ_SIZE, b"\0")
        self._ioctl(SIOCSIFFLAGS, f"SIOCSIFFLAGS {flags:#x}", ifname, ifr)

    def set_up(self, ifname: str, up: bool = True) -> None:
        """`ip link set IFNAME up|down`: toggle IFF_UP (dev_change_flags -> dev_open)."""
        flags = self.get_flags(ifname)
        new = flags | IFF_UP if up else flags & ~IFF_UP
        if new != flags:
            self.set_flags(ifname, new)

    def is_up(self, ifname: str) -> bool:
        """IFF_UP is set."""
        return bool(self.get_flags(ifname) & IFF_UP)

    # --- MTU and queue length ------------------------------------------------------

    def get_mtu(self, ifname: str) -> int:
        """SIOCGIFMTU: the device MTU."""
        out = self._ioctl(SIOCGIFMTU, "SIOCGIFMTU", ifname, self._req(ifname))
        return int(_IFR_INT.unpack_from(out)[1])

    def set_mtu(self, ifname: str, mtu: int) -> None:
        """SIOCSIFMTU (dev_set_mtu): EINVAL outside the device's min_mtu..max_mtu."""
        ifr = _IFR_INT.pack(check_ifname(ifname), mtu).ljust(IFREQ_SIZE, b"\0")
        self._ioctl(SIOCSIFMTU, f"SIOCSIFMTU mtu {mtu}", ifname, ifr)

    def get_txqueuelen(self, ifname: str) -> int:
        """SIOCGIFTXQLEN: dev->tx_queue_len (a TAP's ring size towards user space)."""
        out = self._ioctl(SIOCGIFTXQLEN, "SIOCGIFTXQLEN", ifname, self._req(ifname))
        return int(_IFR_INT.unpack_from(out)[1])

    def set_txqueuelen(self, ifname: str, qlen: int) -> None:
        """SIOCSIFTXQLEN (dev_change_tx_queue_len)."""
        ifr = _IFR_INT.pack(check_ifname(ifname), qlen).ljust(IFREQ_SIZE, b"\0")
        self._ioctl(SIOCSIFTXQLEN, f"SIOCSIFTXQLEN {qlen}", ifname, ifr)

    # --- IPv6 on/off (a sysctl, not an ioctl) --------------------------------------

    def set_ipv6(self, ifname: str, enabled: bool) -> bool:
        """net.ipv6.conf.IFNAME.disable_ipv6 (addrconf_sysctl_disable), written in this
        object's namespace; ``ifname`` may be "all" or "default". Off keeps router
        solicitations, MLD and DAD frames off a TAP. False when the kernel has no IPv6."""
        check_ifname(ifname)
        path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
        with in_netns(self.netns):
            try:
                with open(path, "w") as f:
                    f.write("0" if enabled else "1")
            except FileNotFoundError:
                if os.path.isdir("/proc/sys/net/ipv6"):
                    raise OSError(errno.ENODEV, f"tuxnet: no interface {ifname} for "
                                  f"{path}") from None
                return False
            except OSError as exc:
                raise OSError(exc.errno, f"tuxnet: cannot write {path}: "
                              f"{exc.strerror} (are you root?)") from None
        return True

    # --- IPv4 address ------------------------------------------------------------

    def _sin(self, ifname: str, addr: str) -> bytes:
        try:
            packed = socket.inet_aton(addr)
        except OSError:
            raise OSError(errno.EINVAL, f"tuxnet: bad IPv4 address {addr!r}") from None
        return _IFR_SIN.pack(check_ifname(ifname), socket.AF_INET, 0, packed).ljust(
            IFREQ_SIZE, b"\0")

    def set_addr(self, ifname: str, addr: str, prefixlen: int | None = None) -> None:
        """SIOCSIFADDR then SIOCSIFNETMASK (devinet_ioctl): the primary IPv4 address,
        with ``prefixlen`` (else the classful default the kernel picks)."""
        mask = None if prefixlen is None else _mask_of(prefixlen)
        self._ioctl(SIOCSIFADDR, f"SIOCSIFADDR {addr}", ifname, self._sin(ifname, addr))
        if mask is not None:
            self.set_netmask(ifname, socket.inet_ntoa(mask.to_bytes(4, "big")))

    def set_netmask(self, ifname: str, netmask: str) -> None:
        """SIOCSIFNETMASK (devinet_ioctl): the primary address's mask; the broadcast
        address and the prefix route follow."""
        self._ioctl(SIOCSIFNETMASK, f"SIOCSIFNETMASK {netmask}", ifname,
                    self._sin(ifname, netmask))

    def _get_sin(self, req: int, what: str, ifname: str) -> str | None:
        try:
            out = _ioctl_sock(self._sock, req, self._req(ifname))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:  # devinet_ioctl: no IPv4 address
                return None
            raise OSError(exc.errno, f"tuxnet: {what} on {ifname}: "
                          f"{os.strerror(exc.errno or 0)}") from None
        return socket.inet_ntoa(_IFR_SIN.unpack_from(out)[3])

    def get_addr(self, ifname: str) -> str | None:
        """SIOCGIFADDR: the primary IPv4 address, None when there is none."""
        return self._get_sin(SIOCGIFADDR, "SIOCGIFADDR", ifname)

    def get_netmask(self, ifname: str) -> str | None:
        """SIOCGIFNETMASK: the primary address's mask, None when there is none."""
        return self._get_sin(SIOCGIFNETMASK, "SIOCGIFNETMASK", ifname)

    def get_prefixlen(self, ifname: str) -> int | None:
        """The primary address's prefix length (from SIOCGIFNETMASK)."""
        mask = self.get_netmask(ifname)
        if mask is None:
            return None
        return bin(int.from_bytes(socket.inet_aton(mask), "big")).count("1")


def _ioctl_sock(sock: socket.socket, req: int, ifr: bytes) -> bytes:
    """ioctl(2) on a socket with a struct ifreq in and out."""
    return fcntl.ioctl(sock.fileno(), req, ifr)
