"""``tuxnet lab netfilter`` at small sizes: the linear chain costs nf_rule_ns per rule
per packet, one set lookup costs the same whatever the set size, every packet is
forwarded, conntrack rows say n/a until conntrack exists."""

from __future__ import annotations

import json

import pytest

from tuxnet.core.costs import DEFAULT_COSTS
from tuxnet.labs.netfilter import NfLabParams, format_table, run_all
from tuxnet.tools import lab_cmd


def test_linear_rules_vs_set_lookup() -> None:
    p = NfLabParams(rule_counts=(0, 10, 100), set_members=50, packets=30)
    doc = run_all(p)
    rows = {(r["kind"], r["n"]): r for r in doc["rows"]}
    assert all(r["forwarded"] == 30 for r in doc["rows"])
    assert rows[("linear", 0)]["nf_ns_per_pkt"] == 0
    for n in (10, 100):
        assert rows[("linear", n)]["nf_ns_per_pkt"] == n * DEFAULT_COSTS.nf_rule_ns
    one_lookup = DEFAULT_COSTS.nf_rule_ns + DEFAULT_COSTS.nf_set_lookup_ns
    assert rows[("ipset", 50)]["nf_ns_per_pkt"] == one_lookup
    assert rows[("nftset", 50)]["nf_ns_per_pkt"] == one_lookup
    big = run_all(NfLabParams(rule_counts=(0,), set_members=5000, packets=30))
    assert {r["nf_ns_per_pkt"] for r in big["rows"] if r["kind"] != "linear"} == {one_lookup}
    text = format_table(doc)
    assert "linear, 100 non-matching rules" in text and "ipset hash:ip" in text
    ct = {r["case"]: r for r in doc["conntrack"]["rows"]}
    assert ct["conntrack, one established flow"]["nf_ns_per_pkt"] > 0
    full = next(r for r in doc["conntrack"]["rows"] if "new_flows" in r)
    assert full["dropped"] > 0 and full["forwarded"] + full["dropped"] == full["new_flows"]
    assert "Conntrack" in text and "dropped" in text


def test_cli_json(capsys: object) -> None:
    assert lab_cmd.main(["netfilter", "--quick", "--json"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    doc = json.loads(out)
    assert doc["lab"] == "netfilter" and len(doc["rows"]) == 5
    with pytest.raises(SystemExit) as exc:
        lab_cmd.main(["netfilter", "--rules", "x"])
    assert exc.value.code == 2
