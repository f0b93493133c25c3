#!/usr/bin/env python3
"""Re-record the real kernel's report for the differential scenarios (root).

    sudo python3 tests/netfilter/diff/record.py [NAME ...] [--backend nft|legacy]

Runs the nf-kernel-diff harness on each scenario (all by default) and writes its JSON
report to ``<scenario>/expected.json``; then prints, per scenario, whether
``tuxnet nf replay`` agrees (the differences when it does not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent.parent / "src"))
from _diffutil import compare, run_kernel, run_tuxnet, scenarios  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="scenarios (default: all)")
    ap.add_argument("--backend", choices=("nft", "legacy"), default="nft")
    ap.add_argument("--no-record", action="store_true",
                    help="only compare tuxnet with the stored recordings")
    a = ap.parse_args()
    if not a.no_record and os.geteuid() != 0:
        sys.exit("recording needs root (network namespaces)")
    names = a.names or scenarios()
    bad = 0
    for name in names:
        path = HERE / name / "expected.json"
        if not a.no_record:
            doc = run_kernel(name, a.backend)
            path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
        kernel = json.loads(path.read_text())
        rules = (HERE / name / "rules.txt").read_text()
        diffs = compare(kernel, run_tuxnet(name), rules)
        print(f"{name:28} {'agrees' if not diffs else f'{len(diffs)} differences'}")
        for d in diffs:
            print("   " + d)
        bad += bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
