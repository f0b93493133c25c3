"""Internet checksum (RFC 1071) throughput over 1500-byte buffers: tuxnet against a
bare pure-Python reference (array('H') + sum) and the textbook int.from_bytes % 0xFFFF,
in the same run. Metric: GB/s (1e9 bytes per second)."""

from __future__ import annotations

import os
import random
from array import array

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, rate, ratio_line, table

from tuxnet.wire.checksum import internet_checksum


def ref_array_sum(data: bytes) -> int:
    """The bare reference: 16-bit words through array('H'), summed, folded."""
    words = array("H", data if len(data) % 2 == 0 else bytes(data) + b"\0")
    if array("H", b"\x01\x00")[0] == 1:  # little-endian host: words in network order
        words.byteswap()
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ref_from_bytes(data: bytes) -> int:
    """The textbook C-speed version: one big integer, one modulo."""
    v = int.from_bytes(data, "big") << (8 * (len(data) & 1))
    s = v % 0xFFFF or (0xFFFF if v else 0)
    return ~s & 0xFFFF


def main() -> None:
    args = parse_args(__doc__ or "")
    rng = random.Random(1071)
    sizes = (64, 576, 1500, 9000, 65535) if not args.quick else (64, 1500)
    rows = []
    at1500: dict[str, float] = {}
    for size in sizes:
        data = bytes(rng.getrandbits(8) for _ in range(size)) if size < 4096 else os.urandom(size)
        frame = bytearray(14 + size)
        frame[14:] = data
        view = memoryview(frame)[14:]  # an skb's payload: a slice of a bigger buffer
        want = ref_array_sum(data)
        assert internet_checksum(data) == want == ref_from_bytes(data)
        assert internet_checksum(view) == want
        cases = {
            "tuxnet (bytes)": lambda d=data: internet_checksum(d),
            "tuxnet (memoryview slice)": lambda v=view: internet_checksum(v),
            "int.from_bytes % 0xFFFF": lambda d=data: ref_from_bytes(d),
            "array('H') + sum": lambda d=data: ref_array_sum(d),
        }
        for name, fn in cases.items():
            gbps = rate(fn, args.seconds * 0.6) * size / 1e9  # 20 cases: stay under 20 s
            rows.append((size, name, gbps))
            if size == 1500:
                at1500[name] = gbps
    print("Internet checksum throughput, GB/s (higher is better)")
    print(table(("bytes", "implementation", "GB/s"), rows))
    tux = at1500["tuxnet (bytes)"]
    print(
        f"tuxnet internet_checksum over 1500 B: {tux:.3f} GB/s "
        f"(memoryview slice {at1500['tuxnet (memoryview slice)']:.3f} GB/s)"
    )
    print(ratio_line("checksum_gbps", "array_sum", tux / at1500["array('H') + sum"]))
    print(ratio_line("checksum_gbps", "from_bytes_mod", tux / at1500["int.from_bytes % 0xFFFF"]))


if __name__ == "__main__":
    main()
