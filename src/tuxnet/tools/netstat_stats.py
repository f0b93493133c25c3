"""``netstat -s`` as net-tools 2.10 prints it (statistics.c: parsesnmp, process_fd,
newtable, printval) from the text of /proc/net/snmp and /proc/net/netstat.

Each "Title: names" / "Title: values" line pair is one section. A known section (Ip,
Icmp, Tcp, Udp, TcpExt) prints its title and looks every counter up in its table
with bsearch() and strcmp(); a hit prints the table's sentence (``number`` always,
``opt_number`` only when non-zero, the ICMP histogram entries under their heading
when non-zero; static entries and empty sentences never), a miss prints
``Name: value`` when non-zero. The tables are not in strcmp order everywhere, so some
counters that have a sentence are missed and print as ``Name: value`` (Forwarding,
TCPSackRecovery, TCPDSACKUndo ...): that is what netstat prints, and what the
binary search below reproduces. Unknown sections (IcmpMsg, UdpLite, IpExt, MPTcpExt)
print their title and their non-zero counters, indented as the previous line was.
"""

from __future__ import annotations

__all__ = ["netstat_s"]

# enum State and states[].indent
NUMBER, OPT_NUMBER, I_FORWARD, I_INP_ICMP, I_OUTP_ICMP, I_RTO_ALG = range(6)
I_STATIC = 1 << 16
I_TITLE = 1 << 17
_INDENT = {NUMBER: 4, OPT_NUMBER: 4, I_FORWARD: 4, I_INP_ICMP: 8, I_OUTP_ICMP: 8,
           I_RTO_ALG: 0}
_TITLES = {I_INP_ICMP: "ICMP input histogram:", I_OUTP_ICMP: "ICMP output histogram:"}
_N, _O = NUMBER, OPT_NUMBER
_IN, _OUT = I_INP_ICMP | I_TITLE, I_OUTP_ICMP | I_TITLE

# the tables in net-tools' array order (bsearch depends on it); %llu is the value
_IP = (
    ("DefaultTTL", "Default TTL is %llu", _N | I_STATIC),
    ("Forwarding", "Forwarding is %s", I_FORWARD | I_STATIC),
    ("ForwDatagrams", "%llu forwarded", _N),
    ("FragCreates", "%llu fragments created", _O),
    ("FragFails", "%llu outgoing packets failed fragmentation", _O),
    ("FragOKs", "%llu outgoing packets fragmented ok", _O),
    ("InAddrErrors", "%llu with invalid addresses", _O),
    ("InDelivers", "%llu incoming packets delivered", _N),
    ("InDiscards", "%llu incoming packets discarded", _N),
    ("InHdrErrors", "%llu with invalid headers", _O),
    ("InReceives", "%llu total packets received", _N),
    ("InUnknownProtos", "%llu with unknown protocol", _O),
    ("OutDiscards", "%llu outgoing packets dropped", _O),
    ("OutNoRoutes", "%llu dropped because of missing route", _O),
    ("OutRequests", "%llu requests sent out", _N),
    ("ReasmFails", "%llu packet reassemblies failed", _O),
    ("ReasmOKs", "%llu packets reassembled ok", _O),
    ("ReasmReqds", "%llu reassemblies required", _O),
    ("ReasmTimeout", "%llu fragments dropped after timeout", _O),
)
_ICMP = (
    ("InAddrMaskReps", "address mask replies: %llu", _IN),
    ("InAddrMasks", "address mask request: %llu", _IN),
    ("InDestUnreachs", "destination unreachable: %llu", _IN),
    ("InEchoReps", "echo replies: %llu", _IN),
    ("InEchos", "echo requests: %llu", _IN),
    ("InErrors", "%llu input ICMP message failed", _N),
    ("InMsgs", "%llu ICMP messages received", _N),
    ("InParmProbs", "wrong parameters: %llu", _IN),
    ("InRedirects", "redirects: %llu", _IN),
    ("InSrcQuenchs", "source quenches: %llu", _IN),
    ("InTimeExcds", "timeout in transit: %llu", _IN),
    ("InTimestampReps", "timestamp reply: %llu", _IN),
    ("InTimestamps", "timestamp request: %llu", _IN),
    ("OutAddrMaskReps", "address mask replies: %llu", _OUT),
    ("OutAddrMasks", "address mask requests: %llu", _OUT),
    ("OutDestUnreachs", "destination unreachable: %llu", _OUT),
    ("OutEchoReps", "echo replies: %llu", _OUT),
    ("OutEchos", "echo requests: %llu", _OUT),
    ("OutErrors", "%llu ICMP messages failed", _N),
    ("OutMsgs", "%llu ICMP messages sent", _N),
    ("OutParmProbs", "wrong parameters: %llu", _OUT),
    ("OutRedirects", "redirect: %llu", _OUT),
    ("OutSrcQuenchs", "source quench: %llu", _OUT),
    ("OutTimeExcds", "time exceeded: %llu", _OUT),
    ("OutTimestampReps", "timestamp replies: %llu", _OUT),
    ("OutTimestamps", "timestamp requests: %llu", _OUT),
)
_TCP = (
    ("ActiveOpens", "%llu active connection openings", _N),
    ("AttemptFails", "%llu failed connection attempts", _N),
    ("CurrEstab", "%llu connections established", _N),
    ("EstabResets", "%llu connection resets received", _N),
    ("InErrs", "%llu bad segments received", _N),
    ("InSegs", "%llu segments received", _N),
    ("MaxConn", "", _N),
    ("OutRsts", "%llu resets sent", _N),
    ("OutSegs", "%llu segments sent out", _N),
    ("PassiveOpens", "%llu passive connection openings", _N),
    ("RetransSegs", "%llu segments retransmitted", _N),
    ("RtoAlgorithm", "RTO algorithm is %s", I_RTO_ALG | I_STATIC),
    ("RtoMax", "", _N),
    ("RtoMin", "", _N),
)
_UDP = (
    ("InDatagrams", "%llu packets received", _N),
    ("InErrors", "%llu packet receive errors", _N),
    ("NoPorts", "%llu packets to unknown port received", _N),
    ("OutDatagrams", "%llu packets sent", _N),
    ("RcvbufErrors", "%llu receive buffer errors", _N),
    ("SndbufErrors", "%llu send buffer errors", _N),
)
_TCPEXT = (
    ("DelayedACKLocked", "%llu delayed acks further delayed because of locked socket", _O),
    ("DelayedACKLost", "Quick ack mode was activated %llu times", _O),
    ("DelayedACKs", "%llu delayed acks sent", _O),
    ("EmbryonicRsts", "%llu resets received for embryonic SYN_RECV sockets", _O),
    ("ListenDrops", "%llu SYNs to LISTEN sockets dropped", _O),
    ("ListenOverflows", "%llu times the listen queue of a socket overflowed", _O),
    ("LockDroppedIcmps", "%llu ICMP packets dropped because socket was locked", _O),
    ("OfoPruned", "%llu packets dropped from out-of-order queue because of socket buffer "
     "overrun", _O),
    ("OutOfWindowIcmps", "%llu ICMP packets dropped because they were out-of-window", _O),
    ("PAWSActive", "%llu active connections rejected because of time stamp", _O),
    ("PAWSEstab", "%llu packetes rejected in established connections because of timestamp",
     _O),
    ("PAWSPassive", "%llu passive connections rejected because of time stamp", _O),
    ("PruneCalled", "%llu packets pruned from receive queue because of socket buffer overrun",
     _O),
    ("RcvPruned", "%llu packets pruned from receive queue", _O),
    ("SockMallocOOM", "Ran %llu times out of system memory during packet sending", _O),
    ("SyncookiesFailed", "%llu invalid SYN cookies received", _O),
    ("SyncookiesRecv", "%llu SYN cookies received", _O),
    ("SyncookiesSent", "%llu SYN cookies sent", _O),
    ("TCPAbortFailed", "%llu times unable to send RST due to no memory", _O),
    ("TCPAbortOnClose", "%llu connections reset due to early user close", _O),
    ("TCPAbortOnData", "%llu connections reset due to unexpected data", _O),
    ("TCPAbortOnLinger", "%llu connections aborted after user close in linger timeout", _O),
    ("TCPAbortOnMemory", "%llu connections aborted due to memory pressure", _O),
    ("TCPAbortOnSyn", "%llu connections reset due to unexpected SYN", _O),
    ("TCPAbortOnTimeout", "%llu connections aborted due to timeout", _O),
    ("TCPDirectCopyFromBacklog", "%llu bytes directly in process context from backlog", _O),
    ("TCPDirectCopyFromPrequeue", "%llu bytes directly received in process context from "
     "prequeue", _O),
    ("TCPDSACKOfoRecv", "%llu DSACKs for out of order packets received", _O),
    ("TCPDSACKOfoSent", "%llu DSACKs sent for out of order packets", _O),
    ("TCPDSACKOldSent", "%llu DSACKs sent for old packets", _O),
    ("TCPDSACKRecv", "%llu DSACKs received", _O),
    ("TCPDSackUndo", "%llu congestion window recovered without slow start using DSACK", _O),
    ("TCPDSACKUndo", "%llu congestion windows recovered without slow start by DSACK", _O),
    ("TCPFACKReorder", "Detected reordering %llu times using FACK", _O),
    ("TCPFastRetrans", "%llu fast retransmits", _O),
    ("TCPForwardRetrans", "%llu forward retransmits", _O),
    ("TCPFullUndo", "%llu congestion windows fully recovered without slow start", _O),
    ("TCPHPAcks", "%llu predicted acknowledgments", _O),
    ("TCPHPHits", "%llu packet headers predicted", _N),
    ("TCPHPHitsToUser", "%llu packet headers predicted and directly queued to user", _O),
    ("TCPLossFailures", "%llu timeouts in loss state", _O),
    ("TCPLoss", "%llu TCP data loss events", _O),
    ("TCPLossUndo", "%llu congestion windows recovered without slow start after partial ack",
     _O),
    ("TCPLostRetransmits", "%llu retransmits lost", _O),
    ("TCPMemoryPressures", "TCP ran low on memory %llu times", _O),
    ("TCPPartialUndo", "%llu congestion windows partially recovered using Hoe heuristic", _O),
    ("TCPPrequeued", "%llu packets directly queued to recvmsg prequeue", _O),
    ("TCPPrequeueDropped", "%llu packets dropped from prequeue", _O),
    ("TCPPureAcks", "%llu acknowledgments not containing data payload received", _O),
    ("TCPRcvCollapsed", "%llu packets collapsed in receive queue due to low socket buffer",
     _O),
    ("TCPRenoFailures", "%llu timeouts after reno fast retransmit", _O),
    ("TCPRenoRecoveryFailed", "%llu reno fast retransmits failed", _O),
    ("TCPRenoRecoveryFail", "%llu classic Reno fast retransmits failed", _O),
    ("TCPRenoRecovery", "%llu times recovered from packet loss due to fast retransmit", _O),
    ("TCPRenoReorder", "Detected reordering %llu times using reno fast retransmit", _O),
    ("TCPSackFailures", "%llu timeouts after SACK recovery", _O),
    ("TCPSackRecoveryFail", "%llu SACK retransmits failed", _O),
    ("TCPSackRecovery", "%llu times recovered from packet loss by selective "
     "acknowledgements", _O),
    ("TCPSACKReneging", "%llu bad SACK blocks received", _O),
    ("TCPSACKReorder", "Detected reordering %llu times using SACK", _O),
    ("TCPSchedulerFailed", "%llu times receiver scheduled too late for direct processing",
     _O),
    ("TCPSlowStartRetrans", "%llu retransmits in slow start", _O),
    ("TCPTimeouts", "%llu other TCP timeouts", _O),
    ("TCPTSReorder", "Detected reordering %llu times using time stamp", _O),
    ("TWKilled", "%llu TCP sockets finished time wait in slow timer", _O),
    ("TW", "%llu TCP sockets finished time wait in fast timer", _O),
    ("TWRecycled", "%llu time wait sockets recycled by time stamp", _O),
)
# snmptabs[]: title -> (table, which -s filter flag shows it)
_TABS: dict[str, tuple[tuple[tuple[str, str, int], ...], str]] = {
    "Ip": (_IP, "raw"), "Icmp": (_ICMP, "raw"), "Tcp": (_TCP, "tcp"), "Udp": (_UDP, "udp"),
    "Sctp": ((), "sctp"), "TcpExt": (_TCPEXT, "tcp"),
}


def _bsearch(table: tuple[tuple[str, str, int], ...], key: str) -> tuple[str, str, int] | None:
    """glibc bsearch() with strcmp (byte order) over the table as it is laid out."""
    lo, hi = 0, len(table)
    kb = key.encode()
    while lo < hi:
        mid = (lo + hi) // 2
        tb = table[mid][0].encode()
        if kb < tb:
            hi = mid
        elif kb > tb:
            lo = mid + 1
        else:
            return table[mid]
    return None


class _Printer:
    """printval()'s state: the type of the last line (for indents and headings)."""

    def __init__(self, flags: dict[str, bool]) -> None:
        self.state = NUMBER
        self.flags = flags
        self.out: list[str] = []

    def newtable(self, title: str) -> tuple[tuple[tuple[str, str, int], ...], bool]:
        """newtable(): a known table resets the state; an unknown one does not."""
        known = _TABS.get(title)
        if known is not None:
            table, flag = known
            if self.flags.get(flag, False):
                self.out.append(f"{title}:\n")
            self.state = NUMBER
            return table, self.flags.get(flag, False)
        self.out.append(f"{title}:\n")  # f_unknown
        return (), True

    def printval(self, table: tuple[tuple[str, str, int], ...], title: str, val: int) -> None:
        ent = _bsearch(table, title) if table else None
        if ent is None:
            if val:
                self.out.append(f"{' ' * _INDENT[self.state]}{title}: {val}\n")
            return
        _name, fmt, typ = ent
        if typ & I_STATIC or not fmt:  # static entries only print with print_static
            return
        if typ & I_TITLE:
            typ &= ~I_TITLE
            if self.state != typ:
                self.out.append(f"{' ' * _INDENT[self.state]}{_TITLES[typ]}\n")
        text = ""
        if typ == NUMBER or (typ == OPT_NUMBER and val) or \
                (typ in (I_INP_ICMP, I_OUTP_ICMP) and val > 0):
            text = fmt.replace("%llu", str(val))
        if text:
            self.out.append(f"{' ' * _INDENT[typ]}{text}\n")
        self.state = typ


def _strtoull(text: str) -> int:
    """strtoull(): a negative number wraps to 64 bits."""
    v = int(text)
    return v & ((1 << 64) - 1)


def netstat_s(snmp: str, netstat: str, *, raw: bool = True, tcp: bool = True,
              udp: bool = True) -> str:
    """The text of ``netstat -s`` for /proc/net/snmp and /proc/net/netstat contents
    (``raw``/``tcp``/``udp``: netstat -s -w/-t/-u select sections; all by default)."""
    p = _Printer({"raw": raw, "tcp": tcp, "udp": udp, "sctp": True})
    for text in (snmp, netstat):
        lines = [ln for ln in text.split("\n") if ln]
        for names, values in zip(lines[0::2], lines[1::2], strict=False):
            title, _, rest = names.partition(":")
            table, show = p.newtable(title)
            vals = values.partition(":")[2].split()
            for name, v in zip(rest.split(), vals, strict=False):
                if show:
                    p.printval(table, name, _strtoull(v))
    return "".join(p.out)
