"""``ss -ti`` formatting (tuxnet.tools.ss_fmt) against real iproute2 output captured on
Linux (reference samples): the TCP_INFO behind each real line is rebuilt and formatted,
and must give the line byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

from tuxnet.tools.ss_fmt import sprint_bw, ss_line, tcp_info_text

# the info of the bulk cubic sender in samples/ss_-tin_veth_cubic_sender.txt (ss -tin)
CUBIC_SENDER = {
    "tcpi_options": 7, "tcpi_snd_wscale": 10, "tcpi_rcv_wscale": 10, "tcpi_rto": 208000,
    "tcpi_rtt": 4575, "tcpi_rttvar": 511, "tcpi_snd_mss": 1448, "tcpi_pmtu": 1500,
    "tcpi_rcv_mss": 536, "tcpi_advmss": 1448, "tcpi_snd_cwnd": 130, "tcpi_snd_ssthresh": 33,
    "tcpi_bytes_sent": 59945789, "tcpi_bytes_acked": 59838638, "tcpi_segs_out": 41402,
    "tcpi_segs_in": 19639, "tcpi_data_segs_out": 41400, "tcpi_last_data_sent": 4,
    "tcpi_last_data_recv": 2504, "tcpi_pacing_rate": 394995408 // 8,
    "tcpi_max_pacing_rate": (1 << 64) - 1, "tcpi_delivery_rate": 157229640 // 8,
    "tcpi_delivered": 41327, "tcpi_busy_time": 2500412, "tcpi_unacked": 74,
    "tcpi_reordering": 3, "tcpi_rcv_space": 14480, "tcpi_rcv_ssthresh": 64088,
    "tcpi_notsent_bytes": 473496, "tcpi_min_rtt": 11, "tcpi_snd_wnd": 1592320,
}

# the idle bbr client in samples/ss_-tiO_loopback_bulk.txt (ss -tiO: rates with suffixes)
BBR_IDLE = {
    "tcpi_options": 7, "tcpi_snd_wscale": 10, "tcpi_rcv_wscale": 10, "tcpi_rto": 204000,
    "tcpi_rtt": 30, "tcpi_rttvar": 15, "tcpi_ato": 40000, "tcpi_snd_mss": 32768,
    "tcpi_pmtu": 65535, "tcpi_rcv_mss": 536, "tcpi_advmss": 65483, "tcpi_snd_cwnd": 13,
    "tcpi_snd_ssthresh": 0x7FFFFFFF, "tcpi_bytes_sent": 164, "tcpi_bytes_acked": 165,
    "tcpi_bytes_received": 4, "tcpi_segs_out": 8, "tcpi_segs_in": 7, "tcpi_data_segs_out": 3,
    "tcpi_data_segs_in": 4, "bbr_bw": 21845328120 // 8, "bbr_min_rtt": 12,
    "bbr_pacing_gain": 739, "bbr_cwnd_gain": 739, "tcpi_last_data_sent": 2024,
    "tcpi_last_data_recv": 2020, "tcpi_last_ack_recv": 2020,
    "tcpi_pacing_rate": 241468168304 // 8, "tcpi_delivery_rate": 21845333328 // 8,
    "tcpi_delivered": 4, "tcpi_delivery_rate_app_limited": 1, "tcpi_reordering": 3,
    "tcpi_rcv_space": 65495, "tcpi_rcv_ssthresh": 65495, "tcpi_min_rtt": 12,
    "tcpi_snd_wnd": 65536,
}


def _sample_info_line(path: Path, marker: str) -> str:
    """The info line of ``ss -tin`` containing ``marker``, without its TAB and the
    padding ss adds to the end."""
    for line in path.read_text().splitlines():
        if marker in line:
            assert line.startswith("\t")
            return line[1:].rstrip()
    raise AssertionError(f"{marker!r} not in {path}")


def test_cubic_sender_line_matches_ss(reference_dir: Path) -> None:
    want = _sample_info_line(reference_dir / "samples/ss_-tin_veth_cubic_sender.txt",
                             "bytes_sent:59945789")
    assert tcp_info_text(CUBIC_SENDER, "cubic", numeric=True) == want


def test_bbr_line_with_rate_suffixes_matches_ss(reference_dir: Path) -> None:
    text = (reference_dir / "samples/ss_-tiO_loopback_bulk.txt").read_text()
    line = next(ln for ln in text.splitlines() if "bytes_sent:164 " in ln)
    want = " bbr " + line.split(" bbr ", 1)[1].rstrip()
    assert tcp_info_text(BBR_IDLE, "bbr", numeric=False) == want


def test_sprint_bw() -> None:
    assert sprint_bw(331_200_000, False) == "331M"
    assert sprint_bw(999.0, False) == "999"
    assert sprint_bw(21_845_328_120, False) == "21.8G"
    assert sprint_bw(1.5e12, False) == "1.5T"
    assert sprint_bw(329162841.5, True) == "329162842"


def test_fields_ss_hides() -> None:
    # rto 3 s (the fallback), ssthresh >= 0xFFFF, reordering 3, ~0 rates and min_rtt
    info = {"tcpi_rto": 3_000_000, "tcpi_snd_ssthresh": 0xFFFF, "tcpi_reordering": 3,
            "tcpi_pacing_rate": (1 << 64) - 1, "tcpi_min_rtt": 0xFFFFFFFF, "tcpi_sacked": 2}
    assert tcp_info_text(info, "reno") == " reno sacked:2"
    assert tcp_info_text(info, "reno", state=10) == " reno"  # no sacked: on a listener
    assert tcp_info_text({"tcpi_reordering": 5, "tcpi_options": 3}, "",
                         show_options=True) == " ts sack reordering:5"
    busy = {"tcpi_busy_time": 2_000_000, "tcpi_rwnd_limited": 8000, "tcpi_reordering": 3}
    assert tcp_info_text(busy) == " busy:2000ms rwnd_limited:8ms(0.4%)"


def test_ss_line_of_a_live_socket() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tcp"))
    from _tcpwire import Wire, pair

    w = Wire()
    c, _s, lst = pair(w)
    text = ss_line(c)
    head, info = text.split("\n")
    assert re.fullmatch(r"ESTAB 0      0      10\.0\.0\.1:\d+ 10\.0\.0\.2:8080", head)
    assert info.startswith("\t cubic wscale:10,10 rto:")
    assert " rcv_space:14480 rcv_ssthresh:64088 " in info  # as Linux shows an idle socket
    assert ss_line(lst).startswith("LISTEN 0      128    0.0.0.0:8080 0.0.0.0:*")
