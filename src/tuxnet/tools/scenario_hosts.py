"""Which host a standalone tool (``tuxnet ss``, ``tuxnet netstat``) looks at: the
demonstration host (tools/demo.py), or the hosts of a built-in scenario run first.

``--scenario sockets``: tuxnet.scenarios.sockets (one host, sockets in many states).
``--scenario tcp``: tuxnet.scenarios.tcp_bulk, both endpoints (a and b) mid-transfer:
by default when b has read half the data, or at ``--at SECONDS`` of virtual time
(past the end of the transfer: the end, sockets gone). ``--host NAME`` keeps one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop import SimLoop

__all__ = ["SCENARIOS", "ScenarioError", "run_on_hosts", "scenario_hosts",
           "take_scenario_args"]

SCENARIOS = ("sockets", "tcp")


class ScenarioError(Exception):
    """A bad ``--scenario``/``--at``/``--host``; ``status`` is the exit status (2)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _take(argv: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from argv (tuxnet's own options)."""
    rest: list[str] = []
    value: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == f"--{name}":
            if i + 1 >= len(argv):
                raise ScenarioError(f"--{name} needs a value\n", 2)
            value = argv[i + 1]
            i += 2
            continue
        if a.startswith(f"--{name}="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return value, rest


def _bulk_hosts(at: str | None) -> list[Host]:
    """Run tuxnet.scenarios.tcp_bulk up to the snapshot point; both hosts."""
    from tuxnet.scenarios.tcp_bulk import TcpBulkParams, run_tcp_bulk

    params = TcpBulkParams()
    at_ns = None
    if at is not None:
        try:
            at_ns = int(float(at) * 1e9)
        except ValueError:
            raise ScenarioError(f"--at wants seconds, not {at!r}\n", 2) from None
        if at_ns < 0:
            raise ScenarioError("--at must not be negative\n", 2)
    hosts: list[Host] = []
    done = [False]

    def progress(loop: SimLoop, a: Host, b: Host, read: int) -> None:
        if not hosts:
            hosts.extend((a, b))
            if at_ns is not None:
                def snap() -> None:
                    done[0] = True
                    loop.stop()
                loop.call_at(at_ns, snap)
        if at_ns is None and not done[0] and read * 2 >= params.nbytes:
            done[0] = True
            loop.stop()

    # the run stops at the snapshot; past the end of the transfer it shows the end
    run_tcp_bulk(params, on_progress=progress)
    return hosts


def scenario_hosts(scenario: str | None, at: str | None, which: str | None) -> list[Host]:
    """The hosts a tool looks at: the demonstration host, or those of ``scenario``
    (``--at`` for tcp, ``--host`` to pick one); raises ScenarioError (status 2)."""
    if scenario is not None and scenario not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r} ({', '.join(SCENARIOS)})\n", 2)
    if at is not None and scenario != "tcp":
        raise ScenarioError("--at applies to --scenario tcp\n", 2)
    hosts: list[Host]
    if scenario == "tcp":
        hosts = _bulk_hosts(at)
    elif scenario == "sockets":
        from tuxnet.scenarios.sockets import build_sockets

        hosts = [build_sockets().host]
    else:
        from tuxnet.tools.demo import demo_host

        hosts = [demo_host()]
    if which is not None:
        hosts = [h for h in hosts if h.name == which]
        if not hosts:
            raise ScenarioError(f"no host {which!r} in this scenario\n", 2)
    return hosts


def take_scenario_args(argv: list[str]) -> tuple[str | None, str | None, str | None,
                                                 list[str]]:
    """Split tuxnet's own ``--scenario``, ``--at``, ``--host`` off a command line."""
    scenario, argv = _take(argv, "scenario")
    at, argv = _take(argv, "at")
    which, argv = _take(argv, "host")
    return scenario, at, which, argv


def run_on_hosts(argv: list[str], prog: str, run: Callable[[Host, list[str]], int]) -> int:
    """A tool's main: take tuxnet's own options off ``argv``, find the hosts, and
    ``run(host, rest_of_argv)`` on each (headed ``==> host NAME <==`` when there are
    several); the exit status is the last non-zero one (2 for a bad scenario)."""
    try:
        scenario, at, which, argv = take_scenario_args(argv)
        hosts = scenario_hosts(scenario, at, which)
    except ScenarioError as exc:
        sys.stderr.write(f"{prog}: {exc}")
        return exc.status
    rc = 0
    for host in hosts:
        if len(hosts) > 1:
            sys.stdout.write(f"==> host {host.name} <==\n")
        rc = run(host, argv) or rc
        sys.stdout.flush()
    return rc
