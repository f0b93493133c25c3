"""tc-style unit strings: rates, times and sizes ("100mbit", "1ms", "64kb").

The grammar follows tc(8) and iproute2's parsers (tc_util.c get_rate, get_size;
lib/utils.c get_time64): a decimal number, then an optional case-insensitive suffix.

- rates  -> bits per second (int). A bare number is bits/s; ``k/m/g/tbit`` are SI
  (x1000), ``ki/mi/gi/tibit`` are IEC (x1024); ``bps`` and friends are *bytes*/s.
- times  -> nanoseconds (int). Suffixes s/sec/secs, ms/msec/msecs, us/usec/usecs,
  ns/nsec/nsecs; a bare number is microseconds (tc(8) "TIMES").
- sizes  -> bytes (int). ``b`` or bare = bytes; ``k/kb``, ``m/mb``, ``g/gb`` are x1024;
  ``kbit/mbit/gbit`` are x1024/8 (get_size).

Results are rounded to the nearest integer; a negative, non-finite or unparsable
value raises ValueError.
"""

from __future__ import annotations

import math
import re

__all__ = ["NSEC_PER_MSEC", "NSEC_PER_SEC", "NSEC_PER_USEC", "parse_rate", "parse_size",
           "parse_time"]

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_MSEC = 1_000_000
NSEC_PER_USEC = 1_000

_NUMBER = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*\Z")

# tc_util.c suffixes[]: multiplier to bits per second.
_RATE_SUFFIX: dict[str, float] = {
    "": 1.0,
    "bit": 1.0,
    "kibit": 1024.0,
    "kbit": 1e3,
    "mibit": 1024.0**2,
    "mbit": 1e6,
    "gibit": 1024.0**3,
    "gbit": 1e9,
    "tibit": 1024.0**4,
    "tbit": 1e12,
    "bps": 8.0,
    "kibps": 8.0 * 1024,
    "kbps": 8e3,
    "mibps": 8.0 * 1024**2,
    "mbps": 8e6,
    "gibps": 8.0 * 1024**3,
    "gbps": 8e9,
    "tibps": 8.0 * 1024**4,
    "tbps": 8e12,
}

# tc(8) TIMES; multiplier to nanoseconds (bare number = usec).
_TIME_SUFFIX: dict[str, int] = {
    "": NSEC_PER_USEC,
    "s": NSEC_PER_SEC, "sec": NSEC_PER_SEC, "secs": NSEC_PER_SEC,
    "ms": NSEC_PER_MSEC, "msec": NSEC_PER_MSEC, "msecs": NSEC_PER_MSEC,
    "us": NSEC_PER_USEC, "usec": NSEC_PER_USEC, "usecs": NSEC_PER_USEC,
    "ns": 1, "nsec": 1, "nsecs": 1,
}

# tc_util.c get_size: multiplier to bytes.
_SIZE_SUFFIX: dict[str, float] = {
    "": 1.0,
    "b": 1.0,
    "k": 1024.0, "kb": 1024.0,
    "m": 1024.0**2, "mb": 1024.0**2,
    "g": 1024.0**3, "gb": 1024.0**3,
    "kbit": 1024.0 / 8, "mbit": 1024.0**2 / 8, "gbit": 1024.0**3 / 8,
}


def _parse(text: str | int, table: dict[str, float] | dict[str, int], what: str) -> int:
    if isinstance(text, bool):
        raise ValueError(f"bad {what}: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{what} must be >= 0, got {text}")
        return text
    m = _NUMBER.match(text)
    if m is None:
        raise ValueError(f"bad {what}: {text!r}")
    scale = table.get(m.group(2).lower())
    if scale is None:
        raise ValueError(f"bad {what} unit {m.group(2)!r} in {text!r}")
    value = float(m.group(1)) * scale
    if not math.isfinite(value):
        raise ValueError(f"bad {what}: {text!r}")
    return round(value)


def parse_rate(text: str | int) -> int:
    """A tc rate ("100mbit", "1gbit", "10MBps", "8000") in bits per second."""
    return _parse(text, _RATE_SUFFIX, "rate")


def parse_time(text: str | int) -> int:
    """A tc time ("1ms", "50us", "2s", "100" = 100 us) in nanoseconds; ints are ns."""
    return _parse(text, _TIME_SUFFIX, "time")


def parse_size(text: str | int) -> int:
    """A tc size ("1514", "64kb", "1mbit") in bytes."""
    return _parse(text, _SIZE_SUFFIX, "size")
