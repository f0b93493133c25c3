"""Typed parse errors of the wire layer; each names the Linux drop reason it maps to.

A parser never lets IndexError, struct.error or ValueError escape on malformed input:
it raises one of these, and the caller drops the packet with ``err.reason``
(``kfree_skb(skb, err.reason)``) and, when set, bumps the SNMP counter ``err.mib``.
"""

from __future__ import annotations

from tuxnet.dropreason import SkbDropReason

__all__ = ["ChecksumError", "MalformedError", "TruncatedError", "WireError"]


class WireError(Exception):
    """A frame the wire layer refuses; ``reason`` is the SKB_DROP_REASON_* to drop with."""

    default_reason = SkbDropReason.NOT_SPECIFIED
    reason: SkbDropReason
    mib: str | None

    def __init__(
        self,
        message: str,
        reason: SkbDropReason | None = None,
        mib: str | None = None,
    ) -> None:
        self.reason = self.default_reason if reason is None else reason
        self.mib = mib
        super().__init__(f"{message} [{self.reason.kernel_name}]")


class TruncatedError(WireError):
    """The buffer ends before a header (or a length field's promise) does."""

    default_reason = SkbDropReason.PKT_TOO_SMALL


class MalformedError(WireError):
    """A header field is impossible: bad version, IHL, data offset, length, option."""

    default_reason = SkbDropReason.IP_INHDR


class ChecksumError(WireError):
    """The Internet checksum of a header or segment does not verify."""

    default_reason = SkbDropReason.SKB_CSUM
