"""``tuxnet sysctl``: procps sysctl(8) over a tuxnet host's net.* tree.

Grammar and output follow procps-ng sysctl: ``-a`` lists ``name = value`` in the
kernel's order (deprecated entries only with ``--deprecated``), ``-n``/``-N`` print
values/names only, ``-w NAME=VALUE`` (or any argument with ``=``) writes and echoes
``name = value`` as given, ``-e`` ignores unknown keys, ``-q`` silences writes,
``-r REGEX`` filters names, ``-p FILE`` loads a sysctl.conf. Errors go to stderr with
sysctl's wording and make the exit status 1. ``--json`` prints one JSON object
(name -> value; vectors as lists) instead. Runs on a fresh default host (lo only).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.sysctl import Sysctl, SysctlError, SysctlValue, canonical_name


def default_host() -> Host:
    """A fresh host as a new network namespace starts: only lo is there."""
    host = Host(SimLoop(), "host")
    if "lo" not in host.sysctl.devices():
        host.sysctl.register_device("lo", loopback=True)
    return host


def _json_value(v: SysctlValue) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Show or set net.* sysctls with "
                                "Linux names, defaults and rules (procps sysctl grammar).")
    p.add_argument("-a", "--all", "-A", "-X", action="store_true", dest="all",
                   help="display all variables")
    p.add_argument("--deprecated", action="store_true",
                   help="include deprecated parameters to listing")
    p.add_argument("-b", "--binary", action="store_true", help="print value without new line")
    p.add_argument("-e", "--ignore", action="store_true", help="ignore unknown variables errors")
    p.add_argument("-N", "--names", action="store_true", help="print variable names without values")
    p.add_argument("-n", "--values", action="store_true",
                   help="print only values of the given variable(s)")
    p.add_argument("-p", "--load", metavar="FILE", help="read values from file")
    p.add_argument("-r", "--pattern", metavar="EXPR", help="select setting that match expression")
    p.add_argument("-q", "--quiet", action="store_true", help="do not echo variable set")
    p.add_argument("-w", "--write", action="store_true", help="enable writing a value to variable")
    p.add_argument("--json", action="store_true", help="print one JSON object name -> value")
    p.add_argument("variables", nargs="*", metavar="variable[=value]")
    return p


class _Run:
    def __init__(self, ns: argparse.Namespace, sysctl: Sysctl) -> None:
        self.ns = ns
        self.sysctl = sysctl
        self.rc = 0
        self.out: list[str] = []
        self.doc: dict[str, Any] = {}
        self.pattern = re.compile(ns.pattern) if ns.pattern else None

    def error(self, msg: str) -> None:
        print(msg, file=sys.stderr)
        self.rc = 1

    def show(self, name: str, value: SysctlValue, text: str) -> None:
        if self.pattern is not None and not self.pattern.search(name):
            return
        ns = self.ns
        if ns.json:
            self.doc[name] = _json_value(value)
        elif ns.names:
            self.out.append(f"{name}\n")
        elif ns.values:
            self.out.append(text if ns.binary else text + "\n")
        else:
            self.out.append(f"{name} = {text}\n")

    def read(self, key: str) -> None:
        s = self.sysctl
        if s.is_dir(key):
            for name, value in s.items(key, deprecated=self.ns.deprecated):
                self.show(name, value, s.format_value(name))
            return
        try:
            value = s.get(key)
            self.show(canonical_name(key), value, s.format_value(key))
        except SysctlError as exc:
            if not (self.ns.ignore and exc.errno == 2):
                self.error(str(exc))

    def write(self, setting: str) -> None:
        key, sep, value = setting.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            self.error(f'sysctl: "{setting}" must be of the form name=value')
            return
        try:
            stored = self.sysctl.set(key, value)
        except SysctlError as exc:
            if not (self.ns.ignore and exc.errno == 2):
                self.error(str(exc))
            return
        name = canonical_name(key)
        if self.ns.json:
            self.doc[name] = _json_value(stored)
        elif self.ns.quiet:
            return
        elif self.ns.names:
            self.out.append(f"{name}\n")
        elif self.ns.values:
            self.out.append(value if self.ns.binary else value + "\n")
        else:
            self.out.append(f"{name} = {value}\n")

    def load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            self.error(f"sysctl: cannot open \"{path}\": {exc.strerror}")
            return
        for line in lines:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            ignore = line.startswith("-")
            saved, self.ns.ignore = self.ns.ignore, self.ns.ignore or ignore
            self.write(line.lstrip("-"))
            self.ns.ignore = saved


def main(argv: list[str], prog: str = "tuxnet sysctl") -> int:
    """Entry point: ``tuxnet sysctl [options] [variable[=value] ...]``."""
    ns = _parser(prog).parse_args(argv)
    if ns.pattern:
        try:
            re.compile(ns.pattern)
        except re.error as exc:
            print(f"sysctl: bad pattern {ns.pattern!r}: {exc}", file=sys.stderr)
            return 1
    run = _Run(ns, default_host().sysctl)
    if ns.load:
        run.load(ns.load)
    elif ns.all:
        for name, value in run.sysctl.items(deprecated=ns.deprecated):
            run.show(name, value, run.sysctl.format_value(name))
    elif not ns.variables:
        print("sysctl: no variables specified", file=sys.stderr)
        print(f"Try '{prog} --help' for more information.", file=sys.stderr)
        return 1
    else:
        for arg in ns.variables:
            if ns.write or "=" in arg:
                run.write(arg)
            else:
                run.read(arg)
    if ns.json:
        print(json.dumps(run.doc, indent=2))
    else:
        sys.stdout.write("".join(run.out))
    return run.rc
