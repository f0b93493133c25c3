"""Helpers for the ``tuxnet live`` interop tests: a network namespace per test module,
``tuxnet live`` started in it as a subprocess, kernel-side commands run in it.

Everything is removed in teardown whatever happens: the tuxnet process (by its PID:
SIGTERM, then SIGKILL), and the namespace (``ip netns del``), which takes the TAP
and any address with it.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import need

READY = "tuxnet live: tap "


def require_live(*tools: str) -> None:
    """Root, /dev/net/tun, iproute2 and ``tools``: fail under CI, skip elsewhere."""
    need(os.geteuid() == 0, "live TAP tests need root")
    need(os.path.exists("/dev/net/tun"), "no /dev/net/tun (modprobe tun)")
    need(shutil.which("ip") is not None, "iproute2 missing (apt-get install iproute2)")
    pkgs = {"ping": "iputils-ping", "nc": "netcat-openbsd", "tcpdump": "tcpdump",
            "curl": "curl"}
    for tool in tools:
        need(shutil.which(tool) is not None,
             f"{tool} missing (apt-get install -y {pkgs.get(tool, tool)})")


@contextmanager
def netns(tag: str, prefix: str = "tnx") -> Iterator[str]:
    """A fresh network namespace ``<prefix><tag><pid><rand>`` with lo up, deleted after."""
    name = f"{prefix}{tag}{os.getpid()}{secrets.token_hex(2)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    need(made.returncode == 0, f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def ns_run(ns: str, *cmd: str, timeout: float = 20, input: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside ``ns``."""
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=timeout, input=input)


class Live:
    """A ``tuxnet live`` process inside a namespace."""

    def __init__(self, ns: str, *args: str, timeout: float = 15) -> None:
        self.ns = ns
        self.args = args
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "tuxnet", "live", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=env)
        self._output: tuple[str, str] | None = None
        # the ready line is on stdout, or on stderr with --json (stdout is the report)
        self._ready_on_stderr = "--json" in args
        self._early = b""  # what was read from that stream while waiting
        self.ready = self._wait_ready(timeout)
        # "tuxnet live: tap tnx0 up, 10.0.0.2/24 (lladdr 02:.., mtu 1500...)"
        self.mac = self.ready.split("lladdr ", 1)[1].split(",", 1)[0].split(")", 1)[0]

    def _wait_ready(self, timeout: float) -> str:
        stream = self.proc.stderr if self._ready_on_stderr else self.proc.stdout
        assert stream is not None
        fd = stream.fileno()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._early += chunk
                for line in self._early.decode(errors="replace").splitlines():
                    if line.startswith(READY):
                        return line.strip()
            elif self.proc.poll() is not None:
                break
        out, err = self.stop(kill=True)
        raise AssertionError(f"tuxnet live did not become ready (rc={self.proc.returncode})"
                             f"\nstdout: {out}\nstderr: {err}")

    def stop(self, sig: int = signal.SIGTERM, kill: bool = False,
             timeout: float = 10) -> tuple[str, str]:
        """Signal the process (by PID) and collect its output (once; later calls
        return the same). The ready line is included."""
        if self._output is not None:
            return self._output
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=10)
        if self._ready_on_stderr:
            err = self._early + err
        else:
            out = self._early + out
        self._output = (out.decode(errors="replace"), err.decode(errors="replace"))
        return self._output

    def stop_json(self) -> dict[str, Any]:
        """SIGTERM a ``--json`` instance; its report."""
        out, err = self.stop()
        assert self.proc.returncode == 0, f"rc={self.proc.returncode}\n{out}\n{err}"
        report: dict[str, Any] = json.loads(out)
        return report


@contextmanager
def live(ns: str, *args: str) -> Iterator[Live]:
    """``tuxnet live ARGS`` in ``ns`` for the duration of the block."""
    inst = Live(ns, *args)
    try:
        yield inst
    finally:
        inst.stop()


def run_bench_quick(script: str, nratios: int, timeout: float) -> list[str]:
    """Run ``benchmarks/SCRIPT --quick`` on this tree; assert it succeeds and ends with
    exactly ``nratios`` ratio lines; return its output lines."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / script), "--quick"],
                         capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, PYTHONPATH=str(root / "src")))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    ratios = [ln for ln in lines if ln.startswith("ratio:")]
    assert len(ratios) == nratios and lines[-nratios:] == ratios, out.stdout
    return lines
