"""Congestion-control lab speed: simulated seconds per wall second of the ``cc`` lab's
flow (100 Mbit/s bottleneck, 100 ms RTT, one BDP of buffer, bulk TCP from host a to
host b with tuxnet's TCP on both ends), for cubic, bbr (paced by TCP itself) and reno,
without random loss and with 1 % loss.

Usage: python benchmarks/bench_cc.py [--quick] [--seconds S]

The peer is real time: a ratio above 1 means the simulation runs faster than the
network it models. ``--seconds`` is the simulated time per case (default 10, quick 0.5).
"""

from __future__ import annotations

import time

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, ratio_line, table

from tuxnet.labs.cc import SEC, PathSpec, run_path


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "bench_cc")
    sim_s = 0.5 if args.quick else (args.seconds if args.seconds != 1.0 else 10.0)
    rows = []
    ratios = []
    for cc in ("cubic", "bbr", "reno"):
        for loss in (0.0, 0.01):
            spec = PathSpec(ccs=(cc,), loss=loss, duration_ns=int(sim_s * SEC))
            t0 = time.perf_counter()
            (res,), path = run_path(spec)
            wall = time.perf_counter() - t0
            speed = sim_s / wall
            pps = path.sent / wall
            rows.append((cc, f"{loss:.0%}", round(res.goodput_mbps, 1), path.sent,
                         round(wall, 2), round(speed, 3), round(pps)))
            ratios.append((f"sim_seconds_per_wall_second_{cc}_loss{loss:g}", speed))
    print(table(("cc", "loss", "goodput Mbit/s", "packets", "wall s", "sim s / wall s",
                 "packets / wall s"), rows))
    for metric, value in ratios:
        print(ratio_line(metric, "realtime", value))


if __name__ == "__main__":
    main()
