"""packetdrill for tuxnet: an interpreter of packetdrill scripts that drives a fresh
tuxnet host per script in virtual time.

Modules: :mod:`.lexer` and :mod:`.parser` (the script language into :mod:`.ast`),
:mod:`.runner` (the event driver: timing, ISN/port/TS mapping), :mod:`.packet`
(building inbound packets, parsing outbound ones), :mod:`.matcher` (``>`` line checks
with TSO aggregation), :mod:`.syscalls` (script calls on tuxnet sockets; fd table in
:mod:`.sysbase`, poll/epoll in :mod:`.syspoll`),
:mod:`.tcpinfo` (``%{ }%`` blocks over TCP_INFO), :mod:`.shell` (defaults.sh, sysctl
and friends emulated on the host), :mod:`.symbols`, :mod:`.tun` (tun0 and the host).
"""

from tuxnet.packetdrill.runner import ScriptResult, run_script, run_text

__all__ = ["ScriptResult", "run_script", "run_text"]
