"""``ip link set dev DEV xdp ...``: iproute2's XDP grammar (ip/iplink_xdp.c) over a
tuxnet host, as library functions for the ``ip`` tool::

    ip [-force] link set [dev] DEV {xdp|xdpdrv|xdpgeneric|xdpoffload}
        {off | object FILE [{section|sec|program|prog} NAME] [verbose]}

``ip_link_set_xdp(host, argv, force=False)`` takes the words after ``ip link set``
(``["dev", "eth0", "xdp", "obj", "f.o", "sec", "xdp"]``); ``parse_xdp`` and
``apply_xdp`` are the two halves for a caller that parses the rest of ``ip link set``
itself. Errors raise :class:`~tuxnet.tools.ip_utils.IpError` with ip's text and exit
code (2 for the kernel's answers, 255 for the command line). Without ``-force`` a
program already attached is not replaced (XDP_FLAGS_UPDATE_IF_NOEXIST: "Error: XDP
program already attached."). ``xdp_link_flag``/``xdp_link_lines`` give what ``ip link
show`` prints for an attached program.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuxnet.bpf.errors import BpfError
from tuxnet.tools.ip_utils import IpError
from tuxnet.xdp.hook import XDP_FLAGS_UPDATE_IF_NOEXIST, dev_xdp_attach, dev_xdp_detach
from tuxnet.xdp.hook import dev_xdp_prog as _attached
from tuxnet.xdp.prog import XdpProg

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["XdpRequest", "apply_xdp", "ip_link_set_xdp", "parse_xdp", "xdp_link_flag",
           "xdp_link_lines"]

_KEYWORDS = {"xdp": "", "xdpdrv": "drv", "xdpgeneric": "skb", "xdpoffload": "hw"}


@dataclass
class XdpRequest:
    """One parsed ``xdp...`` clause: mode ("" = let the kernel choose), off, or an
    object file and its section/program name."""

    mode: str = ""
    off: bool = False
    obj: str | None = None
    sec: str | None = None
    verbose: bool = False


def parse_xdp(words: list[str]) -> tuple[XdpRequest, list[str]]:
    """Parse from ``words[0]`` (the xdp keyword); returns the request and the words
    left for the rest of ``ip link set``."""
    kw = words[0]
    if kw not in _KEYWORDS:
        raise IpError(f'Error: argument "{kw}" is wrong: not an xdp keyword', 255)
    req = XdpRequest(mode=_KEYWORDS[kw])
    rest = words[1:]
    if not rest:
        raise IpError("Command line is not complete. Try option \"help\"", 255)
    word = rest.pop(0)
    if word == "off":
        req.off = True
        return req, rest
    if word == "pinned":
        raise IpError('Error: "pinned" programs need bpffs, which tuxnet does not have.', 255)
    if word not in ("object", "obj"):
        raise IpError(f'Error: argument "{word}" is wrong: xdp needs off, object or pinned',
                      255)
    if not rest:
        raise IpError("Command line is not complete. Try option \"help\"", 255)
    req.obj = rest.pop(0)
    while rest:
        word = rest[0]
        if word in ("section", "sec", "program", "prog"):
            rest.pop(0)
            if not rest:
                raise IpError("Command line is not complete. Try option \"help\"", 255)
            req.sec = rest.pop(0)
        elif word == "verbose":
            rest.pop(0)
            req.verbose = True
        else:
            break
    return req, rest


def apply_xdp(host: Host, dev: Any, req: XdpRequest, *, force: bool = False) -> XdpProg | None:
    """Do what the request asks on ``dev``; returns the attached program (None: off)."""
    if req.off:
        dev_xdp_detach(dev)
        return None
    if req.mode == "hw":
        raise IpError("RTNETLINK answers: Operation not supported", 2)
    if req.mode == "skb":
        raise IpError('Error: "xdpgeneric": generic (skb-mode) XDP is not modelled by '
                      'tuxnet (#6).', 2)
    assert req.obj is not None
    if not force and _attached(dev) is not None:
        raise IpError("Error: XDP program already attached.", 2)
    try:
        prog = XdpProg.load(host, req.obj, req.sec)
    except FileNotFoundError:
        raise IpError(f"No such file or directory (while opening {req.obj})", 2) from None
    except BpfError as e:
        log = getattr(e, "log", "")
        detail = f"\n{log}" if req.verbose and log else ""
        raise IpError(f"Error: {e}{detail}", 2) from None
    flags = 0 if force else XDP_FLAGS_UPDATE_IF_NOEXIST
    try:
        return dev_xdp_attach(dev, prog, "drv", flags=flags)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP and req.mode == "":
            raise IpError("Error: native XDP is not supported by this device and generic "
                          "XDP is not modelled by tuxnet (#6).", 2) from None
        raise IpError(f"RTNETLINK answers: {e.strerror or e}", 2) from None


def ip_link_set_xdp(host: Host, argv: list[str], *, force: bool = False) -> XdpProg | None:
    """``ip link set [dev] DEV xdp...`` (see the module doc)."""
    words = list(argv)
    name = None
    while words and words[0] not in _KEYWORDS:
        w = words.pop(0)
        if w == "dev":
            if not words:
                raise IpError("Command line is not complete. Try option \"help\"", 255)
            w = words.pop(0)
        if name is not None:
            raise IpError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.', 255)
        name = w
    if name is None:
        raise IpError('Not enough information: "dev" argument is required.', 255)
    if not words:
        raise IpError("Command line is not complete. Try option \"help\"", 255)
    req, rest = parse_xdp(words)
    if rest:
        raise IpError(f'Error: either "dev" is duplicate, or "{rest[0]}" is a garbage.', 255)
    dev = host.devices.get(name)
    if dev is None:
        raise IpError(f'Cannot find device "{name}"', 1)
    return apply_xdp(host, dev, req, force=force)


def xdp_link_flag(dev: Any) -> str:
    """The word ``ip link show`` prints after the MTU ("xdp" for a native program)."""
    return "xdp" if _attached(dev) is not None else ""


def xdp_link_lines(dev: Any, *, details: bool = False) -> list[str]:
    """The ``prog/xdp id N`` line (with ``-d``: name, tag, jited) for ``ip link show``."""
    p = _attached(dev)
    if p is None:
        return []
    line = f"    prog/xdp id {p.id} "
    if details:
        line += f"name {p.name} tag {p.tag} "
    return [line]
