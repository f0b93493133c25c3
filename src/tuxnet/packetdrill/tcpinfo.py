"""``%{ ... }%`` code blocks evaluated against TCP_INFO snapshots (packetdrill's
code.c).

packetdrill records getsockopt(TCP_INFO) at each block's time and runs all blocks in
one python3 file at the end, the recorded values emitted as globals before each
snippet; here each snippet runs at its time in one persistent namespace (the same
semantics, earlier failure). Fields tuxnet's tcp_get_info does not keep are reported
as 0, as tcp_info_bytes does.
"""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = ["TCPI_CONSTANTS", "TCPI_FIELDS", "CodeError", "run_code"]

# code.c: the struct tcp_info fields emitted (uapi/linux/tcp.h)
TCPI_FIELDS = [
    "state", "ca_state", "retransmits", "probes", "backoff", "options", "snd_wscale",
    "rcv_wscale", "delivery_rate_app_limited", "rto", "ato", "snd_mss", "rcv_mss",
    "unacked", "sacked", "lost", "retrans", "fackets", "last_data_sent",
    "last_ack_sent", "last_data_recv", "last_ack_recv", "pmtu", "rcv_ssthresh", "rtt",
    "rttvar", "snd_ssthresh", "snd_cwnd", "advmss", "reordering", "rcv_rtt",
    "rcv_space", "total_retrans", "pacing_rate", "max_pacing_rate", "bytes_acked",
    "bytes_received", "segs_out", "segs_in", "notsent_bytes", "min_rtt", "data_segs_in",
    "data_segs_out", "delivery_rate", "busy_time", "rwnd_limited", "sndbuf_limited",
    "delivered", "delivered_ce", "bytes_sent", "bytes_retrans", "dsack_dups",
    "reord_seen", "rcv_ooopack", "snd_wnd", "rcv_wnd", "rehash", "total_rto",
    "total_rto_recoveries", "total_rto_time",
]

# code.c: the constants a snippet may use (include/net/tcp_states.h, uapi/linux/tcp.h)
TCPI_CONSTANTS: dict[str, int] = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11,
    "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4,
    "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4,
    "TCPI_OPT_ECN": 8, "TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32,
    "TCPI_OPT_USEC_TS": 64, "TCPI_OPT_TFO_CHILD": 128,
}


class CodeError(Exception):
    """A snippet that failed (an assertion or any Python error), with its message."""


def run_code(code: str, info: dict[str, int] | None, namespace: dict[str, Any]) -> None:
    """Emit the snapshot's ``tcpi_*`` globals into ``namespace`` and run ``code``."""
    namespace.update(TCPI_CONSTANTS)
    for name in TCPI_FIELDS:
        key = f"tcpi_{name}"
        namespace[key] = (info or {}).get(key, 0)
    text = code.replace("\\\n", " ")
    lines = text.split("\n")
    if len(lines) > 1:  # the first line was trimmed; dedent the rest together with it
        text = lines[0] + "\n" + textwrap.dedent("\n".join(lines[1:]))
    try:
        compiled = compile(text, "<packetdrill code>", "exec")
    except SyntaxError as e:
        try:
            compiled = compile(textwrap.dedent(code), "<packetdrill code>", "exec")
        except SyntaxError:
            raise CodeError(f"python syntax error: {e.msg}") from None
    try:
        exec(compiled, namespace)  # the script's own assertion code, as packetdrill runs it
    except AssertionError as e:
        raise CodeError(f"AssertionError: {e}") from None
    except Exception as e:  # any error of the snippet fails the script, never the tool
        raise CodeError(f"{type(e).__name__}: {e}") from None
