"""Counter names of /proc/net/snmp and /proc/net/netstat, in the kernel's order.

Each group is a slotted dataclass whose fields are the counters, declared in the order
net/ipv4/proc.c prints them (Linux 6.18; ``samples/proc_net_*_obs1.txt`` show that
order): ``snmp4_ipstats_list`` (Ip), ``snmp4_tcp_list`` (Tcp), ``snmp4_udp_list`` (Udp,
UdpLite), ``snmp4_net_list`` (TcpExt), ``snmp4_ipextstats_list`` (IpExt) and
net/mptcp/mib.c ``mptcp_snmp_list`` (MPTcpExt). Enum names: include/uapi/linux/snmp.h.
Icmp's per-type columns are not here: the kernel derives them from the IcmpMsg
per-type counters (``icmpmibmap`` in proc.c), and so does :mod:`tuxnet.mib`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, TypeVar


class MibGroup:
    """Shared behaviour of the counter groups: access by kernel name, listing."""

    __slots__ = ()
    NAMES: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, name: str) -> int:
        if name not in self.NAMES:
            raise KeyError(f"{type(self).__name__} has no counter {name!r}")
        value: int = getattr(self, name)
        return value

    def __setitem__(self, name: str, value: int) -> None:
        if name not in self.NAMES:
            raise KeyError(f"{type(self).__name__} has no counter {name!r}")
        setattr(self, name, value)

    def values(self) -> list[int]:
        """Counter values in /proc order."""
        return [getattr(self, n) for n in self.NAMES]

    def items(self) -> list[tuple[str, int]]:
        """(name, value) pairs in /proc order."""
        return [(n, getattr(self, n)) for n in self.NAMES]


_G = TypeVar("_G", bound=type[MibGroup])


def _names(cls: _G) -> _G:
    cls.NAMES = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return cls


@_names
@dataclass(slots=True)
class IpMib(MibGroup):
    """Ip: IPSTATS_MIB_* after Forwarding and DefaultTTL (net/ipv4/proc.c snmp4_ipstats_list)."""

    InReceives: int = 0
    InHdrErrors: int = 0
    InAddrErrors: int = 0
    ForwDatagrams: int = 0
    InUnknownProtos: int = 0
    InDiscards: int = 0
    InDelivers: int = 0
    OutRequests: int = 0
    OutDiscards: int = 0
    OutNoRoutes: int = 0
    ReasmTimeout: int = 0
    ReasmReqds: int = 0
    ReasmOKs: int = 0
    ReasmFails: int = 0
    FragOKs: int = 0
    FragFails: int = 0
    FragCreates: int = 0
    OutTransmits: int = 0  # IPSTATS_MIB_OUTPKTS (forwarded packets too)


@_names
@dataclass(slots=True)
class TcpMib(MibGroup):
    """Tcp: TCP_MIB_* (net/ipv4/proc.c snmp4_tcp_list); tcp_mib_init presets RFC 2012 values."""

    RtoAlgorithm: int = 1  # RFC 2012: other(1)
    RtoMin: int = 200  # TCP_RTO_MIN in ms
    RtoMax: int = 120000  # TCP_RTO_MAX in ms
    MaxConn: int = -1  # dynamic (-1)
    ActiveOpens: int = 0
    PassiveOpens: int = 0
    AttemptFails: int = 0
    EstabResets: int = 0
    CurrEstab: int = 0  # a gauge: +1 on entering ESTABLISHED, -1 on leaving
    InSegs: int = 0
    OutSegs: int = 0
    RetransSegs: int = 0
    InErrs: int = 0
    OutRsts: int = 0
    InCsumErrors: int = 0


@_names
@dataclass(slots=True)
class UdpMib(MibGroup):
    """Udp and UdpLite: UDP_MIB_* (net/ipv4/proc.c snmp4_udp_list)."""

    InDatagrams: int = 0
    NoPorts: int = 0
    InErrors: int = 0
    OutDatagrams: int = 0
    RcvbufErrors: int = 0
    SndbufErrors: int = 0
    InCsumErrors: int = 0
    IgnoredMulti: int = 0
    MemErrors: int = 0


@_names
@dataclass(slots=True)
class TcpExtMib(MibGroup):
    """TcpExt: LINUX_MIB_* (net/ipv4/proc.c snmp4_net_list)."""

    SyncookiesSent: int = 0
    SyncookiesRecv: int = 0
    SyncookiesFailed: int = 0
    EmbryonicRsts: int = 0
    PruneCalled: int = 0
    RcvPruned: int = 0
    OfoPruned: int = 0
    OutOfWindowIcmps: int = 0
    LockDroppedIcmps: int = 0
    ArpFilter: int = 0
    TW: int = 0
    TWRecycled: int = 0
    TWKilled: int = 0
    PAWSActive: int = 0
    PAWSEstab: int = 0
    BeyondWindow: int = 0
    TSEcrRejected: int = 0
    PAWSOldAck: int = 0
    PAWSTimewait: int = 0
    DelayedACKs: int = 0
    DelayedACKLocked: int = 0
    DelayedACKLost: int = 0
    ListenOverflows: int = 0
    ListenDrops: int = 0
    TCPHPHits: int = 0
    TCPPureAcks: int = 0
    TCPHPAcks: int = 0
    TCPRenoRecovery: int = 0
    TCPSackRecovery: int = 0
    TCPSACKReneging: int = 0
    TCPSACKReorder: int = 0
    TCPRenoReorder: int = 0
    TCPTSReorder: int = 0
    TCPFullUndo: int = 0
    TCPPartialUndo: int = 0
    TCPDSACKUndo: int = 0
    TCPLossUndo: int = 0
    TCPLostRetransmit: int = 0
    TCPRenoFailures: int = 0
    TCPSackFailures: int = 0
    TCPLossFailures: int = 0
    TCPFastRetrans: int = 0
    TCPSlowStartRetrans: int = 0
    TCPTimeouts: int = 0
    TCPLossProbes: int = 0
    TCPLossProbeRecovery: int = 0
    TCPRenoRecoveryFail: int = 0
    TCPSackRecoveryFail: int = 0
    TCPRcvCollapsed: int = 0
    TCPBacklogCoalesce: int = 0
    TCPDSACKOldSent: int = 0
    TCPDSACKOfoSent: int = 0
    TCPDSACKRecv: int = 0
    TCPDSACKOfoRecv: int = 0
    TCPAbortOnData: int = 0
    TCPAbortOnClose: int = 0
    TCPAbortOnMemory: int = 0
    TCPAbortOnTimeout: int = 0
    TCPAbortOnLinger: int = 0
    TCPAbortFailed: int = 0
    TCPMemoryPressures: int = 0
    TCPMemoryPressuresChrono: int = 0
    TCPSACKDiscard: int = 0
    TCPDSACKIgnoredOld: int = 0
    TCPDSACKIgnoredNoUndo: int = 0
    TCPSpuriousRTOs: int = 0
    TCPMD5NotFound: int = 0
    TCPMD5Unexpected: int = 0
    TCPMD5Failure: int = 0
    TCPSackShifted: int = 0
    TCPSackMerged: int = 0
    TCPSackShiftFallback: int = 0
    TCPBacklogDrop: int = 0
    PFMemallocDrop: int = 0
    TCPMinTTLDrop: int = 0
    TCPDeferAcceptDrop: int = 0
    IPReversePathFilter: int = 0
    TCPTimeWaitOverflow: int = 0
    TCPReqQFullDoCookies: int = 0
    TCPReqQFullDrop: int = 0
    TCPRetransFail: int = 0
    TCPRcvCoalesce: int = 0
    TCPOFOQueue: int = 0
    TCPOFODrop: int = 0
    TCPOFOMerge: int = 0
    TCPChallengeACK: int = 0
    TCPSYNChallenge: int = 0
    TCPFastOpenActive: int = 0
    TCPFastOpenActiveFail: int = 0
    TCPFastOpenPassive: int = 0
    TCPFastOpenPassiveFail: int = 0
    TCPFastOpenListenOverflow: int = 0
    TCPFastOpenCookieReqd: int = 0
    TCPFastOpenBlackhole: int = 0
    TCPSpuriousRtxHostQueues: int = 0
    BusyPollRxPackets: int = 0
    TCPAutoCorking: int = 0
    TCPFromZeroWindowAdv: int = 0
    TCPToZeroWindowAdv: int = 0
    TCPWantZeroWindowAdv: int = 0
    TCPSynRetrans: int = 0
    TCPOrigDataSent: int = 0
    TCPHystartTrainDetect: int = 0
    TCPHystartTrainCwnd: int = 0
    TCPHystartDelayDetect: int = 0
    TCPHystartDelayCwnd: int = 0
    TCPACKSkippedSynRecv: int = 0
    TCPACKSkippedPAWS: int = 0
    TCPACKSkippedSeq: int = 0
    TCPACKSkippedFinWait2: int = 0
    TCPACKSkippedTimeWait: int = 0
    TCPACKSkippedChallenge: int = 0
    TCPWinProbe: int = 0
    TCPKeepAlive: int = 0
    TCPMTUPFail: int = 0
    TCPMTUPSuccess: int = 0
    TCPDelivered: int = 0
    TCPDeliveredCE: int = 0
    TCPAckCompressed: int = 0
    TCPZeroWindowDrop: int = 0
    TCPRcvQDrop: int = 0
    TCPWqueueTooBig: int = 0
    TCPFastOpenPassiveAltKey: int = 0
    TcpTimeoutRehash: int = 0
    TcpDuplicateDataRehash: int = 0
    TCPDSACKRecvSegs: int = 0
    TCPDSACKIgnoredDubious: int = 0
    TCPMigrateReqSuccess: int = 0
    TCPMigrateReqFailure: int = 0
    TCPPLBRehash: int = 0
    TCPAORequired: int = 0
    TCPAOBad: int = 0
    TCPAOKeyNotFound: int = 0
    TCPAOGood: int = 0
    TCPAODroppedIcmps: int = 0


@_names
@dataclass(slots=True)
class IpExtMib(MibGroup):
    """IpExt: IPSTATS_MIB_* (net/ipv4/proc.c snmp4_ipextstats_list)."""

    InNoRoutes: int = 0
    InTruncatedPkts: int = 0
    InMcastPkts: int = 0
    OutMcastPkts: int = 0
    InBcastPkts: int = 0
    OutBcastPkts: int = 0
    InOctets: int = 0
    OutOctets: int = 0
    InMcastOctets: int = 0
    OutMcastOctets: int = 0
    InBcastOctets: int = 0
    OutBcastOctets: int = 0
    InCsumErrors: int = 0
    InNoECTPkts: int = 0
    InECT1Pkts: int = 0
    InECT0Pkts: int = 0
    InCEPkts: int = 0
    ReasmOverlaps: int = 0


@_names
@dataclass(slots=True)
class MPTcpExtMib(MibGroup):
    """MPTcpExt: MPTCP_MIB_* (net/mptcp/mib.c mptcp_snmp_list)."""

    MPCapableSYNRX: int = 0
    MPCapableSYNTX: int = 0
    MPCapableSYNACKRX: int = 0
    MPCapableACKRX: int = 0
    MPCapableFallbackACK: int = 0
    MPCapableFallbackSYNACK: int = 0
    MPCapableSYNTXDrop: int = 0
    MPCapableSYNTXDisabled: int = 0
    MPCapableEndpAttempt: int = 0
    MPFallbackTokenInit: int = 0
    MPTCPRetrans: int = 0
    MPJoinNoTokenFound: int = 0
    MPJoinSynRx: int = 0
    MPJoinSynBackupRx: int = 0
    MPJoinSynAckRx: int = 0
    MPJoinSynAckBackupRx: int = 0
    MPJoinSynAckHMacFailure: int = 0
    MPJoinAckRx: int = 0
    MPJoinAckHMacFailure: int = 0
    MPJoinRejected: int = 0
    MPJoinSynTx: int = 0
    MPJoinSynTxCreatSkErr: int = 0
    MPJoinSynTxBindErr: int = 0
    MPJoinSynTxConnectErr: int = 0
    DSSNotMatching: int = 0
    DSSCorruptionFallback: int = 0
    DSSCorruptionReset: int = 0
    InfiniteMapTx: int = 0
    InfiniteMapRx: int = 0
    DSSNoMatchTCP: int = 0
    DataCsumErr: int = 0
    OFOQueueTail: int = 0
    OFOQueue: int = 0
    OFOMerge: int = 0
    NoDSSInWindow: int = 0
    DuplicateData: int = 0
    AddAddr: int = 0
    AddAddrTx: int = 0
    AddAddrTxDrop: int = 0
    EchoAdd: int = 0
    EchoAddTx: int = 0
    EchoAddTxDrop: int = 0
    PortAdd: int = 0
    AddAddrDrop: int = 0
    MPJoinPortSynRx: int = 0
    MPJoinPortSynAckRx: int = 0
    MPJoinPortAckRx: int = 0
    MismatchPortSynRx: int = 0
    MismatchPortAckRx: int = 0
    RmAddr: int = 0
    RmAddrDrop: int = 0
    RmAddrTx: int = 0
    RmAddrTxDrop: int = 0
    RmSubflow: int = 0
    MPPrioTx: int = 0
    MPPrioRx: int = 0
    MPFailTx: int = 0
    MPFailRx: int = 0
    MPFastcloseTx: int = 0
    MPFastcloseRx: int = 0
    MPRstTx: int = 0
    MPRstRx: int = 0
    SubflowStale: int = 0
    SubflowRecover: int = 0
    SndWndShared: int = 0
    RcvWndShared: int = 0
    RcvWndConflictUpdate: int = 0
    RcvWndConflict: int = 0
    MPCurrEstab: int = 0
    Blackhole: int = 0
    MPCapableDataFallback: int = 0
    MD5SigFallback: int = 0
    DssFallback: int = 0
    SimultConnectFallback: int = 0
    FallbackFailed: int = 0
    WinProbe: int = 0


@_names
@dataclass(slots=True)
class IcmpMib(MibGroup):
    """Icmp: the ICMP_MIB_* counters (include/uapi/linux/snmp.h); per-type columns come
    from Mib.icmpmsg."""

    InMsgs: int = 0
    InErrors: int = 0
    InCsumErrors: int = 0
    OutMsgs: int = 0
    OutErrors: int = 0
    OutRateLimitGlobal: int = 0
    OutRateLimitHost: int = 0


# Icmp columns: ICMP_MIB_* around the per-type columns (net/ipv4/proc.c icmp_put)
ICMP_IN_HEAD = ("InMsgs", "InErrors", "InCsumErrors")
ICMP_OUT_HEAD = ("OutMsgs", "OutErrors", "OutRateLimitGlobal", "OutRateLimitHost")
# icmpmibmap: column name -> ICMP type (net/ipv4/proc.c)
ICMPMIBMAP: tuple[tuple[str, int], ...] = (
    ("DestUnreachs", 3), ("TimeExcds", 11), ("ParmProbs", 12), ("SrcQuenchs", 4),
    ("Redirects", 5), ("Echos", 8), ("EchoReps", 0), ("Timestamps", 13),
    ("TimestampReps", 14), ("AddrMasks", 17), ("AddrMaskReps", 18),
)
