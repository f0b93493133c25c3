"""``tuxnet ip``: iproute2's ``ip`` grammar over a tuxnet host.

``run(host, argv, out)`` is the entry point every caller uses (scripts, labs, the live
console, tests); the ``tuxnet ip`` command runs it on a demonstration host. Each object
(link, addr, route, neigh) lives in its own module ``tuxnet.tools.ip_<object>`` with
``run(host, argv, out, opts) -> int``; objects are matched by prefix as iproute2 does
(``ip r``, ``ip addr``, ``ip n``).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tuxnet.host import Host

# iproute2 object names in the order ip(8) resolves abbreviations (ip.c cmds[])
_OBJECTS: list[tuple[str, str]] = [
    ("address", "tuxnet.tools.ip_addr"),
    ("route", "tuxnet.tools.ip_route"),
    ("link", "tuxnet.tools.ip_link"),
    ("neighbour", "tuxnet.tools.ip_neigh"),
    ("neighbor", "tuxnet.tools.ip_neigh"),
]


@dataclass(slots=True)
class IpOptions:
    """Global options before the object (``ip -s -s -d -j link``)."""

    stats: int = 0
    details: bool = False
    json: bool = False
    oneline: bool = False
    family: str = "inet"


def _parse_options(argv: list[str]) -> tuple[IpOptions, list[str]]:
    opts = IpOptions()
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i].lstrip("-")
        if arg in ("s", "stats", "statistics"):
            opts.stats += 1
        elif arg == "ss":
            opts.stats += 2
        elif arg in ("d", "details"):
            opts.details = True
        elif arg in ("j", "json"):
            opts.json = True
        elif arg in ("o", "oneline"):
            opts.oneline = True
        elif arg == "4":
            opts.family = "inet"
        else:
            raise ValueError(f'Option "{argv[i]}" is unknown, try "ip -help".')
        i += 1
    return opts, argv[i:]


def resolve_object(name: str) -> str | None:
    """The module for an object name or a prefix of one (``r`` -> route)."""
    for full, module in _OBJECTS:
        if full.startswith(name):
            return module
    return None


def run(host: Host, argv: list[str], out: TextIO) -> int:
    """Run one ``ip`` command line against ``host``, writing what ip prints to ``out``."""
    try:
        opts, rest = _parse_options(argv)
    except ValueError as err:
        print(err, file=out)
        return 255
    if not rest:
        print("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n"
              "where  OBJECT := { address | link | neighbour | route }", file=out)
        return 255
    module_name = resolve_object(rest[0])
    if module_name is None:
        print(f'Object "{rest[0]}" is unknown, try "ip help".', file=out)
        return 255
    module = importlib.import_module(module_name)
    rc: int = module.run(host, rest[1:], out, opts)
    return rc


def main(argv: list[str], prog: str = "tuxnet ip") -> int:
    """Entry point of ``tuxnet ip`` (on the demonstration host)."""
    from tuxnet.tools.demo import demo_host

    return run(demo_host(), argv, sys.stdout)
