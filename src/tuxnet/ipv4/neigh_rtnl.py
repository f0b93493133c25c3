"""rtnetlink for neighbours: RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH and dumps
(net/core/neighbour.c neigh_add, neigh_delete, neigh_get, neigh_fill_info,
pneigh_fill_info, neigh_dump_info). What ``ip neigh`` talks to.

Errors raise :class:`~tuxnet.ipv4.neigh_defs.NeighError` with the errno and, where the
kernel sets one, the extack message.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from tuxnet.ipv4.neigh_defs import (
    NEIGH_UPDATE_F_ADMIN,
    NEIGH_UPDATE_F_EXT_LEARNED,
    NEIGH_UPDATE_F_ISROUTER,
    NEIGH_UPDATE_F_OVERRIDE,
    NEIGH_UPDATE_F_OVERRIDE_ISROUTER,
    NEIGH_UPDATE_F_USE,
    NTF_EXT_LEARNED,
    NTF_PROXY,
    NTF_ROUTER,
    NTF_USE,
    NUD_FAILED,
    NUD_NONE,
    NUD_PERMANENT,
    NUD_VALID,
    USER_HZ_NS,
    NeighError,
    NetDev,
    PneighEntry,
)
from tuxnet.ipv4.neighbour import Neighbour, NeighTable

__all__ = ["NeighInfo", "neigh_add", "neigh_delete", "neigh_dump", "neigh_fill_info",
           "neigh_get", "pneigh_fill_info"]


@dataclass(frozen=True, slots=True)
class NeighInfo:
    """One RTM_NEWNEIGH as neigh_fill_info/pneigh_fill_info build it; the cache times
    are clock_t (USER_HZ ticks) as in struct nda_cacheinfo; ``probes`` is NDA_PROBES
    (None for proxy entries, which carry neither it nor NDA_CACHEINFO)."""

    dst: int
    ifindex: int
    dev: str
    state: int
    flags: int
    lladdr: bytes | None
    probes: int | None
    used: int
    confirmed: int
    updated: int
    refcnt: int
    protocol: int


def neigh_add(tbl: NeighTable, dst: int, dev: NetDev | None, *, lladdr: bytes | None = None,
              state: int = NUD_PERMANENT, create: bool = True, excl: bool = False,
              replace: bool = False, ndm_flags: int = 0, protocol: int = 0) -> None:
    """neigh_add (RTM_NEWNEIGH): ``ip neigh add`` is create+excl, ``change`` replace,
    ``replace`` create+replace."""
    flags = NEIGH_UPDATE_F_ADMIN | NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_OVERRIDE_ISROUTER
    if dev is not None and lladdr is not None and len(lladdr) < len(dev.dev_addr):
        raise NeighError(errno.EINVAL, "Invalid link address")
    if ndm_flags & NTF_PROXY:
        pn = tbl.pneigh_lookup(dst, dev, True)
        assert pn is not None
        pn.flags = ndm_flags & ~NTF_PROXY
        if protocol:
            pn.protocol = protocol
        return
    if dev is None:
        raise NeighError(errno.EINVAL, "Device not specified")
    n = tbl.neigh_lookup(dst, dev)
    if n is None:
        if not create:
            raise NeighError(errno.ENOENT)
        exempt = bool(state & NUD_PERMANENT or ndm_flags & NTF_EXT_LEARNED)
        n = tbl.neigh_create(dst, dev, flags=ndm_flags & NTF_EXT_LEARNED, exempt_from_gc=exempt)
    else:
        if excl:
            tbl.neigh_release(n)
            raise NeighError(errno.EEXIST)
        if not replace:
            flags &= ~(NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_OVERRIDE_ISROUTER)
    if protocol:
        n.protocol = protocol
    if ndm_flags & NTF_EXT_LEARNED:
        flags |= NEIGH_UPDATE_F_EXT_LEARNED
    if ndm_flags & NTF_ROUTER:
        flags |= NEIGH_UPDATE_F_ISROUTER
    if ndm_flags & NTF_USE:
        flags |= NEIGH_UPDATE_F_USE
    extack: list[str] = []
    err = tbl.neigh_update(n, lladdr, state, flags, extack)
    if not err and ndm_flags & NTF_USE:
        tbl.neigh_event_send(n, None)
    tbl.neigh_release(n)
    if err:
        raise NeighError(-err, extack[0] if extack else None)


def neigh_delete(tbl: NeighTable, dst: int, dev: NetDev | None, *, proxy: bool = False) -> None:
    """neigh_delete (RTM_DELNEIGH): the entry goes FAILED, then out of the table
    unless someone still holds it."""
    if proxy:
        err = tbl.pneigh_delete(dst, dev)
        if err:
            raise NeighError(-err)
        return
    if dev is None:
        raise NeighError(errno.EINVAL)
    n = tbl.neigh_lookup(dst, dev)
    if n is None:
        raise NeighError(errno.ENOENT)
    err = tbl.neigh_update(n, None, NUD_FAILED, NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN)
    tbl.neigh_release(n)
    tbl.neigh_remove_one(n)
    if err:
        raise NeighError(-err)


def neigh_fill_info(tbl: NeighTable, n: Neighbour) -> NeighInfo:
    """neigh_fill_info: NDA_LLADDR only in a NUD_VALID state; ref shows refcnt - 1."""
    now = tbl.loop.now_ns()
    return NeighInfo(
        dst=n.primary_key, ifindex=n.dev.ifindex, dev=n.dev.name, state=n.nud_state,
        flags=n.flags, lladdr=n.ha if n.nud_state & NUD_VALID else None, probes=n.probes,
        used=(now - n.used) // USER_HZ_NS, confirmed=(now - n.confirmed) // USER_HZ_NS,
        updated=(now - n.updated) // USER_HZ_NS, refcnt=n.refcnt - 1, protocol=n.protocol)


def pneigh_fill_info(pn: PneighEntry) -> NeighInfo:
    """pneigh_fill_info: NTF_PROXY, state NONE, no lladdr, probes or cache info."""
    dev = pn.dev
    return NeighInfo(dst=pn.key, ifindex=dev.ifindex if dev is not None else 0,
                     dev=dev.name if dev is not None else "", state=NUD_NONE,
                     flags=pn.flags | NTF_PROXY, lladdr=None, probes=None, used=0,
                     confirmed=0, updated=0, refcnt=0, protocol=pn.protocol)


def neigh_dump(tbl: NeighTable, *, proxy: bool = False) -> list[NeighInfo]:
    """neigh_dump_info: every entry (``proxy``: every proxy entry) as RTM_NEWNEIGH."""
    if proxy:
        return [pneigh_fill_info(pn) for pn in tbl.pneighbours()]
    return [neigh_fill_info(tbl, n) for n in tbl.neighbours()]


def neigh_get(tbl: NeighTable, dst: int, dev: NetDev | None, *,
              proxy: bool = False) -> NeighInfo:
    """neigh_get (RTM_GETNEIGH for one entry)."""
    if proxy:
        pn = tbl.pneigh_lookup(dst, dev, False)
        if pn is None:
            raise NeighError(errno.ENOENT, "Proxy neighbour entry not found")
        return pneigh_fill_info(pn)
    if dev is None:
        raise NeighError(errno.EINVAL, "No device specified")
    n = tbl.neigh_lookup(dst, dev)
    if n is None:
        raise NeighError(errno.ENOENT, "Neighbour entry not found")
    info = neigh_fill_info(tbl, n)
    tbl.neigh_release(n)
    return info
