"""The sysctl tree of one host (a network namespace): Linux names, defaults and rules.

``Sysctl`` holds the net.* tree with the values, types and ranges of
:mod:`tuxnet.sysctl_defaults`. Writes go through the same rules as a write to
/proc/sys on Linux: integers parse like the kernel's proc_get_long (base 0: ``0x40`` and
``0100`` are 64), ranges come from each entry's proc handler, and handlers with side
effects are reproduced (``ip_forward`` flips every ``conf.*.forwarding``, a write to
``conf.default.X`` reaches the devices that never set X, ``unres_qlen`` is a view of
``unres_qlen_bytes``, ``rps_sock_flow_entries`` rounds up to a power of two ...).
Errors carry the message procps ``sysctl`` prints, e.g.
``sysctl: setting key "net.ipv4.tcp_sack": Invalid argument``.

Subsystems read with ``get``/``get_int`` and react to changes with ``watch``. Names are
accepted dotted (``net.ipv4.tcp_rmem``) or slashed (``net/ipv4/tcp_rmem``, optionally
under ``/proc/sys/``); a device name containing a dot shows as a slash in dotted form
(``net.ipv4.conf.eth0/100.forwarding``), exactly as procps does.

The host behaves as the box's owner would see init_net for writability (every entry
that is writable in init_net is writable here) while showing a fresh namespace's
values.
"""

from __future__ import annotations

import errno
import fnmatch
import re
from collections.abc import Callable

from tuxnet.sysctl_defaults import (
    CONF,
    CONF_ALL_OVERRIDES,
    CONF_LOOPBACK_OVERRIDES,
    DEFAULT_QDISC_CHOICES,
    GLOBAL,
    INT_MAX,
    INT_MIN,
    NEIGH,
    NEIGH_DEFAULT_ONLY,
    NF_LOGGERS,
    UINT_MAX,
    ULONG_MAX,
    Spec,
    SysctlValue,
)

__all__ = ["Spec", "Sysctl", "SysctlError", "SysctlValue", "canonical_name"]

Watcher = Callable[[str, SysctlValue], None]
Validator = Callable[[SysctlValue], SysctlValue]
Provider = Callable[[], SysctlValue]

_KIND_RANGE: dict[str, tuple[int, int]] = {
    "int": (INT_MIN, INT_MAX),
    "intvec": (INT_MIN, INT_MAX),
    "uint": (0, UINT_MAX),
    "u8": (0, 255),
    "ulong": (0, ULONG_MAX),
    "ulongvec": (0, ULONG_MAX),
}
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_OCT = re.compile(r"0[0-7]*")
_DEC = re.compile(r"[1-9][0-9]*")
_WS = re.compile(r"[ \t\n\r\f\v]+")
_IFNAMSIZ = 16  # include/uapi/linux/if.h


class SysctlError(Exception):
    """A rejected sysctl read or write; ``str()`` is the message procps sysctl prints."""

    def __init__(self, message: str, err: int = errno.EINVAL, name: str = "") -> None:
        super().__init__(message)
        self.errno = err
        self.name = name


def _split(name: str) -> list[str]:
    """Path components of a sysctl name, following procps slashdot()."""
    name = name.strip()
    if name.startswith("/proc/sys/"):
        name = name[len("/proc/sys/"):]
    m = re.search(r"[./]", name)
    if m is not None and m.group() == "/":
        return [c for c in name.split("/") if c]
    return [c.replace("/", ".") for c in name.split(".")]


def _dotted(path: tuple[str, ...] | list[str]) -> str:
    return ".".join(c.replace(".", "/") for c in path)


def canonical_name(name: str) -> str:
    """The dotted name sysctl prints for ``name`` (dotted or slashed)."""
    return _dotted(_split(name))


def _enoent(path: list[str] | tuple[str, ...]) -> SysctlError:
    return SysctlError(
        f"sysctl: cannot stat /proc/sys/{'/'.join(path)}: No such file or directory",
        errno.ENOENT, _dotted(path))


def _setting(name: str, err: int) -> SysctlError:
    return SysctlError(f'sysctl: setting key "{name}": {_strerror(err)}', err, name)


def _strerror(err: int) -> str:
    return {errno.EINVAL: "Invalid argument", errno.ENOENT: "No such file or directory",
            errno.EPERM: "Operation not permitted", errno.EBUSY: "Device or resource busy",
            errno.EISDIR: "Is a directory"}.get(err, f"error {err}")


def _parse_long(tok: str) -> int | None:
    """proc_get_long: optional '-', then strtoul base 0 over the whole token."""
    neg = tok.startswith("-")
    body = tok[1:] if neg else tok
    if _HEX.fullmatch(body):
        v = int(body[2:], 16)
    elif _OCT.fullmatch(body):
        v = int(body, 8)
    elif _DEC.fullmatch(body):
        v = int(body)
    else:
        return None
    return -v if neg else v


class _Entry:
    __slots__ = ("dev", "explicit", "group", "leaf", "name", "path", "provider", "spec",
                 "target", "validator", "value", "watchers")

    def __init__(self, path: tuple[str, ...], spec: Spec, value: SysctlValue) -> None:
        self.path = path
        self.name = _dotted(path)
        self.leaf = path[-1]
        self.spec = spec
        self.value = value
        self.explicit = False  # in_dev->cnf.state / neigh_parms->data_state bit
        self.watchers: list[Watcher] = []
        self.provider: Provider | None = None
        self.validator: Validator | None = None
        self.target: _Entry | None = None  # alias: same data as target
        # per-device trees: ("conf" | "neigh", "all" | "default" | device name)
        self.group: str | None = None
        self.dev: str | None = None
        if len(path) == 5 and path[:2] == ("net", "ipv4") and path[2] in ("conf", "neigh"):
            self.group, self.dev = path[2], path[3]


class Sysctl:
    """The net.* sysctl tree of one host."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._sorted: list[_Entry] | None = None
        self._devices: dict[str, bool] = {}
        self._pattern_watchers: list[tuple[str, Watcher]] = []
        for name, spec in GLOBAL.items():
            self._add(tuple(name.split(".")), spec, spec.default)
        self._add_conf("all", CONF_ALL_OVERRIDES)
        self._add_conf("default", {})
        self._add_neigh("default")
        self._link_aliases()

    # -- building the tree ------------------------------------------------------------
    def _add(self, path: tuple[str, ...], spec: Spec, value: SysctlValue) -> _Entry:
        e = _Entry(path, spec, value)
        self._entries[e.name] = e
        self._sorted = None
        return e

    def _link_aliases(self) -> None:
        for e in self._entries.values():
            if e.spec.alias is not None and e.target is None:
                target = e.spec.alias
                if "." not in target:
                    target = _dotted((*e.path[:-1], target))
                e.target = self._entries[target]

    def _add_conf(self, dev: str, overrides: dict[str, int]) -> None:
        dflt = "net.ipv4.conf.default."
        for leaf, spec in CONF.items():
            src = self._entries.get(dflt + leaf)
            value = src.value if src is not None else spec.default
            self._add(("net", "ipv4", "conf", dev, leaf), spec, overrides.get(leaf, value))

    def _add_neigh(self, dev: str) -> None:
        dflt = "net.ipv4.neigh.default."
        for leaf, spec in NEIGH.items():
            src = self._entries.get(dflt + leaf)
            value = src.value if src is not None else spec.default
            self._add(("net", "ipv4", "neigh", dev, leaf), spec, value)
        if dev == "default":
            for leaf, spec in NEIGH_DEFAULT_ONLY.items():
                self._add(("net", "ipv4", "neigh", dev, leaf), spec, spec.default)

    def register(self, name: str, spec: Spec) -> None:
        """Add a sysctl a subsystem owns (register_net_sysctl); the name must be new."""
        path = tuple(_split(name))
        if _dotted(path) in self._entries:
            raise SysctlError(f"sysctl: {_dotted(path)}: already registered", errno.EEXIST)
        self._add(path, spec, spec.default)
        self._link_aliases()

    def register_device(self, name: str, *, loopback: bool = False) -> None:
        """devinet_sysctl_register + neigh_sysctl_register for a new device: conf.DEV
        copies conf.default, neigh.DEV copies neigh.default (loopback: NOXFRM, NOPOLICY)."""
        if (not name or len(name) >= _IFNAMSIZ or name in (".", "..")
                or any(c in name for c in "/: \t\n")):
            raise SysctlError(f'sysctl: invalid device name "{name}"', errno.EINVAL, name)
        if name in self._devices or name in ("all", "default"):
            raise SysctlError(f'sysctl: device "{name}": File exists', errno.EEXIST, name)
        self._devices[name] = loopback
        self._add_conf(name, CONF_LOOPBACK_OVERRIDES if loopback else {})
        self._add_neigh(name)
        self._link_aliases()

    def unregister_device(self, name: str) -> None:
        """Remove conf.DEV and neigh.DEV (devinet_sysctl_unregister)."""
        if name not in self._devices:
            raise SysctlError(f'sysctl: no device "{name}"', errno.ENODEV, name)
        del self._devices[name]
        for key in [k for k, e in self._entries.items() if e.dev == name]:
            del self._entries[key]
        self._sorted = None

    def devices(self) -> list[str]:
        """Device names with per-device trees, in registration order."""
        return list(self._devices)

    # -- lookup ---------------------------------------------------------------------
    def _lookup(self, name: str) -> _Entry:
        e = self._entries.get(name)
        if e is not None:
            return e
        path = _split(name)
        e = self._entries.get(_dotted(path))
        if e is not None:
            return e
        if self._under(tuple(path)):
            raise SysctlError(f'sysctl: reading key "{_dotted(path)}": Is a directory',
                              errno.EISDIR, _dotted(path))
        raise _enoent(path)

    def _under(self, path: tuple[str, ...]) -> list[_Entry]:
        n = len(path)
        return [e for e in self._ordered() if len(e.path) > n and e.path[:n] == path]

    def _ordered(self) -> list[_Entry]:
        if self._sorted is None:
            # proc_sysctl keeps each directory in an rbtree ordered by namecmp (memcmp)
            self._sorted = sorted(self._entries.values(),
                                  key=lambda e: tuple(c.encode() for c in e.path))
        return self._sorted

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._entries or _dotted(_split(name)) in self._entries

    def is_dir(self, name: str) -> bool:
        """True when ``name`` is a directory of the tree (e.g. ``net.ipv4.conf.lo``)."""
        return bool(self._under(tuple(_split(name))))

    def names(self, prefix: str | None = None, *, deprecated: bool = True) -> list[str]:
        """All names in `sysctl -a` order, optionally only those under ``prefix``."""
        entries = self._under(tuple(_split(prefix))) if prefix else self._ordered()
        return [e.name for e in entries if deprecated or not e.spec.deprecated]

    # -- reading --------------------------------------------------------------------
    @staticmethod
    def _read(e: _Entry) -> SysctlValue:
        if e.provider is not None:
            return e.provider()
        t = e.target
        if t is not None:
            tv = t.provider() if t.provider is not None else t.value
            assert isinstance(tv, int)
            return tv // e.spec.factor
        return e.value

    def get(self, name: str) -> SysctlValue:
        """The current value: ``int``, ``str`` or ``tuple[int, ...]`` for vectors."""
        e = self._entries.get(name)
        if e is None:
            e = self._lookup(name)
        if e.provider is None and e.target is None:
            return e.value
        return self._read(e)

    def is_stored(self, name: str) -> bool:
        """True when ``name`` holds its own value (no provider, not an alias): a write is
        the only way it changes, and every write notifies its watchers, so a reader may
        cache it until a watch fires (READ_ONCE of a net->ipv4.sysctl_* field)."""
        e = self._lookup(name)
        return e.provider is None and e.target is None

    def get_int(self, name: str) -> int:
        """The value of an integer sysctl."""
        v = self.get(name)
        if not isinstance(v, int):
            raise TypeError(f"sysctl {canonical_name(name)} is not an integer (value {v!r})")
        return v

    def format_value(self, name: str) -> str:
        """The value as /proc/sys/NAME reads (vectors tab-separated), without newline."""
        return self._fmt(self._read(self._lookup(name)))

    @staticmethod
    def _fmt(v: SysctlValue) -> str:
        if isinstance(v, tuple):
            return "\t".join(str(x) for x in v)
        return str(v)

    def format(self, name: str) -> str:
        """``name = value`` as `sysctl NAME` prints it (every line of a directory)."""
        path = tuple(_split(name))
        if _dotted(path) not in self._entries and self._under(path):
            return "\n".join(f"{e.name} = {self._fmt(self._read(e))}"
                             for e in self._under(path) if not e.spec.deprecated)
        e = self._lookup(name)
        return f"{e.name} = {self._fmt(self._read(e))}"

    def items(self, prefix: str | None = None, *,
              deprecated: bool = False) -> list[tuple[str, SysctlValue]]:
        """(name, value) pairs in `sysctl -a` order."""
        entries = self._under(tuple(_split(prefix))) if prefix else self._ordered()
        return [(e.name, self._read(e)) for e in entries if deprecated or not e.spec.deprecated]

    def format_all(self, *, deprecated: bool = False) -> str:
        """Every entry as `sysctl -a` prints the net.* tree (one ``name = value`` a line)."""
        return "".join(f"{n} = {self._fmt(v)}\n" for n, v in self.items(deprecated=deprecated))

    # -- writing --------------------------------------------------------------------
    def set(self, name: str, value: SysctlValue | list[int]) -> SysctlValue:
        """Write ``value`` (text as written to /proc/sys, or a typed value) and return
        the value now stored. Raises SysctlError with sysctl's message."""
        return self._write(self._lookup(name), value, kernel=False)

    def kernel_set(self, name: str, value: SysctlValue | list[int]) -> SysctlValue:
        """Store a value from inside the stack (read-only entries included); typed and
        range-checked like ``set`` but without user write side effects."""
        return self._write(self._lookup(name), value, kernel=True)

    def _write(self, e: _Entry, value: SysctlValue | list[int], *, kernel: bool) -> SysctlValue:
        spec = e.spec
        if spec.ro and not kernel:
            raise _setting(e.name, errno.EPERM)
        if e.target is not None:
            v = self._coerce(e, value)
            assert isinstance(v, int)
            self._write(e.target, v * spec.factor, kernel=kernel)
            return self._read(e)
        v = self._coerce(e, value)
        if not kernel:
            handler = _HANDLERS.get(e.name)
            if handler is not None:
                v = handler(self, e, v)
        if e.validator is not None:
            try:
                v = e.validator(v)
            except LookupError:
                raise _setting(e.name, errno.ENOENT) from None
            except ValueError:
                raise _setting(e.name, errno.EINVAL) from None
        self._store(e, v)
        if not kernel:
            self._after_write(e)
        return v

    def _coerce(self, e: _Entry, value: SysctlValue | list[int]) -> SysctlValue:
        """Parse and type-check ``value`` for entry ``e`` (proc_do*vec semantics)."""
        spec = e.spec
        kind = spec.kind
        if kind == "str":
            if isinstance(value, (tuple, list)):
                raise _setting(e.name, errno.EINVAL)
            return str(value).strip()
        if isinstance(value, str):
            toks = [t for t in _WS.split(value) if t]
            ints: list[int] = []
            for tok in toks:
                v = _parse_long(tok)
                if v is None:
                    raise _setting(e.name, errno.EINVAL)
                ints.append(v)
        elif isinstance(value, (tuple, list)):
            ints = [int(x) for x in value]
        else:
            ints = [int(value)]
        if not ints:
            raise _setting(e.name, errno.EINVAL)
        lo, hi = _KIND_RANGE[kind]
        if spec.lo is not None:
            lo = max(lo, spec.lo)
        if spec.hi is not None:
            hi = min(hi, spec.hi)
        if any(x < lo or x > hi for x in ints):
            raise _setting(e.name, errno.EINVAL)
        if kind.endswith("vec"):
            cur = self._read(e)
            assert isinstance(cur, tuple)
            # extra values are ignored; missing ones keep their value (__do_proc_dointvec)
            return tuple(ints[: len(cur)]) + cur[len(ints):]
        if len(ints) != 1:
            raise _setting(e.name, errno.EINVAL)
        return ints[0]

    def _store(self, e: _Entry, v: SysctlValue) -> None:
        old = e.value
        e.value = v
        if old != v:
            self._notify(e)

    def _notify(self, e: _Entry) -> None:
        v = self._read(e)
        for cb in list(e.watchers):
            cb(e.name, v)
        for pattern, cb in list(self._pattern_watchers):
            if fnmatch.fnmatchcase(e.name, pattern):
                cb(e.name, v)

    def _after_write(self, e: _Entry) -> None:
        if e.group == "conf":
            if e.leaf == "forwarding":
                if e.dev == "all":
                    self._inet_forward_change(e)
            elif e.dev == "default":
                self._copy_dflt(e)
            elif e.dev != "all":
                e.explicit = True
        elif e.group == "neigh":
            if e.dev == "default":
                self._copy_dflt(e)
            else:
                e.explicit = True

    def _copy_dflt(self, dflt: _Entry) -> None:
        """devinet_copy_dflt_conf / neigh_copy_dflt_parms: reach devices that never
        set this entry themselves."""
        for dev in self._devices:
            # table-wide knobs (neigh.default.gc_*) have no per-device copy
            d = self._entries.get(f"net.ipv4.{dflt.group}.{dev.replace('.', '/')}.{dflt.leaf}")
            if d is not None and not d.explicit:
                self._store(d, dflt.value)

    def _inet_forward_change(self, all_fwd: _Entry) -> None:
        """inet_forward_change: conf/all/forwarding drives default and every device,
        and turns conf/all/accept_redirects to its opposite."""
        on = all_fwd.value
        self._store(self._entries["net.ipv4.conf.all.accept_redirects"], int(not on))
        self._store(self._entries["net.ipv4.conf.default.forwarding"], on)
        for dev in self._devices:
            d = self._entries[f"net.ipv4.conf.{dev.replace('.', '/')}.forwarding"]
            d.explicit = True  # IN_DEV_CONF_SET
            self._store(d, on)

    # -- hooks for subsystems ------------------------------------------------------
    def watch(self, name: str, callback: Watcher) -> Callable[[], None]:
        """Call ``callback(name, value)`` after the value of ``name`` changes (also for
        changes a handler propagates). ``name`` may be a glob (``net.ipv4.conf.*.rp_filter``);
        an alias watches its target. Returns a function that removes the watch."""
        if any(c in name for c in "*?["):
            item = (canonical_name(name), callback)
            self._pattern_watchers.append(item)

            def unwatch_pattern() -> None:
                if item in self._pattern_watchers:
                    self._pattern_watchers.remove(item)
            return unwatch_pattern
        e = self._lookup(name)
        if e.target is not None:
            e = e.target
        e.watchers.append(callback)
        target = e

        def unwatch() -> None:
            if callback in target.watchers:
                target.watchers.remove(callback)
        return unwatch

    def set_validator(self, name: str, validator: Validator | None) -> None:
        """Extra check run on user writes: return the value to store, raise ValueError
        (EINVAL) or LookupError (ENOENT) to reject."""
        self._lookup(name).validator = validator

    def set_provider(self, name: str, provider: Provider | None) -> None:
        """Make ``name`` read a live value (e.g. nf_conntrack_count from the table)."""
        self._lookup(name).provider = provider

    def in_dev_conf(self, dev: str, key: str) -> int:
        """The effective value of conf.DEV.key, combining conf.all as the kernel's
        IN_DEV_* macros do (include/linux/inetdevice.h: ORCONF / ANDCONF / MAXCONF)."""
        d = self.get_int(f"net.ipv4.conf.{dev.replace('.', '/')}.{key}")
        a = self.get_int(f"net.ipv4.conf.all.{key}")
        rule = _IN_DEV_RULE.get(key, "dev")
        if rule == "or":
            return int(bool(a or d))
        if rule == "and":
            return int(bool(a and d))
        if rule == "max":
            return max(a, d)
        if rule == "allfirst":
            return a or d
        if rule == "rx_redirects":  # IN_DEV_RX_REDIRECTS
            if self.get_int(f"net.ipv4.conf.{dev.replace('.', '/')}.forwarding"):
                return int(bool(a and d))
            return int(bool(a or d))
        return d


# How conf.all combines with conf.DEV (include/linux/inetdevice.h IN_DEV_* macros).
_IN_DEV_RULE: dict[str, str] = {
    "accept_local": "or", "accept_redirects": "rx_redirects", "accept_source_route": "and",
    "arp_accept": "max", "arp_announce": "max", "arp_evict_nocarrier": "and",
    "arp_filter": "or", "arp_ignore": "max", "arp_notify": "max", "bc_forwarding": "and",
    "bootp_relay": "and", "drop_gratuitous_arp": "or", "drop_unicast_in_l2_multicast": "or",
    "force_igmp_version": "allfirst", "ignore_routes_with_linkdown": "or",
    "log_martians": "or", "mc_forwarding": "and", "promote_secondaries": "or",
    "proxy_arp": "or", "proxy_arp_pvlan": "or", "route_localnet": "or", "rp_filter": "max",
    "secure_redirects": "or", "send_redirects": "or", "shared_media": "or",
    "src_valid_mark": "or",
}


# -- handlers with the checks and side effects of the kernel's proc handlers ---------------
Handler = Callable[[Sysctl, _Entry, SysctlValue], SysctlValue]


def _available_cc(s: Sysctl) -> list[str]:
    v = s.get("net.ipv4.tcp_available_congestion_control")
    return str(v).split()


def _h_congestion_control(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """tcp_set_default_congestion_control: unknown -> ENOENT; the default becomes allowed."""
    avail = _available_cc(s)
    if v not in avail:
        raise _setting(e.name, errno.ENOENT)
    allowed = s._entries["net.ipv4.tcp_allowed_congestion_control"]
    names = set(str(allowed.value).split()) | {str(v)}
    s._store(allowed, " ".join(n for n in avail if n in names))
    return v


def _h_allowed_cc(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """tcp_set_allowed_congestion_control: every name must exist (ENOENT)."""
    avail = _available_cc(s)
    names = str(v).split()
    if any(n not in avail for n in names):
        raise _setting(e.name, errno.ENOENT)
    return " ".join(n for n in avail if n in names)


def _h_local_port_range(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """ipv4_local_port_range: low <= high and low >= ip_unprivileged_port_start."""
    assert isinstance(v, tuple)
    if v[1] < v[0] or v[0] < s.get_int("net.ipv4.ip_unprivileged_port_start"):
        raise _setting(e.name, errno.EINVAL)
    return v


def _h_unprivileged_port_start(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """ipv4_privileged_ports: must not exceed the low end of ip_local_port_range."""
    rng = s.get("net.ipv4.ip_local_port_range")
    assert isinstance(rng, tuple) and isinstance(v, int)
    if rng[0] < v:
        raise _setting(e.name, errno.EINVAL)
    return v


def _h_ping_group_range(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """ipv4_ping_group_range: an inverted range disables ping sockets (1 0)."""
    assert isinstance(v, tuple)
    return (1, 0) if v[1] < v[0] else v


def _h_reserved_ports(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """proc_do_large_bitmap: a list of ports and ranges, printed back compressed."""
    ports: set[int] = set()
    for part in str(v).replace(" ", "").split(","):
        if not part:
            continue
        a, sep, b = part.partition("-")
        lo, hi = _parse_long(a), _parse_long(b) if sep else _parse_long(a)
        if lo is None or hi is None or not 0 <= lo <= hi <= 65535:
            raise _setting(e.name, errno.EINVAL)
        ports.update(range(lo, hi + 1))
    out: list[str] = []
    for p in sorted(ports):
        if out and p - 1 in ports:
            out[-1] = out[-1].split("-")[0] + f"-{p}"
        else:
            out.append(str(p))
    return ",".join(out)


def _h_fastopen_key(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """proc_tcp_fastopen_key: one or two keys of four 32-bit hex words."""
    keys = str(v).split(",")
    out = []
    for key in keys:
        words = key.split("-")
        if len(keys) > 2 or len(words) != 4 or not all(
                re.fullmatch(r"[0-9a-fA-F]{1,8}", w) for w in words):
            raise _setting(e.name, errno.EINVAL)
        out.append("-".join(f"{int(w, 16):08x}" for w in words))
    return ",".join(out)


def _h_rps_sock_flow_entries(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """rps_sock_flow_sysctl: rounded up to a power of two, at most 1 << 29."""
    assert isinstance(v, int)
    size = v & 0xFFFFFFFF
    if size > 1 << 29:
        raise _setting(e.name, errno.EINVAL)
    return 1 << (size - 1).bit_length() if size else 0


def _h_flow_limit_table_len(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """flow_limit_table_len_sysctl: must be a power of two."""
    assert isinstance(v, int)
    if v <= 0 or v & (v - 1):
        raise _setting(e.name, errno.EINVAL)
    return v


def _h_default_qdisc(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """set_default_qdisc: an unknown qdisc is ENOENT."""
    if v not in DEFAULT_QDISC_CHOICES:
        raise _setting(e.name, errno.ENOENT)
    return v


def _h_cpumask(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """A cpumask in hex (bitmap_parse), printed without leading zeros."""
    text = str(v).replace(",", "")
    if not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise _setting(e.name, errno.EINVAL)
    return f"{int(text, 16):x}"


def _h_nf_log(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
    """nf_log_proc_dostring: NONE or the logger registered for that family."""
    if v != "NONE" and v != NF_LOGGERS.get(int(e.leaf)):
        raise _setting(e.name, errno.ENOENT)
    return v


def _between(low: str | None, high: str | None) -> Handler:
    def check(s: Sysctl, e: _Entry, v: SysctlValue) -> SysctlValue:
        assert isinstance(v, int)
        if (low is not None and v < s.get_int(low)) or (high is not None and v > s.get_int(high)):
            raise _setting(e.name, errno.EINVAL)
        return v
    check.__doc__ = "extra1/extra2 point at the paired threshold (inet_frags_init_net)."
    return check


_HANDLERS: dict[str, Handler] = {
    "net.ipv4.tcp_congestion_control": _h_congestion_control,
    "net.ipv4.tcp_allowed_congestion_control": _h_allowed_cc,
    "net.ipv4.ip_local_port_range": _h_local_port_range,
    "net.ipv4.ip_unprivileged_port_start": _h_unprivileged_port_start,
    "net.ipv4.ping_group_range": _h_ping_group_range,
    "net.ipv4.ip_local_reserved_ports": _h_reserved_ports,
    "net.ipv4.tcp_fastopen_key": _h_fastopen_key,
    "net.core.rps_sock_flow_entries": _h_rps_sock_flow_entries,
    "net.core.flow_limit_table_len": _h_flow_limit_table_len,
    "net.core.default_qdisc": _h_default_qdisc,
    "net.core.rps_default_mask": _h_cpumask,
    "net.core.flow_limit_cpu_bitmap": _h_cpumask,
    "net.ipv4.ipfrag_high_thresh": _between("net.ipv4.ipfrag_low_thresh", None),
    "net.ipv4.ipfrag_low_thresh": _between(None, "net.ipv4.ipfrag_high_thresh"),
    "net.netfilter.nf_conntrack_frag6_high_thresh":
        _between("net.netfilter.nf_conntrack_frag6_low_thresh", None),
    "net.netfilter.nf_conntrack_frag6_low_thresh":
        _between(None, "net.netfilter.nf_conntrack_frag6_high_thresh"),
}
for _pf in range(11):
    _HANDLERS[f"net.netfilter.nf_log.{_pf}"] = _h_nf_log
