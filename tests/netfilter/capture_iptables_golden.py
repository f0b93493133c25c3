"""Record what the real iptables 1.8.9 (nf_tables) prints, for test_iptables_golden.py.

Run as root on a machine with iptables and ipset installed::

    python3 tests/netfilter/capture_iptables_golden.py > tests/netfilter/iptables_golden.json

Each scenario runs in a fresh network namespace (``unshare -n``); every step is one
command line (argv split with shlex; ``stdin`` feeds iptables-restore) and the file
keeps its stdout, stderr and exit code. iptables-save's date comment lines are kept
as printed: the test compares them with the date masked.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).with_name("iptables_golden_scenarios.txt")


def load_scenarios() -> list[dict[str, object]]:
    """Scenarios: ``== name`` starts one; each other line is a command; a command
    ending in ``<<`` takes the following lines up to ``EOF`` as its stdin."""
    scenarios: list[dict[str, object]] = []
    steps: list[dict[str, str]] = []
    lines = SCENARIOS.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("== "):
            steps = []
            scenarios.append({"name": line[3:].strip(), "steps": steps})
            continue
        step = {"cmd": line}
        if line.endswith("<<"):
            step["cmd"] = line[:-2].rstrip()
            body = []
            while lines[i] != "EOF":
                body.append(lines[i])
                i += 1
            i += 1
            step["stdin"] = "\n".join(body) + "\n"
        steps.append(step)
    return scenarios


def run_inner(steps: list[dict[str, str]]) -> list[dict[str, object]]:
    out = []
    for step in steps:
        p = subprocess.run(shlex.split(step["cmd"]), input=step.get("stdin", ""),
                           capture_output=True, text=True)
        rec: dict[str, object] = dict(step)
        rec.update(stdout=p.stdout, stderr=p.stderr, rc=p.returncode)
        out.append(rec)
    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        steps = json.loads(sys.stdin.read())
        print(json.dumps(run_inner(steps)))
        return 0
    version = subprocess.run(["iptables", "--version"], capture_output=True,
                             text=True).stdout.strip()
    result = {"captured_with": f"{version}, ipset, Linux {os.uname().release}, "
                               "one fresh network namespace (unshare -n) per scenario",
              "scenarios": []}
    for sc in load_scenarios():
        p = subprocess.run(["unshare", "-n", sys.executable, __file__, "--inner"],
                           input=json.dumps(sc["steps"]), capture_output=True, text=True,
                           check=True)
        result["scenarios"].append({"name": sc["name"], "steps": json.loads(p.stdout)})
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
