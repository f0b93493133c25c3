"""``bpftool map dump`` text output (tools/bpf/bpftool/map.c: print_entry_plain, and
json_writer's fprint_hex), for maps without BTF::

    key: 00 00 00 00  value: 01 00 00 00
    key: 01 00 00 00  value: 00 00 00 00
    Found 2 elements

Keys and values over 16 bytes go on their own lines ("key:" then the bytes); per-CPU
maps print ``value (CPU 00): ...`` per CPU. Bytes are separated by one space, two after
every eighth byte, and a new line after every sixteenth.
"""

from __future__ import annotations

import os

from tuxnet.bpf.maps.base import BpfMap, round_up


def fprint_hex(data: bytes) -> str:
    out = []
    for i, b in enumerate(data):
        if i and i % 16 == 0:
            out.append("\n")
        elif i and i % 8 == 0:
            out.append("  ")
        elif i:
            out.append(" ")
        out.append(f"{b:02x}")
    return "".join(out)


def _entry(m: BpfMap, key: bytes, value: bytes | None) -> str:
    if not m.percpu:
        break_names = m.key_size > 16 or m.value_size > 16
        single_line = m.key_size + m.value_size <= 24 and not break_names
        text = "key:" + ("\n" if break_names else " ") + fprint_hex(key)
        text += "  " if single_line else "\n"
        text += "value:" + ("\n" if break_names else " ")
        text += fprint_hex(value[:m.value_size]) if value is not None else "<no entry>"
        return text + "\n"
    step = round_up(m.value_size, 8)
    text = "key:\n" + fprint_hex(key) + "\n"
    for cpu in range(m.ncpus):
        text += f"value (CPU {cpu:02d}):" + ("\n" if m.value_size > 16 else " ")
        if value is None:
            text += "<no entry>"
        else:
            text += fprint_hex(value[cpu * step:cpu * step + m.value_size])
        text += "\n"
    return text


def format_map_dump(m: BpfMap) -> str:
    """The text ``bpftool map dump`` prints for ``m``."""
    parts = []
    count = 0
    keys = m.keys()
    for key in keys:
        try:
            value = m.lookup(key)
        except OSError as e:  # map.c: print_entry_error
            parts.append(f"key:\n{fprint_hex(key)}\nvalue:\n{os.strerror(e.errno or 0)}\n")
            continue
        if value is None:  # ENOENT: bpftool skips the key
            continue
        parts.append(_entry(m, key, value))
        count += 1
    parts.append(f"Found {count} element{'' if count == 1 else 's'}\n")
    return "".join(parts)
