"""Checking the control messages a script's ``recvmsg`` expects (packetdrill's
run_system_call.c: cmsg_new, cmsg_expect_eq, sock_ee_expect_eq,
scm_timestamping_expect_eq).

The expected list ``msg_control=[{cmsg_level=..., cmsg_type=..., cmsg_data=...}, ...]``
is compared in order with what the socket returned: same level, type and length
(CMSG_LEN of the expected data: an int, a struct sock_extended_err plus the
sockaddr_in ip_recv_error appends, or a struct scm_timestamping); a
sock_extended_err field by field; a timestamp (when the expected one is not zero)
within the tolerance of the expected script time mapped to live time.
"""

from __future__ import annotations

import struct

from tuxnet.packetdrill.ast import Expr
from tuxnet.packetdrill.symbols import SYMBOLS
from tuxnet.packetdrill.sysbase import Unsupported, expr_fields, expr_int

__all__ = ["check_cmsgs"]

_EE = struct.Struct("=IBBBBII")
_TS3 = struct.Struct("=qqqqqq")
_EE_FIELDS = ("ee_errno", "ee_origin", "ee_type", "ee_code", "ee_info", "ee_data")
_EE_NAMES = ("errno", "origin", "type", "code", "info", "data")
_SOL_SOCKET = SYMBOLS["SOL_SOCKET"]
_SOL_IP = SYMBOLS["SOL_IP"]
_IP_RECVERR = SYMBOLS["IP_RECVERR"]
_SCM_TIMESTAMPING = SYMBOLS["SCM_TIMESTAMPING"]
_SOCKADDR_IN = 16
_SOCKADDR_IN6 = 28


def _expected_len(level: int, data: Expr) -> int:
    """cmsg_new: the data length the script's cmsg_data stands for."""
    if data.kind in ("int", "word", "or"):
        return 4
    f = expr_fields(data)
    if "scm_sec" in f or "scm_nsec" in f:
        return _TS3.size
    if "ee_errno" in f:
        return _EE.size + (_SOCKADDR_IN if level == _SOL_IP else _SOCKADDR_IN6)
    raise Unsupported("unsupported: cmsg_data form")


def _check_ee(i: int, data: Expr, actual: bytes) -> str:
    f = expr_fields(data)
    got = _EE.unpack_from(actual)
    values = (got[0], got[1], got[2], got[3], got[5], got[6])
    for name, label, have in zip(_EE_FIELDS, _EE_NAMES, values, strict=True):
        want = expr_int(f[name]) & (0xFF if name in ("ee_origin", "ee_type", "ee_code")
                                    else 0xFFFFFFFF)
        if want != have:
            return f"Bad {label} in extended err {i}: expected={want} actual={have}"
    return ""


def _check_ts(i: int, data: Expr, actual: bytes, start_ns: int, tol_us: int) -> str:
    f = expr_fields(data)
    sec = expr_int(f["scm_sec"]) if "scm_sec" in f else 0
    nsec = expr_int(f["scm_nsec"]) if "scm_nsec" in f else 0
    if not sec and not nsec:
        return ""  # an expected zero stamp is not checked
    got = _TS3.unpack_from(actual)
    exp_us = sec * 1_000_000 + nsec // 1000
    act_us = (got[0] * 1_000_000_000 + got[1] - start_ns) // 1000
    if abs(exp_us - act_us) > tol_us:
        return (f"Bad timestamp 0 in scm_timestamping {i}: expected={exp_us} "
                f"actual={act_us} (script µs)")
    return ""


def check_cmsgs(expected: Expr | None, actual: list[tuple[int, int, bytes]],
                start_ns: int, tol_us: int) -> str:
    """cmsg_expect_eq(): "" when ``actual`` matches the script's msg_control."""
    items = expected.items if expected is not None else []
    for i, (exp, (level, ctype, data)) in enumerate(zip(items, actual, strict=False)):
        f = expr_fields(exp)
        want_level = expr_int(f["cmsg_level"])
        want_type = expr_int(f["cmsg_type"])
        if level != want_level:
            return f"Bad level in cmsg {i}: expected={want_level} actual={level}"
        if ctype != want_type:
            return f"Bad type in cmsg {i}: expected={want_type} actual={ctype}"
        edata = f["cmsg_data"]
        want_len = _expected_len(level, edata)
        if len(data) != want_len:
            return f"Bad len in cmsg {i}: expected={want_len} actual={len(data)}"
        if level == _SOL_IP and ctype == _IP_RECVERR:
            msg = _check_ee(i, edata, data)
        elif level == _SOL_SOCKET and ctype == _SCM_TIMESTAMPING:
            msg = _check_ts(i, edata, data, start_ns, tol_us)
        elif edata.kind in ("int", "word", "or"):
            want = expr_int(edata)
            have = int.from_bytes(data[:4], "little", signed=True)
            msg = "" if want == have else f"Bad data in cmsg {i}: expected={want} " \
                                          f"actual={have}"
        else:
            raise Unsupported("unsupported: cmsg_data form")
        if msg:
            return msg
    if len(actual) > len(items):
        return f"received more than {len(items)} cmsgs"
    if len(actual) < len(items):
        return f"received only {len(actual)} cmsgs"
    return ""
