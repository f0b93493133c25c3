"""enum skb_drop_reason numbering: Linux 6.18's include/net/dropreason-core.h."""

from tuxnet.dropreason import SkbDropReason as R


def test_values_follow_linux_6_18_order() -> None:
    # Spot values across the list (SKB_NOT_DROPPED_YET = 0, SKB_CONSUMED = 1, then
    # DEFINE_DROP_REASON in order); a missing or misplaced entry shifts them.
    assert (R.NOT_SPECIFIED, R.NO_SOCKET, R.SOCKET_CLOSE, R.PKT_TOO_SMALL, R.TCP_CSUM) == (
        2, 3, 4, 9, 10)
    assert (R.TCP_RFC7323_PAWS, R.TCP_RFC7323_PAWS_ACK, R.TCP_RFC7323_TW_PAWS,
            R.TCP_RFC7323_TSECR, R.TCP_LISTEN_OVERFLOW, R.TCP_OLD_SEQUENCE) == (
        36, 37, 38, 39, 40, 41)
    assert (R.TCP_INVALID_END_SEQUENCE, R.TCP_INVALID_ACK_SEQUENCE, R.TCP_RESET) == (43, 44, 45)
    assert (R.NEIGH_HH_FILLFAIL, R.QDISC_DROP, R.CPU_BACKLOG, R.XDP) == (61, 64, 71, 72)
    assert (R.TC_RECLASSIFY_LOOP, R.DUALPI2_STEP_DROP, R.PSP_INPUT, R.PSP_OUTPUT) == (
        108, 124, 125, 126)
    assert max(R) == R.PSP_OUTPUT and len(R) == 127  # SKB_DROP_REASON_MAX would be 127


def test_names() -> None:
    assert str(R.CONSUMED) == "SKB_CONSUMED"
    assert str(R.TCP_RFC7323_TSECR) == "SKB_DROP_REASON_TCP_RFC7323_TSECR"
    assert R.TCP_LISTEN_OVERFLOW.name == "TCP_LISTEN_OVERFLOW"  # skb:kfree_skb's bare name
