"""The translator: eBPF programs as Python functions (the fast engine).

``make_engine(prog, kind="translate"|"interp")`` picks an engine; :class:`Translator`
is the default. Modules: ``cfg`` (functions, blocks, post-dominators, bounds),
``liveness``, ``absval`` (what is known of each register), ``codegen`` and ``memgen``
(one instruction), ``structure`` (blocks to nested ifs or a dispatch loop), ``glue``
(source, namespace, load-time checks), ``machine`` (the engine, hand-over to the
interpreter).
"""

from tuxnet.bpf.translate.glue import TranslateUnsupported
from tuxnet.bpf.translate.machine import KINDS, Translator, make_engine

__all__ = ["KINDS", "TranslateUnsupported", "Translator", "make_engine"]
