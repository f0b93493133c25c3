"""TAP driver, the OS-facing half: a /dev/net/tun file descriptor in TAP mode with a
virtio-net header (drivers/net/tun.c seen from user space; the net_device wrapper
lives in the device core).

The TAP's net_device belongs to the kernel: frames the kernel transmits on it
(tun_net_xmit) are what tuxnet reads (tun_do_read), and frames tuxnet writes
(tun_get_user) are what the kernel receives. With IFF_VNET_HDR and TUNSETOFFLOAD the
kernel hands over TSO/USO super-frames of up to 64 KiB with partial checksums and takes
the same back, so one read or write moves up to 44 MTU-sized segments.

Header size: 12 bytes (TUNSETVNETHDRSZ 12) and little-endian (TUNSETVNETLE), i.e. the
virtio 1.x header struct virtio_net_hdr_v1 (virtio spec 1.2 5.1.6: num_buffers is
always present when VIRTIO_F_VERSION_1 is negotiated), the layout vhost-net and QEMU use
with modern guests, so tuxnet's frames and headers match what a virtio-net device
exchanges. It costs nothing: tun writes the 10-byte struct virtio_net_hdr and skips the
last 2 bytes (tun_put_user), and ignores them on write (tun_get_user).

Receive buffers: each read lands in a 64 KiB + 256 buffer (the largest IPv4 GSO frame,
Ethernet and VLAN header included). A frame up to ``rx_copybreak`` bytes is copied into
a bytearray of its own size (as drivers' rx_copybreak does); a larger one keeps the
buffer itself (no copy) and a fresh buffer is allocated. Copies are counted.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from tuxnet.drivers.ifconfig import IfConfig, check_ifname, in_netns
from tuxnet.drivers.virtio_net import (
    VIRTIO_NET_HDR_GSO_NONE,
    VNET_HDR_MRG_LEN,
    VNET_HDR_NONE,
    VirtioNetHdr,
    VirtioNetHdrError,
    virtio_net_hdr_from_skb,
)
from tuxnet.skb import CHECKSUM_PARTIAL, SkBuff

__all__ = [
    "IFF_NO_PI",
    "IFF_TAP",
    "IFF_VNET_HDR",
    "RX_BUF_SIZE",
    "RX_COPYBREAK",
    "TUN_F_CSUM",
    "TUN_F_TSO4",
    "TUN_F_TSO6",
    "TUN_F_TSO_ECN",
    "TUN_F_USO4",
    "TUN_F_USO6",
    "Frame",
    "ReaderLoop",
    "TapDevice",
    "TapStats",
]

# include/uapi/asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr (the generic
# layout: x86, arm, arm64, riscv, s390; mips/powerpc/sparc/alpha differ)
_IOC_WRITE = 1
_IOC_READ = 2


def _ioc_t(direction: int, nr: int, size: int = 4) -> int:
    return (direction << 30) | (size << 16) | (ord("T") << 8) | nr


TUNSETIFF = _ioc_t(_IOC_WRITE, 202)  # if_tun.h: TUNSETIFF _IOW('T', 202, int)
TUNGETFEATURES = _ioc_t(_IOC_READ, 207)  # if_tun.h: _IOR('T', 207, unsigned int)
TUNSETOFFLOAD = _ioc_t(_IOC_WRITE, 208)  # if_tun.h: _IOW('T', 208, unsigned int)
TUNGETIFF = _ioc_t(_IOC_READ, 210)  # if_tun.h: _IOR('T', 210, unsigned int)
TUNSETVNETHDRSZ = _ioc_t(_IOC_WRITE, 216)  # if_tun.h: _IOW('T', 216, int)
TUNSETVNETLE = _ioc_t(_IOC_WRITE, 220)  # if_tun.h: _IOW('T', 220, int)

# include/uapi/linux/if_tun.h: TUNSETIFF flags
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_TUN_EXCL = 0x8000  # fail with EBUSY instead of attaching to an existing device

# include/uapi/linux/if_tun.h: TUNSETOFFLOAD bits ("I can take / you may hand me")
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
TUN_F_TSO_ECN = 0x08
TUN_F_UFO = 0x10
TUN_F_USO4 = 0x20  # Linux 6.2; tun.c accepts USO4 only together with USO6
TUN_F_USO6 = 0x40

TUN_PATH = "/dev/net/tun"
# 64 KiB GSO maximum (GSO_LEGACY_MAX_SIZE, IPv4 tot_len <= 65535) + Ethernet + VLAN
# header, rounded up
RX_BUF_SIZE = 65536 + 256
# measured here: copying 16 KiB costs less than allocating a fresh 64 KiB buffer
RX_COPYBREAK = 16384
NAPI_POLL_WEIGHT = 64  # include/linux/netdevice.h: NAPI_POLL_WEIGHT

_IFREQ = struct.Struct("16sH22x")  # struct ifreq: ifr_name[IFNAMSIZ 16], ifr_flags (unsigned)
_UINT = struct.Struct("I")
_INT = struct.Struct("i")
_S12 = struct.Struct("<BBHHHHH")
_ZERO_HDR = bytes(VNET_HDR_MRG_LEN)

Frame = tuple[VirtioNetHdr | None, bytearray]


class ReaderLoop(Protocol):
    """What :meth:`TapDevice.attach` needs of an event loop (RealLoop has it)."""

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is readable."""

    def remove_reader(self, fd: int) -> bool:
        """Stop watching ``fd``."""


class TapStats:
    """Counters, with rtnl_link_stats64 names where Linux has them; the gso_* ones
    count super-frames (gso_type != NONE), rx_copies/rx_copy_bytes the copybreak
    copies, rx_reads/tx_writes the syscalls, rx_eagain the reads that found nothing."""

    __slots__ = ("rx_bytes", "rx_copies", "rx_copy_bytes", "rx_eagain", "rx_errors",
                 "rx_gso_bytes", "rx_gso_packets", "rx_packets", "rx_reads", "tx_bytes",
                 "tx_dropped", "tx_errors", "tx_gso_bytes", "tx_gso_packets", "tx_packets",
                 "tx_writes")

    def __init__(self) -> None:
        self.rx_packets = self.rx_bytes = self.rx_errors = 0
        self.rx_gso_packets = self.rx_gso_bytes = 0
        self.rx_copies = self.rx_copy_bytes = self.rx_reads = self.rx_eagain = 0
        self.tx_packets = self.tx_bytes = self.tx_dropped = self.tx_errors = 0
        self.tx_gso_packets = self.tx_gso_bytes = self.tx_writes = 0

    def as_dict(self) -> dict[str, int]:
        """All counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "TapStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


def _tun_error(exc: OSError, what: str, name: str) -> OSError:
    code = exc.errno or errno.EIO
    msg = f"tuxnet: {what} {name}: {os.strerror(code)}"
    if code in (errno.EPERM, errno.EACCES):
        msg += " (are you root? CAP_NET_ADMIN is needed)"
    elif code == errno.EBUSY:
        msg += " (an interface of that name already exists)"
    return OSError(code, msg)


class TapDevice:
    """A TAP device opened by tuxnet (tun_chr_open + tun_set_iff). Make one with
    :meth:`create`; ``close()`` removes it (a non-persistent TAP goes with its fd)."""

    __slots__ = ("_big", "_closed", "_fd", "_iov", "_loop", "_on_frames", "_vnet_sz",
                 "budget", "hwaddr", "ifconfig", "ifindex", "name", "netns", "offload",
                 "rx_copybreak", "stats")

    def __init__(self, fd: int, name: str, vnet_sz: int, offload: int, ifc: IfConfig,
                 netns: str | None) -> None:
        self._fd = fd
        self.name = name
        self._vnet_sz = vnet_sz
        self.offload = offload
        self.ifconfig = ifc
        self.netns = netns
        self.stats = TapStats()
        self.rx_copybreak = RX_COPYBREAK
        self.budget = NAPI_POLL_WEIGHT
        self._big = bytearray(RX_BUF_SIZE)
        self._iov: list[bytearray] = ([bytearray(vnet_sz), self._big] if vnet_sz
                                      else [self._big])
        self._loop: ReaderLoop | None = None
        self._on_frames: Callable[[list[Frame]], object] | None = None
        self._closed = False
        self.hwaddr = ifc.get_hwaddr(name)
        self.ifindex = ifc.get_ifindex(name)

    # --- creation ----------------------------------------------------------------

    @classmethod
    def create(cls, name: str = "tnx%d", *, vnet_hdr: bool = True, offload: bool | int = True,
               mtu: int | None = None, txqueuelen: int | None = None,
               netns: str | None = None, exclusive: bool = True) -> TapDevice:
        """Open /dev/net/tun and make a TAP (tun_set_iff with IFF_TAP | IFF_NO_PI
        [| IFF_VNET_HDR]); with ``offload=True`` ask for checksum, TSO4/6, TSO_ECN and,
        where the kernel has them, USO4/6 (TUNSETOFFLOAD; set_offload refuses unknown
        bits, so USO is retried without); an int asks for exactly those TUN_F_* bits
        (e.g. TUN_F_CSUM: partial checksums, no GSO). ``offload`` only governs what the
        kernel may hand tuxnet; the kernel takes GSO and partial checksums from tuxnet
        whenever the header is on. ``name`` may hold ``%d``. ``netns`` (a name from
        ``ip netns`` or a path) creates the device in that network namespace; the fd
        and the control socket keep working from any namespace. Non-blocking fd."""
        check_ifname(name, allow_format=True)
        if offload and not vnet_hdr:
            raise ValueError("offload needs the virtio-net header (vnet_hdr=True)")
        fd = -1
        ifc: IfConfig | None = None
        try:
            with in_netns(netns):
                try:
                    fd = os.open(TUN_PATH, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
                except FileNotFoundError:
                    raise OSError(errno.ENOENT, f"tuxnet: cannot open {TUN_PATH}: no such "
                                  "device (load the tun module: modprobe tun)") from None
                except OSError as exc:
                    raise _tun_error(exc, "cannot open", TUN_PATH) from None
                flags = IFF_TAP | IFF_NO_PI | (IFF_TUN_EXCL if exclusive else 0)
                if vnet_hdr:
                    feats = _UINT.unpack(_ioctl(fd, TUNGETFEATURES, _UINT.pack(0),
                                                "TUNGETFEATURES", name))[0]
                    if not feats & IFF_VNET_HDR:
                        raise OSError(errno.EOPNOTSUPP,
                                      "tuxnet: this kernel's tun has no IFF_VNET_HDR")
                    flags |= IFF_VNET_HDR
                out = _ioctl(fd, TUNSETIFF, _IFREQ.pack(name.encode(), flags),
                             "TUNSETIFF", name)
                real = _IFREQ.unpack(out)[0].rstrip(b"\0").decode()
                ifc = IfConfig()
            ifc.netns = netns
            vnet_sz = 0
            got = 0
            if vnet_hdr:
                vnet_sz = VNET_HDR_MRG_LEN
                _ioctl(fd, TUNSETVNETHDRSZ, _INT.pack(vnet_sz), "TUNSETVNETHDRSZ", real)
                try:  # virtio 1.x is little-endian; this is the default on LE hosts
                    _ioctl(fd, TUNSETVNETLE, _INT.pack(1), "TUNSETVNETLE", real)
                except OSError:
                    if sys.byteorder == "big":
                        raise
                got = _set_offload(fd, real, offload)
            dev = cls(fd, real, vnet_sz, got, ifc, netns)
            if mtu is not None:
                ifc.set_mtu(real, mtu)
            if txqueuelen is not None:
                ifc.set_txqueuelen(real, txqueuelen)
            return dev
        except BaseException:
            if fd >= 0:
                os.close(fd)  # the device goes with the fd (not persistent)
            if ifc is not None:
                ifc.close()
            raise

    # --- configuration of the kernel's side -------------------------------------

    def configure(self, addr: str | None = None, prefixlen: int = 24, *, up: bool = True,
                  mtu: int | None = None) -> None:
        """Give the kernel's side of the TAP an IPv4 address/prefix, an MTU, and bring
        it up (devinet_ioctl, dev_set_mtu, dev_change_flags)."""
        ifc = self.ifconfig
        if mtu is not None:
            ifc.set_mtu(self.name, mtu)
        if addr is not None:
            ifc.set_addr(self.name, addr, prefixlen)
        if up:
            ifc.set_up(self.name)

    @property
    def mtu(self) -> int:
        """The device MTU (SIOCGIFMTU)."""
        return self.ifconfig.get_mtu(self.name)

    @property
    def vnet_hdr_sz(self) -> int:
        """Bytes of virtio-net header per frame (0: none)."""
        return self._vnet_sz

    @property
    def closed(self) -> bool:
        """close() was called."""
        return self._closed

    def fileno(self) -> int:
        """The /dev/net/tun file descriptor."""
        if self._closed:
            raise OSError(errno.EBADF, f"tuxnet: TAP {self.name} is closed")
        return self._fd

    # --- receive: the kernel's transmit ---------------------------------------------

    def read_batch(self, max_frames: int = NAPI_POLL_WEIGHT) -> list[Frame]:
        """Read up to ``max_frames`` frames until EAGAIN (tun_do_read, one readv per
        frame); each is (header or None without IFF_VNET_HDR, frame bytes)."""
        if self._closed:
            raise OSError(errno.EBADF, f"tuxnet: TAP {self.name} is closed")
        out: list[Frame] = []
        fd = self._fd
        iov = self._iov
        big = self._big
        vnet = self._vnet_sz
        hbuf = iov[0]
        copybreak = self.rx_copybreak
        readv = os.readv
        st = self.stats
        reads = copies = copy_bytes = nbytes = gso = gso_bytes = 0
        for _ in range(max_frames):
            try:
                n = readv(fd, iov)
            except BlockingIOError:
                st.rx_eagain += 1
                break
            except OSError as exc:
                if out:  # hand over what was read; the error comes back on the next read
                    break
                raise _tun_error(exc, "read from", self.name) from None
            reads += 1
            hdr: VirtioNetHdr | None = None
            if vnet:
                n -= vnet
                if n <= 0:
                    st.rx_errors += 1
                    continue
                if hbuf == _ZERO_HDR:
                    hdr = VNET_HDR_NONE
                else:
                    hdr = tuple.__new__(VirtioNetHdr, _S12.unpack(hbuf))
                    if hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE:
                        gso += 1
                        gso_bytes += n
            if n <= copybreak:
                frame = big[:n]
                copies += 1
                copy_bytes += n
            else:
                frame = big
                del frame[n:]
                big = bytearray(RX_BUF_SIZE)
                iov[-1] = big
            nbytes += n
            out.append((hdr, frame))
        self._big = big
        st.rx_reads += reads
        st.rx_packets += len(out)
        st.rx_bytes += nbytes
        st.rx_copies += copies
        st.rx_copy_bytes += copy_bytes
        st.rx_gso_packets += gso
        st.rx_gso_bytes += gso_bytes
        return out

    # --- transmit: the kernel's receive --------------------------------------------

    def write(self, frame: bytes | bytearray | memoryview,
              hdr: VirtioNetHdr | None = None) -> bool:
        """Hand one frame (Ethernet header first) to the kernel (tun_get_user), the
        header and frame gathered by one writev, without concatenating them. False when
        it was dropped: EAGAIN/ENOBUFS count tx_dropped; a frame or header the kernel
        refuses (EINVAL: tun_get_user drops it with DEV_HDR) or a write while the
        kernel's side is down (EIO) counts tx_errors."""
        return self._send((frame,), len(frame), hdr)

    def xmit_skb(self, skb: SkBuff) -> bool:
        """ndo_start_xmit of the TAP: the header from virtio_net_hdr_from_skb, then the
        linear part and every frag gathered by one writev (no linearizing copy). A GSO
        or CHECKSUM_PARTIAL skb on a TAP without the header, or a GSO type virtio cannot
        carry, is dropped and counted in tx_errors (the core must segment / checksum
        first: without IFF_VNET_HDR the device has no NETIF_F_HW_CSUM nor TSO)."""
        hdr: VirtioNetHdr | None = None
        if self._vnet_sz:
            if not skb.gso_size and skb.ip_summed != CHECKSUM_PARTIAL:
                hdr = VNET_HDR_NONE  # what virtio_net_hdr_from_skb gives: no GSO, no csum
            else:
                try:
                    hdr = virtio_net_hdr_from_skb(skb)
                except VirtioNetHdrError:
                    self.stats.tx_errors += 1
                    return False
        elif skb.gso_size or skb.ip_summed == CHECKSUM_PARTIAL:
            self.stats.tx_errors += 1
            return False
        if not skb.data_len:
            return self._send((skb._hmv[skb.data_off:skb.tail],), skb.len, hdr)  # skb.data
        parts = [skb.data]
        parts.extend(f.view() for f in skb.frags)
        return self._send(parts, skb.len, hdr)

    def _send(self, parts: Sequence[bytes | bytearray | memoryview], nbytes: int,
              hdr: VirtioNetHdr | None) -> bool:
        """One writev of [virtio_net_hdr,] parts; the counters of write()."""
        if self._closed:
            raise OSError(errno.EBADF, f"tuxnet: TAP {self.name} is closed")
        st = self.stats
        st.tx_writes += 1
        try:
            if self._vnet_sz:
                if hdr is None or hdr is VNET_HDR_NONE:
                    os.writev(self._fd, (_ZERO_HDR, *parts))
                else:
                    os.writev(self._fd, (_S12.pack(*hdr), *parts))
            elif hdr is not None and hdr != VNET_HDR_NONE:
                raise ValueError(f"tuxnet: TAP {self.name} has no virtio-net header")
            else:
                os.writev(self._fd, parts)
        except BlockingIOError:
            st.tx_dropped += 1
            return False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                st.tx_dropped += 1
                return False
            if exc.errno in (errno.EINVAL, errno.EFAULT, errno.EMSGSIZE, errno.EIO):
                st.tx_errors += 1
                return False
            raise _tun_error(exc, "write to", self.name) from None
        st.tx_packets += 1
        st.tx_bytes += nbytes
        if hdr is not None and hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE:
            st.tx_gso_packets += 1
            st.tx_gso_bytes += nbytes
        return True

    def write_batch(self, frames: Iterable[Frame]) -> int:
        """write() each (header, frame); returns how many the kernel took."""
        sent = 0
        write = self.write
        for hdr, frame in frames:
            if write(frame, hdr):
                sent += 1
        return sent

    # --- event loop ------------------------------------------------------------------

    def attach(self, loop: ReaderLoop, on_frames: Callable[[list[Frame]], object],
               budget: int = NAPI_POLL_WEIGHT) -> None:
        """Watch the fd on ``loop``: when readable, read up to ``budget`` frames and
        pass the batch to ``on_frames`` (a NAPI poll of weight ``budget``; the loop's
        level-triggered readiness polls again while frames remain)."""
        if self._closed:
            raise OSError(errno.EBADF, f"tuxnet: TAP {self.name} is closed")
        self.detach()
        self._loop = loop
        self._on_frames = on_frames
        self.budget = budget
        loop.add_reader(self._fd, self._poll)

    def _poll(self) -> None:
        frames = self.read_batch(self.budget)
        cb = self._on_frames
        if frames and cb is not None:
            cb(frames)

    def detach(self) -> None:
        """Stop watching the fd."""
        loop = self._loop
        if loop is not None:
            self._loop = None
            self._on_frames = None
            loop.remove_reader(self._fd)

    # --- teardown ------------------------------------------------------------------

    def close(self) -> None:
        """Detach, close the fd (the kernel unregisters the non-persistent TAP) and the
        control socket. Idempotent."""
        if self._closed:
            return
        try:
            self.detach()
        finally:
            self._closed = True
            try:
                os.close(self._fd)
            finally:
                self.ifconfig.close()

    def __enter__(self) -> TapDevice:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (f"<TapDevice {self.name} ifindex={self.ifindex} vnet_hdr={self._vnet_sz}"
                f" offload={self.offload:#x}{state}>")


def _ioctl(fd: int, req: int, arg: bytes, what: str, name: str) -> bytes:
    """ioctl(2) with an in/out buffer, errors named."""
    try:
        return fcntl.ioctl(fd, req, arg)
    except OSError as exc:
        raise _tun_error(exc, what, name) from None


def _set_offload(fd: int, name: str, offload: bool | int) -> int:
    """TUNSETOFFLOAD (tun.c set_offload): the widest set the kernel accepts; returns it."""
    if offload is True:
        base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN
        want = [base | TUN_F_USO4 | TUN_F_USO6, base, TUN_F_CSUM]
    else:
        want = [int(offload)]  # False is 0: no offload, the kernel checksums everything
    last: OSError | None = None
    for flags in want:
        try:
            fcntl.ioctl(fd, TUNSETOFFLOAD, flags)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise _tun_error(exc, "TUNSETOFFLOAD", name) from None
            last = exc
            continue
        return flags
    assert last is not None
    raise _tun_error(last, "TUNSETOFFLOAD", name)

