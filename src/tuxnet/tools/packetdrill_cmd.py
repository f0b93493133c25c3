"""``tuxnet packetdrill [--json] FILE...``: run packetdrill scripts, each on a fresh
tuxnet host in virtual time (see :mod:`tuxnet.packetdrill`).

Prints ``PASS path`` or ``FAIL path:LINE: first mismatch`` per script and a
``N passed, N failed`` total; ``--json`` prints one JSON document instead. The exit
status is 1 when any script failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from tuxnet.packetdrill.runner import run_script


def main(argv: list[str], prog: str = "tuxnet packetdrill") -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(prog=prog, description="Run packetdrill scripts against "
                                 "a fresh tuxnet host each, in virtual time.")
    ap.add_argument("--json", action="store_true", help="print a JSON document")
    ap.add_argument("-D", "--define", action="append", default=[], metavar="OPT=VAL",
                    help="override a script option (e.g. tolerance_usecs=10000)")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ns = ap.parse_args(argv)
    overrides: dict[str, str] = {}
    for d in ns.define:
        k, _, v = d.partition("=")
        overrides[k.lstrip("-")] = v
    results = []
    passed = failed = 0
    for path in ns.files:
        r = run_script(path, overrides)
        results.append(r)
        if r.passed:
            passed += 1
        else:
            failed += 1
        if not ns.json:
            if r.passed:
                print(f"PASS {path}")
            else:
                print(f"FAIL {path}:{r.line}: {r.message}")
            sys.stdout.flush()
    if ns.json:
        doc = {
            "passed": passed, "failed": failed,
            "scripts": [{"path": r.path, "result": "pass" if r.passed else "fail",
                         "line": r.line, "message": r.message, "notes": list(r.notes)}
                        for r in results],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
