"""BPF_MAP_TYPE_PROG_ARRAY (kernel/bpf/arraymap.c, the fd-array maps): the table
``bpf_tail_call`` jumps through.

Keys are u32 indexes, values program fds resolved by a hook the loader supplies
(``resolve(fd) -> Program | None``; EINVAL when it does not resolve). Updates take
only BPF_ANY (kernel: bpf_fd_array_map_update_elem), deleting an empty slot fails
with ENOENT, and user-space lookup returns the fd the slot was set with (the kernel
returns the program's id).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from tuxnet.bpf.maps.base import BPF_ANY, BPF_MAP_TYPE_PROG_ARRAY, BpfMap, err
from tuxnet.bpf.program import Program

_U32 = struct.Struct("<I")


class ProgArrayMap(BpfMap):
    map_type = BPF_MAP_TYPE_PROG_ARRAY
    type_name = "prog_array"

    def __init__(self, key_size: int, value_size: int, max_entries: int, map_flags: int = 0,
                 *, name: str = "", ncpus: int = 1,
                 resolve: Callable[[int], Program | None] | None = None) -> None:
        super().__init__(key_size, value_size, max_entries, map_flags, name=name, ncpus=ncpus)
        self.resolve = resolve
        self.slots: dict[int, tuple[int, Program]] = {}

    def check_attrs(self) -> None:
        super().check_attrs()
        if self.key_size != 4 or self.value_size != 4:
            raise err(errno.EINVAL, "prog_array: key_size and value_size must be 4")

    def _index(self, key: bytes) -> int:
        return int(_U32.unpack(self._key(key))[0])

    def program(self, index: int) -> Program | None:
        """The tail-call target at ``index`` (None: the tail call falls through)."""
        slot = self.slots.get(index)
        return None if slot is None else slot[1]

    def lookup(self, key: bytes) -> bytes | None:
        slot = self.slots.get(self._index(key))
        return None if slot is None else _U32.pack(slot[0])

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        if flags != BPF_ANY:
            raise err(errno.EINVAL, "prog_array updates take BPF_ANY only")
        i = self._index(key)
        fd = int(_U32.unpack(self._value(value))[0])
        if i >= self.max_entries:
            raise err(errno.E2BIG, f"index {i} >= max_entries {self.max_entries}")
        prog = self.resolve(fd) if self.resolve is not None else None
        if prog is None:
            raise err(errno.EINVAL, f"fd {fd} is not a program")
        self.slots[i] = (fd, prog)

    def set_program(self, index: int, prog: Program, fd: int = 0) -> None:
        """Fill a slot directly (what the loader does once it knows the program)."""
        if index >= self.max_entries:
            raise err(errno.E2BIG, f"index {index} >= max_entries {self.max_entries}")
        self.slots[index] = (fd, prog)

    def delete(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.max_entries:
            raise err(errno.E2BIG, f"index {i} >= max_entries {self.max_entries}")
        if self.slots.pop(i, None) is None:
            raise err(errno.ENOENT, f"slot {i} is empty")

    def get_next_key(self, key: bytes | None) -> bytes:
        i = self.max_entries if key is None else self._index(key)
        if i >= self.max_entries:
            return _U32.pack(0)
        if i == self.max_entries - 1:
            raise err(errno.ENOENT, "last key")
        return _U32.pack(i + 1)
