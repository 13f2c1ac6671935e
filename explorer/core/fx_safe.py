"""torch.fx tracing that leaves other threads alone.

torch.fx traces by patching ``torch.nn.Module.__call__`` and ``__getattr__`` for the whole
process while it runs, so a network run on another thread meanwhile (the window's trace,
the live view) would go through the tracer and fail ("module is not installed as a
submodule"). Here a call from any other thread is the plain call it would have been, and
one trace runs at a time (two patchers unwinding out of order would leave a patch behind).
"""

from __future__ import annotations

import copy
import threading

from torch import fx, nn

#: one torch.fx trace at a time in this process
FX_LOCK = threading.Lock()


class ThreadTracer(fx.Tracer):
    """torch.fx's tracer, acting only on the thread that called :meth:`trace`."""

    def trace(self, root, concrete_args=None):
        self._thread = threading.get_ident()
        with FX_LOCK:
            return super().trace(root, concrete_args)

    def call_module(self, m, forward, args, kwargs):
        if threading.get_ident() != getattr(self, "_thread", None):
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if threading.get_ident() != getattr(self, "_thread", None):
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)


def symbolic_trace(module: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace`` with :class:`ThreadTracer`."""
    tracer = ThreadTracer()
    graph = tracer.trace(module)
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


def fuse(module: nn.Module, inplace: bool = False) -> nn.Module:
    """``torch.fx.experimental.optimization.fuse`` (batch norms folded into the
    convolutions before them), traced with :class:`ThreadTracer`."""
    from torch.fx.experimental.optimization import fuse as fx_fuse

    gm = symbolic_trace(module if inplace else copy.deepcopy(module))
    return fx_fuse(gm, inplace=True, no_trace=True)
