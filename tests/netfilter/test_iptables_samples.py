"""The reference samples (captured on the harness' router namespace, iptables 1.8.9
nf_tables) reproduced byte for byte: restore the saved ruleset with its counters and
print it back with iptables-save -c, -S, -L -v -n -x [--line-numbers]."""

from __future__ import annotations

import re

import pytest
from _nfutil import ipt, new_host, restore, save
from conftest import REFERENCE

SAMPLES = REFERENCE / "samples"


def _sample(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"reference sample {name} missing")
    return path.read_text()


def _date(text: str) -> str:
    m = re.search(r"on (.+)$", text.splitlines()[0])
    assert m is not None
    return m.group(1)


@pytest.mark.parametrize("name", ["dut_iptables-save_-c.txt", "iptables-save_-c.txt"])
def test_restore_then_save_reproduces_sample(name: str) -> None:
    text = _sample(name)
    host = new_host()
    restore(host, text, "-c")
    assert save(host, "-c", date=_date(text)) == text


def test_dut_listings() -> None:
    host = new_host()
    restore(host, _sample("dut_iptables-save_-c.txt"), "-c")
    assert ipt(host, "-L -v -n -x --line-numbers") == \
        _sample("dut_iptables_-L_-v_-n_-x_--line-numbers.txt")
    assert ipt(host, "-S") == _sample("dut_iptables_-S.txt")
    assert ipt(host, "-t nat -L -v -n -x") == _sample("dut_iptables_-t_nat_-L_-v_-n_-x.txt")
    assert ipt(host, "-L -v -n") == _sample("dut_iptables_-L_-v_-n_human.txt")


def test_single_rule_listing() -> None:
    host = new_host()
    restore(host, _sample("iptables-save_-c.txt"), "-c")
    assert ipt(host, "-L -v -n -x") == _sample("iptables_-L_-v_-n_-x.txt")


def test_restore_without_counters_zeroes_them() -> None:
    host = new_host()
    restore(host, _sample("dut_iptables-save_-c.txt"))
    assert "[0:0] -A INPUT -s 10.1.0.0/16" in save(host, "-c")
    assert ":FORWARD DROP [0:0]" in save(host)
