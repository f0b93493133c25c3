"""The event-loop contract: one stack, two clocks.

``SimLoop`` runs virtual time (int nanoseconds, deterministic); ``RealLoop`` runs the
same timers on the monotonic clock with file-descriptor readiness through
``selectors``. The stack only ever calls ``now_ns``/``call_at``/``call_later``/
``call_soon`` and cancels handles, so it cannot tell which clock it runs on.
"""

from tuxnet.loop.base import EventLoop, TimerHandle
from tuxnet.loop.real import RealLoop
from tuxnet.loop.sim import SimLoop
from tuxnet.loop.soon import SoonOnce

__all__ = ["EventLoop", "RealLoop", "SimLoop", "SoonOnce", "TimerHandle"]
