"""Buffer type aliases shared by the wire modules (what an sk_buff's data can be)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeAlias, cast

__all__ = ["Buffer", "WBuffer", "unpack1", "unpack2"]

# a header view reads any of these without copying
Buffer: TypeAlias = bytes | bytearray | memoryview
# emitters and setters need a writable one
WBuffer: TypeAlias = bytearray | memoryview


def unpack1(fmt: str) -> Callable[[Buffer, int], tuple[int]]:
    """A typed ``Struct(fmt).unpack_from`` for a format holding one integer."""
    return cast("Callable[[Buffer, int], tuple[int]]", struct.Struct(fmt).unpack_from)


def unpack2(fmt: str) -> Callable[[Buffer, int], tuple[int, int]]:
    """A typed ``Struct(fmt).unpack_from`` for a format holding two integers."""
    return cast("Callable[[Buffer, int], tuple[int, int]]", struct.Struct(fmt).unpack_from)
