"""Module parameters of the congestion-control modules, per host, as Linux shows them
under ``/sys/module/MODULE/parameters/NAME`` (kernel/params.c: module_param with its
permission; a 0444 parameter is read-only, writing it is EACCES/EPERM-like).

A module's parameters are declared once (:func:`declare`) with their defaults and
modes; each host gets its own copy on first use, like a kernel that loaded the module.
Values that a module precomputes at load time from its parameters (CUBIC's
beta_scale, cube_rtt_scale, cube_factor) are computed by the module's ``on_load``
callback into the same store and are not files.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["ModParams", "declare", "module_params", "read_param", "sys_module_paths",
           "write_param"]

_DECLS: dict[str, tuple[dict[str, tuple[int, int]], Callable[[ModParams], None] | None]] = {}


class ModParams(dict[str, int]):
    """One host's parameter values of one module (plus its load-time constants in
    ``consts``)."""

    def __init__(self, module: str, values: dict[str, int]) -> None:
        super().__init__(values)
        self.module = module
        self.consts: dict[str, int] = {}


def declare(module: str, params: dict[str, tuple[int, int]],
            on_load: Callable[[ModParams], None] | None = None) -> None:
    """Declare ``module``'s parameters: name -> (default, mode)."""
    _DECLS[module] = (params, on_load)


def module_params(host: Host, module: str) -> ModParams:
    """The host's parameters of ``module`` (created with the defaults on first use)."""
    store: dict[str, ModParams] | None = getattr(host, "_modparams", None)
    if store is None:
        store = {}
        setattr(host, "_modparams", store)  # noqa: B010 - Host has no typed slot for it
    mp = store.get(module)
    if mp is None:
        if module not in _DECLS:
            from tuxnet.tcp.cong import tcp_ca_find

            tcp_ca_find("reno")  # load the built-in algorithms (they declare theirs)
        params, on_load = _DECLS[module]
        mp = ModParams(module, {k: v for k, (v, _mode) in params.items()})
        if on_load is not None:
            on_load(mp)
        store[module] = mp
    return mp


def _parse(path: str) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    if len(parts) != 5 or parts[:2] != ["sys", "module"] or parts[3] != "parameters" or \
            parts[2] not in _DECLS or parts[4] not in _DECLS[parts[2]][0]:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    return parts[2], parts[4]


def read_param(host: Host, path: str) -> str:
    """cat /sys/module/M/parameters/P: the value and a newline (param_get_int)."""
    module, name = _parse(path)
    return f"{module_params(host, module)[name]}\n"


def write_param(host: Host, path: str, text: str) -> None:
    """echo V > /sys/module/M/parameters/P (param_set_int): EACCES for a 0444
    parameter, EINVAL for a value that is not an int."""
    module, name = _parse(path)
    mode = _DECLS[module][0][name][1]
    if not mode & 0o200:
        raise PermissionError(errno.EACCES, "Permission denied", path)
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise OSError(errno.EINVAL, "Invalid argument", path) from None
    if not -(1 << 31) <= value < (1 << 31):
        raise OSError(errno.EINVAL, "Invalid argument", path)
    module_params(host, module)[name] = value


def sys_module_paths() -> list[str]:
    """Every declared parameter file."""
    return [f"/sys/module/{m}/parameters/{p}" for m, (ps, _) in sorted(_DECLS.items())
            for p in ps]
