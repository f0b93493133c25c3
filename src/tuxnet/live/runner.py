"""Run one tuxnet host in real time on a TAP device, talking to the real kernel.

:class:`LiveStack` builds the host on a :class:`~tuxnet.loop.real.RealLoop` (one CPU,
no cost charging), creates the TAP in the current network namespace, registers and
opens tuxnet's device on it (``lo`` too), wires IPv4 (inet_init), adds the address with
``ip addr`` semantics and the routes with ``ip route``'s, starts the services, then
serves until SIGINT/SIGTERM/SIGHUP or the duration ends. Signals reach the loop
through ``signal.set_wakeup_fd``: the handler stops the loop, and the wakeup pipe makes
a blocked ``select`` return at once. :meth:`LiveStack.close` undoes everything in
reverse order (services, device, TAP: the kernel removes a non-persistent TAP with its
fd, and the kernel-side address with it), also after an error or a signal during setup.

This module is the live edge: it may read the clock, handle signals and own fds; the
stack it drives does none of that.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.core.dev import dev_get_stats
from tuxnet.core.netcore import get_core, unregister_netdevice
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.tap import NAPI_POLL_WEIGHT, TUN_PATH, TapDevice
from tuxnet.drivers.tapdev import TapNetDevice, tapdev_init
from tuxnet.host import Host
from tuxnet.live.http_fetch import FetchError, HttpFetch
from tuxnet.live.services import Service, ServiceContext, ServiceError, start_service
from tuxnet.loop.real import RealLoop
from tuxnet.mib import NSTAT_USELESS
from tuxnet.tools.ip_cmd import run as ip_run

if TYPE_CHECKING:
    from tuxnet.drivers.loopback import LoopbackDevice

__all__ = ["LiveConfig", "LiveError", "LiveStack", "format_report", "run_live"]

PROG = "tuxnet live"
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# the groups of /proc/net/snmp the report shows (nstat names start with them)
_SNMP_GROUPS = ("Ip", "IpExt", "Icmp", "IcmpMsg", "Tcp", "TcpExt", "Udp")


class LiveError(Exception):
    """A failure to report in one line, without a traceback."""


@dataclass
class LiveConfig:
    """What ``tuxnet live`` was asked to do."""

    tap: str
    addr: str  # A/LEN, tuxnet's address
    peer_addr: str | None = None  # B/LEN for the kernel's side of the TAP
    routes: list[tuple[str, str]] = field(default_factory=list)  # (PREFIX, GW)
    serve: list[str] = field(default_factory=list)
    mtu: int | None = None
    duration: float | None = None
    mac: bytes | None = None
    offload: bool = True
    fetch: str | None = None  # an http:// URL to GET once started
    output: str = "-"  # where the fetched body goes ("-": stdout)
    fetch_timeout: float = 30.0  # seconds without progress before the fetch fails
    busy_poll: bool = False  # spin on the TAP instead of sleeping (threaded NAPI busy poll)


def split_prefix(text: str, what: str) -> tuple[str, int]:
    """``A.B.C.D/LEN`` -> (address, prefix length), checked."""
    addr, slash, plen = text.partition("/")
    parts = addr.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise LiveError(f"{what}: {text!r} is not an IPv4 address/prefix (A.B.C.D/LEN)")
    if not slash or not plen.isdigit() or not 0 <= int(plen) <= 32:
        raise LiveError(f"{what}: {text!r} needs a prefix length 0..32 (A.B.C.D/LEN)")
    return addr, int(plen)


def _tap_error(exc: OSError, name: str) -> LiveError:
    """The TAP could not be made: one clear line."""
    code = exc.errno or errno.EIO
    if code in (errno.EPERM, errno.EACCES):
        return LiveError(f"cannot open {TUN_PATH}: {os.strerror(code)} (run as root)")
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return LiveError(f"cannot create TAP {name}: {text.removeprefix('tuxnet: ')}")


class LiveStack:
    """One live host (see the module doc). ``start()``, ``run()``, ``report()``,
    ``close()``; ``close()`` is safe after a partial ``start()``."""

    def __init__(self, cfg: LiveConfig, *, warn: Callable[[str], object] | None = None
                 ) -> None:
        self.cfg = cfg
        self.addr, self.prefixlen = split_prefix(cfg.addr, "--addr")
        self.peer = split_prefix(cfg.peer_addr, "--peer-addr") if cfg.peer_addr else None
        self.loop = RealLoop()
        self.loop.busy_poll = cfg.busy_poll
        self.host = Host(self.loop, "tuxnet", ncpus=1,
                         seed=int.from_bytes(os.urandom(4), "little"))
        self.tap: TapDevice | None = None
        self.dev: TapNetDevice | None = None
        self.lo: LoopbackDevice | None = None
        self.services: list[Service] = []
        self.fetch: HttpFetch | None = None
        self.stop_reason = ""
        self.started_ns = 0
        self.stopped_ns = 0
        self._warn = warn or (lambda msg: print(f"{PROG}: {msg}", file=sys.stderr))
        self._wakeup_r = self._wakeup_w = -1
        self._old_wakeup = -1
        self._old_handlers: dict[int, Any] = {}
        self._closed = False

    # -- signals --------------------------------------------------------------------
    def install_signals(self) -> None:
        """SIGINT/SIGTERM/SIGHUP stop the loop; a wakeup pipe interrupts select."""
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wakeup_r, self._wakeup_w = r, w
        self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in _SIGNALS:
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        self.loop.add_reader(r, self._drain_wakeup)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop_reason:
            self.stop_reason = signal.Signals(signum).name
        self.loop.stop()

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self._wakeup_r, 512):
                pass
        except BlockingIOError:
            pass
        if self.stop_reason:
            self.loop.stop()

    def restore_signals(self) -> None:
        """Give the signals back to whoever had them."""
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()
        if self._wakeup_r >= 0:
            signal.set_wakeup_fd(self._old_wakeup)
            self.loop.remove_reader(self._wakeup_r)
            os.close(self._wakeup_r)
            os.close(self._wakeup_w)
            self._wakeup_r = self._wakeup_w = -1

    # -- setup ----------------------------------------------------------------------
    def _ip(self, *argv: str) -> str:
        """Run an ``ip`` command on the host; LiveError with its message on failure."""
        out = io.StringIO()
        rc = ip_run(self.host, list(argv), out)
        if rc:
            msg = out.getvalue().strip().replace("\n", "; ")
            raise LiveError(f"ip {' '.join(argv)}: {msg or f'exit status {rc}'}")
        return out.getvalue()

    def start(self) -> None:
        """Build the host and its device; raise LiveError on failure (call close())."""
        from tuxnet.ipv4.devinet import NETDEV_UP, inet_netdev_event
        from tuxnet.ipv4.inet import inet_init

        cfg = self.cfg
        host = self.host
        core = get_core(host)
        # one real CPU: a NAPI poll takes its whole weight in one go (no preemption
        # points to model between packets; see NetCore.chunk_packets)
        core.chunk_packets = NAPI_POLL_WEIGHT
        self.lo = loopback_init(host)
        try:
            self.tap = TapDevice.create(cfg.tap, offload=cfg.offload, mtu=cfg.mtu)
        except OSError as exc:
            raise _tap_error(exc, cfg.tap) from None
        tap = self.tap
        try:
            if self.peer is not None:
                tap.configure(self.peer[0], self.peer[1], up=True)
        except OSError as exc:
            raise LiveError(f"kernel side of {tap.name}: "
                            f"{str(exc).removeprefix('tuxnet: ')}") from None
        self.dev = dev = tapdev_init(host, tap, mac=cfg.mac, mtu=cfg.mtu)
        dev.on_fatal = self._device_failed
        inet_init(host)
        inet_netdev_event(host, self.lo, NETDEV_UP)
        inet_netdev_event(host, dev, NETDEV_UP)
        self._ip("addr", "add", f"{self.addr}/{self.prefixlen}", "dev", dev.name)
        for prefix, gw in cfg.routes:
            self._ip("route", "add", prefix, "via", gw)
        ctx = ServiceContext(host, self.loop, warn=self._warn)
        for spec in cfg.serve:
            try:
                self.services.append(start_service(ctx, spec))
            except ServiceError as exc:
                raise LiveError(f"--serve {spec}: {exc}") from None
        if cfg.fetch is not None:
            try:
                self.fetch = HttpFetch(host, self.loop, cfg.fetch, cfg.output,
                                       timeout=cfg.fetch_timeout, done=self._fetch_done)
            except FetchError as exc:
                raise LiveError(f"--fetch: {exc}") from None

    def _fetch_done(self, ok: bool) -> None:
        if not self.stop_reason:
            self.stop_reason = "fetched" if ok else "fetch failed"
        self.loop.stop()

    def _device_failed(self, exc: OSError) -> None:
        if not self.stop_reason:
            self.stop_reason = "error"
        self.loop.stop()

    def ready_line(self) -> str:
        """The line printed once the device answers."""
        assert self.dev is not None and self.tap is not None
        mac = ":".join(f"{b:02x}" for b in self.dev.dev_addr)
        extra = f", serving {' '.join(s.name for s in self.services)}" if self.services else ""
        if self.cfg.busy_poll:
            extra += ", busy polling"
        return (f"{PROG}: tap {self.tap.name} up, {self.addr}/{self.prefixlen} "
                f"(lladdr {mac}, mtu {self.dev.mtu}{extra})")

    # -- running --------------------------------------------------------------------
    def run(self) -> None:
        """Serve until a signal, the duration, or a device failure."""
        loop = self.loop
        self.started_ns = loop.now_ns()
        cfg = self.cfg
        until = None if cfg.duration is None else self.started_ns + int(cfg.duration * 1e9)
        try:
            while not self.stop_reason:
                loop.run(until_ns=until)
                if until is not None and loop.now_ns() >= until and not self.stop_reason:
                    self.stop_reason = "duration"
        finally:
            self.stopped_ns = loop.now_ns()
        dev = self.dev
        if dev is not None and dev.fatal is not None:
            raise LiveError(f"{dev.name}: {str(dev.fatal).removeprefix('tuxnet: ')}")

    # -- report ---------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Everything the exit report shows, as plain data."""
        host = self.host
        dev = self.dev
        tap = self.tap
        out: dict[str, Any] = {
            "tap": tap.name if tap is not None else self.cfg.tap,
            "addr": f"{self.addr}/{self.prefixlen}",
            "stop": self.stop_reason,
            "duration_s": round(max(0, self.stopped_ns - self.started_ns) / 1e9, 3),
        }
        if dev is not None:
            out["interface"] = {
                "name": dev.name,
                "lladdr": ":".join(f"{b:02x}" for b in dev.dev_addr),
                "mtu": dev.mtu,
                "stats64": dev_get_stats(dev).as_dict(),
                "ethtool": dict(dev.get_ethtool_stats()),
            }
        if tap is not None:
            out["kernel_side"] = {"name": tap.name,
                                  "lladdr": ":".join(f"{b:02x}" for b in tap.hwaddr)}
        counters = host.mib.counters()
        out["snmp"] = {k: v for k, v in counters.items()
                       if k.startswith(_SNMP_GROUPS) and not k.startswith("UdpLite")
                       and k not in NSTAT_USELESS}
        out["drops"] = {r.name: n for r, n in host.drop_counts.most_common()}
        out["drop_locations"] = {f"{r.name}@{loc}": n
                                 for (r, loc), n in host.drop_locations.most_common()}
        out["softnet"] = get_core(host).softnet_totals()
        try:
            out["neigh"] = json.loads(self._ip("-j", "neigh", "show") or "[]")
        except (LiveError, ValueError):
            out["neigh"] = []
        out["services"] = {s.name: s.counters() for s in self.services}
        if self.fetch is not None:
            out["fetch"] = {"url": self.fetch.url, "error": self.fetch.error,
                            **self.fetch.counters()}
        return out

    # -- teardown -------------------------------------------------------------------
    def close(self) -> None:
        """Stop services, unregister the device, remove the TAP, restore signals.
        Idempotent; every step runs even if an earlier one failed."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        if self.fetch is not None:
            try:
                self.fetch.close()
            except OSError as exc:
                errors.append(exc)
        for svc in reversed(self.services):
            try:
                svc.close()
            except Exception as exc:  # keep tearing down
                errors.append(exc)
        dev = self.dev
        if dev is not None:
            try:
                unregister_netdevice(self.host, dev)
            except Exception as exc:
                errors.append(exc)
        if self.tap is not None:
            try:
                self.tap.close()
            except OSError as exc:
                errors.append(exc)
        try:
            self.restore_signals()
        finally:
            self.loop.close()
        if errors:
            self._warn(f"while cleaning up: {errors[0]}")


# --------------------------------------------------------------------------- report text

def _stats_block(stats: dict[str, int]) -> list[str]:
    """``ip -s link``'s RX/TX lines."""
    rows = [("RX:", ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_missed_errors",
                     "multicast")),
            ("TX:", ("tx_bytes", "tx_packets", "tx_errors", "tx_dropped",
                     "tx_carrier_errors", "collisions"))]
    out = []
    for label, keys in rows:
        head = ["bytes", "packets", "errors", "dropped",
                "missed" if label == "RX:" else "carrier",
                "mcast" if label == "RX:" else "collsns"]
        out.append(f"    {label:<4}" + "".join(f"{h:>12}" for h in head))
        out.append("    " + " " * 4 + "".join(f"{stats.get(k, 0):>12}" for k in keys))
    return out


def format_report(rep: dict[str, Any]) -> str:
    """The exit report as text."""
    lines = [f"{PROG}: stopped ({rep['stop'] or 'exit'}) after {rep['duration_s']:.3f} s"]
    itf = rep.get("interface")
    if itf is not None:
        lines.append(f"{itf['name']}: lladdr {itf['lladdr']} mtu {itf['mtu']} "
                     f"{rep['addr']}")
        lines.extend(_stats_block(itf["stats64"]))
        tap = " ".join(f"{k.removeprefix('tap_')} {v}" for k, v in itf["ethtool"].items()
                       if k.startswith("tap_") and v)
        lines.append(f"    tap: {tap or '-'}")
    ks = rep.get("kernel_side")
    if ks is not None:
        lines.append(f"kernel side: {ks['name']} lladdr {ks['lladdr']}")
    groups: dict[str, list[str]] = {}
    for name, value in rep["snmp"].items():
        if not value:
            continue
        group = next(g for g in ("IcmpMsg", "Icmp", "IpExt", "Ip", "TcpExt", "Tcp", "Udp")
                     if name.startswith(g))
        groups.setdefault(group, []).append(f"{name[len(group):]} {value}")
    for group in _SNMP_GROUPS:
        if group in groups:
            lines.append(f"{group}: " + " ".join(groups[group]))
    drops = rep["drops"]
    lines.append("drops: " + (", ".join(f"{n} {r}" for r, n in drops.items()) or "none"))
    for where, n in rep["drop_locations"].items():
        reason, _, loc = where.partition("@")
        lines.append(f"    {n} drops at {loc} [{reason}]")
    lines.append("neighbours:")
    for e in rep["neigh"]:
        state = ",".join(e.get("state", [])) if isinstance(e.get("state"), list) else ""
        lines.append(f"    {e.get('dst')} dev {e.get('dev')} lladdr "
                     f"{e.get('lladdr', '-')} {state}".rstrip())
    for name, c in rep["services"].items():
        lines.append(f"service {name}: " + " ".join(f"{k} {v}" for k, v in c.items()))
    return "\n".join(lines) + "\n"


def run_live(cfg: LiveConfig, *, as_json: bool = False, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """Run ``tuxnet live``: 0 after a clean stop, 1 on an error (one line on stderr)."""
    if out is None:  # the fetched body may own stdout: the report goes to stderr then
        out = sys.stderr if cfg.fetch is not None and cfg.output == "-" else sys.stdout
    err = err if err is not None else sys.stderr

    def warn(msg: str) -> None:
        print(f"{PROG}: {msg}", file=err, flush=True)

    try:
        stack = LiveStack(cfg, warn=warn)
    except LiveError as exc:
        warn(str(exc))
        return 1
    rc = 0
    report: dict[str, Any] | None = None
    ran = False  # the report is printed only after the ready line was
    try:
        stack.install_signals()
        stack.start()
        if not stack.stop_reason:
            print(stack.ready_line(), file=err if as_json else out, flush=True)
            ran = True
            stack.run()
        fetch = stack.fetch
        if fetch is not None:
            if fetch.error:
                raise LiveError(f"fetch {fetch.url}: {fetch.error}")
            if fetch.finished:
                warn(fetch.summary())
            else:
                raise LiveError(f"fetch {fetch.url}: interrupted ({stack.stop_reason}) "
                                f"after {fetch.bytes} bytes")
    except LiveError as exc:
        warn(str(exc))
        rc = 1
    except Exception as exc:
        if os.environ.get("TUXNET_DEBUG"):
            raise
        warn(f"internal error: {type(exc).__name__}: {exc} (TUXNET_DEBUG=1 shows where)")
        rc = 1
    finally:
        try:
            report = stack.report() if ran else None
        except Exception as exc:
            warn(f"cannot build the report: {type(exc).__name__}: {exc}")
        stack.close()
    if report is not None:
        if as_json:
            report["removed"] = True
            print(json.dumps(report, indent=2), file=out, flush=True)
        else:
            out.write(format_report(report))
            out.write(f"{PROG}: removed {report['tap']}\n")
            out.flush()
    return rc
