"""Sequence-number arithmetic across the 2**32 wrap, and the windowed min filter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tuxnet.tcp.seq import after, before, between, seq_add, seq_diff, seq_max, seq_min
from tuxnet.tcp.sock import Minmax

u32 = st.integers(0, 0xFFFFFFFF)


def test_before_after_simple() -> None:
    assert before(1, 2) and not before(2, 1) and not before(5, 5)
    assert after(2, 1) and not after(1, 2) and not after(5, 5)


def test_wraparound() -> None:
    assert before(0xFFFFFFF0, 0x10)  # 0x10 is 32 past the wrap
    assert after(0x10, 0xFFFFFFF0)
    assert between(0, 0xFFFFFFF0, 0x10)
    assert not between(0x20, 0xFFFFFFF0, 0x10)
    assert seq_add(0xFFFFFFFF, 2) == 1
    assert seq_diff(1, 0xFFFFFFFF) == 2
    assert seq_diff(0xFFFFFFFF, 1) == -2
    assert seq_max(0xFFFFFFF0, 0x10) == 0x10
    assert seq_min(0xFFFFFFF0, 0x10) == 0xFFFFFFF0


def test_half_space_is_before_both_ways() -> None:
    # (s32)(a - b) == INT_MIN is negative both ways, as in the kernel
    assert before(0, 0x80000000) and before(0x80000000, 0)


@given(u32, st.integers(1, 0x7FFFFFFF))
def test_before_after_antisymmetric(a: int, d: int) -> None:
    b = seq_add(a, d)
    assert before(a, b) and after(b, a)
    assert not before(b, a) and not after(a, b)
    assert seq_diff(b, a) == d


@given(u32, st.integers(0, 0x7FFFFFFF), st.integers(0, 0x7FFFFFFF))
def test_between(lo: int, x: int, width: int) -> None:
    hi = seq_add(lo, width)
    assert between(seq_add(lo, x), lo, hi) == (x <= width)


def test_minmax_window() -> None:
    m = Minmax(0, 0xFFFFFFFF)
    assert m.running_min(100, 0, 50) == 50
    assert m.running_min(100, 10, 70) == 50
    assert m.running_min(100, 20, 40) == 40
    # 40 ages out of the 100-tick window; a later, larger sample takes over
    assert m.running_min(100, 150, 90) == 90
