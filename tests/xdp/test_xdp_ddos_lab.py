"""Lab xdp-ddos --quick: the qualitative shape (XDP keeps the legitimate goodput at
the highest attack rate, the stack does not; XDP's CPU per frame is much lower)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from tuxnet.tools import lab_cmd


def test_quick_sweep_shape() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        rc = lab_cmd.main(["xdp-ddos", "--quick", "--json"])
    assert rc == 0
    doc = json.loads(out.getvalue())
    assert doc["lab"] == "xdp-ddos" and doc["quick"]
    rows = doc["rows"]
    top = max(r["attack_pps"] for r in rows)

    def row(mode: str, rate: int) -> dict[str, float]:
        (r,) = [x for x in rows if x["mode"] == mode and x["attack_pps"] == rate]
        return r

    for mode in ("xdp", "stack"):
        base = row(mode, 0)
        assert base["legit_goodput"] >= 0.95 * base["legit_pps"]
        assert base["filtered_pps"] == 0
    xdp, stack = row("xdp", top), row("stack", top)
    assert xdp["legit_goodput"] >= 0.8 * row("xdp", 0)["legit_goodput"]
    assert stack["legit_goodput"] < 0.5 * row("stack", 0)["legit_goodput"]
    assert stack["cpu_ns_per_packet"] >= 2 * xdp["cpu_ns_per_packet"]
    assert xdp["ring_drops_pps"] == 0 and stack["ring_drops_pps"] > 0
    assert xdp["filtered_pps"] >= 0.95 * top  # XDP drops the flood at line rate
    s = doc["summary"]
    assert s["stack_over_xdp_cpu_per_packet"] >= 2
    assert "xdp_prog_ns" in doc["costs"]
