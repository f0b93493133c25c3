"""Live mode: one tuxnet host in real time on a TAP device, talking to the real kernel
(``tuxnet live``). :mod:`tuxnet.live.runner` builds and runs it;
:mod:`tuxnet.live.services` holds the applications it can serve (``--serve``)."""

from tuxnet.live import http_service as _http_service  # noqa: F401  (registers http)
from tuxnet.live import tcp_services as _tcp_services  # noqa: F401  (registers services)
from tuxnet.live.runner import LiveConfig, LiveError, LiveStack, run_live
from tuxnet.live.services import SERVICES, register_service

__all__ = ["SERVICES", "LiveConfig", "LiveError", "LiveStack", "register_service", "run_live"]
