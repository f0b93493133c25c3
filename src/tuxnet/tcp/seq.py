"""32-bit sequence-number arithmetic (include/net/tcp.h: before, after, between).

Sequence numbers live in a 2**32 circle (RFC 9293 3.4): ``before(a, b)`` is true when
the signed 32-bit difference ``a - b`` is negative, so comparisons hold across the wrap
as long as the two numbers are less than 2**31 apart. At exactly 2**31 apart both
``before(a, b)`` and ``before(b, a)`` are true, as in the kernel.
"""

from __future__ import annotations

__all__ = ["SEQ_MASK", "after", "before", "between", "seq_add", "seq_diff", "seq_max",
           "seq_min"]

SEQ_MASK = 0xFFFFFFFF
_SIGN = 0x80000000


def before(seq1: int, seq2: int) -> bool:
    """before(): (s32)(seq1 - seq2) < 0."""
    return ((seq1 - seq2) & SEQ_MASK) >= _SIGN


def after(seq2: int, seq1: int) -> bool:
    """after(seq2, seq1): before(seq1, seq2)."""
    return ((seq1 - seq2) & SEQ_MASK) >= _SIGN


def between(seq1: int, seq2: int, seq3: int) -> bool:
    """between(): is seq2 <= seq1 <= seq3 (all modulo 2**32)?"""
    return ((seq3 - seq2) & SEQ_MASK) >= ((seq1 - seq2) & SEQ_MASK)


def seq_add(seq: int, n: int) -> int:
    """seq + n modulo 2**32."""
    return (seq + n) & SEQ_MASK


def seq_diff(seq1: int, seq2: int) -> int:
    """(s32)(seq1 - seq2): the signed distance from seq2 to seq1."""
    d = (seq1 - seq2) & SEQ_MASK
    return d - 0x100000000 if d >= _SIGN else d


def seq_max(seq1: int, seq2: int) -> int:
    """The later of two sequence numbers."""
    return seq2 if before(seq1, seq2) else seq1


def seq_min(seq1: int, seq2: int) -> int:
    """The earlier of two sequence numbers."""
    return seq1 if before(seq1, seq2) else seq2
