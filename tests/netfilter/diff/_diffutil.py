"""The differential suite's plumbing: scenarios, the kernel harness, the comparison.

A scenario is a directory with ``rules.txt`` (iptables-save), ``packets.json`` (the
harness's packet file) and ``expected.json`` (the harness's ``--json`` report from a
real kernel, recorded by ``record.py``).

The kernel harness (/work/shared/tools/nf-kernel-diff/diff_harness.py, or
$TUXNET_NF_HARNESS) uses fixed namespace names; :func:`run_kernel` runs it inside a
private mount + network namespace (``unshare``) with its own /run/netns, so its
namespaces cannot collide with anyone else's run.

:func:`compare` masks only what the harness's README calls random or clock based:
conntrack timeouts (±2 s), the ISN of a SYN-ACK the DUT's own TCP makes, the port an
SNAT/MASQUERADE picks inside a port range; the conntrack table is compared as a set
(``conntrack -L`` lists in hash order) and a ``dut_cmd``'s output is not compared.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from conftest import shared_path  # noqa: E402

HARNESS = Path(os.environ.get("TUXNET_NF_HARNESS") or
               shared_path("TUXNET_SHARED_TOOLS", "tools") / "nf-kernel-diff" / "diff_harness.py")
TIMEOUT_SLACK = 2  # seconds: conntrack timeouts are clock based (harness README)
DUT_ADDRS = ("10.1.0.1", "10.2.0.1")


def scenarios() -> list[str]:
    return sorted(p.name for p in HERE.iterdir() if (p / "rules.txt").is_file())


def load_expected(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / name / "expected.json").read_text())
    return doc


def run_kernel(name: str, backend: str = "nft") -> dict[str, Any]:
    """The harness's JSON report for scenario ``name`` (needs root, iptables, nft,
    conntrack, ipset, scapy)."""
    d = HERE / name
    with tempfile.TemporaryDirectory(prefix="tnr-") as tmp:
        out = Path(tmp) / "kernel.json"
        script = ('mkdir -p /run/netns && mount -t tmpfs tnr-netns /run/netns && '
                  'exec "$0" "$@"')
        cmd = ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script,
               sys.executable, str(HARNESS), "--rules", str(d / "rules.txt"),
               "--packets", str(d / "packets.json"), "--backend", backend,
               "--json", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if r.returncode != 0 or not out.exists():
            raise RuntimeError(f"harness failed on {name} (rc {r.returncode}): "
                               f"{r.stderr.strip()[-2000:]}")
        doc: dict[str, Any] = json.loads(out.read_text())
        return doc


def run_tuxnet(name: str) -> dict[str, Any]:
    """``tuxnet nf replay --json`` on scenario ``name``, in process."""
    import contextlib
    import io

    from tuxnet.tools import nf_cmd

    d = HERE / name
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = nf_cmd.main(["replay", "--rules", str(d / "rules.txt"), "--packets",
                          str(d / "packets.json"), "--json"])
    assert rc == 0, f"tuxnet nf replay failed on {name}"
    doc: dict[str, Any] = json.loads(buf.getvalue())
    return doc


# -- masking ---------------------------------------------------------------------------

_TCP = re.compile(r"^(\S+) > (\S+) ttl=\d+ TCP (\d+)>(\d+) \[(\w*)\] seq=(\d+)")
_SNAT_RANGE = re.compile(r"(--to-source \S+:\d+-\d+|MASQUERADE .*--to-ports \d+-\d+)")


def _mask_line(line: str, sent: str, snat_range: bool) -> str:
    m = _TCP.match(line)
    if m and "S" in m.group(5) and "A" in m.group(5):
        sm = _TCP.match(sent)
        if not (sm and "A" in sm.group(5)):  # a SYN-ACK the DUT's TCP made: random ISN
            line = line[:m.start(6)] + "*" + line[m.end(6):]
    if snat_range:
        line = re.sub(r"^(10\.2\.0\.1 > \S+ ttl=\d+ (?:TCP|UDP) )\d+>", r"\1*>", line)
    return line


def _ct_key(e: dict[str, Any], snat_range: bool) -> str:
    e = dict(e)
    e.pop("timeout", None)
    if snat_range and e.get("reply", {}).get("dst") == "10.2.0.1":
        e["reply"] = dict(e["reply"], dport="*")
    return json.dumps(e, sort_keys=True)


def _ct_diff(k: list[dict[str, Any]], t: list[dict[str, Any]], snat_range: bool) -> str | None:
    kk = sorted(k, key=lambda e: _ct_key(e, snat_range))
    tt = sorted(t, key=lambda e: _ct_key(e, snat_range))
    if [_ct_key(e, snat_range) for e in kk] != [_ct_key(e, snat_range) for e in tt]:
        return f"kernel {kk}\n   tuxnet {tt}"
    for a, b in zip(kk, tt, strict=True):
        if abs(int(a["timeout"]) - int(b["timeout"])) > TIMEOUT_SLACK:
            return (f"timeout kernel {a['timeout']} tuxnet {b['timeout']} "
                    f"for {_ct_key(a, snat_range)}")
    return None


def compare(kernel: dict[str, Any], tux: dict[str, Any], rules: str = "") -> list[str]:
    """Every field that differs, as ``step N field: kernel ... tuxnet ...`` lines."""
    snat_range = bool(_SNAT_RANGE.search(rules))
    diffs: list[str] = []
    ks, ts = kernel["steps"], tux["steps"]
    if len(ks) != len(ts):
        return [f"step count: kernel {len(ks)} tuxnet {len(ts)}"]
    for k, t in zip(ks, ts, strict=True):
        n = k["n"]
        sent = k.get("sent", "")
        for fld in ("sent", "out_lan", "out_wan", "counters", "snmp"):
            kv, tv = k.get(fld), t.get(fld)
            if fld.startswith("out_"):
                kv = [_mask_line(x, sent, snat_range) for x in kv]
                tv = [_mask_line(x, sent, snat_range) for x in tv]
            if kv != tv:
                diffs.append(f"step {n} {fld}: kernel {kv}\n   tuxnet {tv}")
        d = _ct_diff(k["conntrack"], t["conntrack"], snat_range)
        if d:
            diffs.append(f"step {n} conntrack: {d}")
    if kernel["final_counters"] != tux["final_counters"]:
        diffs.append(f"final_counters: kernel {kernel['final_counters']}\n"
                     f"   tuxnet {tux['final_counters']}")
    d = _ct_diff(kernel["final_conntrack"], tux["final_conntrack"], snat_range)
    if d:
        diffs.append(f"final_conntrack: {d}")
    return diffs
