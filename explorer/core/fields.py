"""Receptive fields, found by watching one forward pass.

Every tensor that descends from the input carries a :class:`Field`: the size of the
input window one of its units sees, the distance in input pixels between neighbouring
units (the jump), and where unit 0's window is centred. Convolutions, pooling and
upsampling change the field; element-wise ops, concatenation and additions (ResNet's
shortcut, Inception's branches) keep the widest field of their inputs; flattening or a
global pooling makes a unit see the whole input. A ``TorchFunctionMode`` sees every
torch call, so graphs that are not plain stacks (ResNet, Inception, U-Net) work without
knowing their code.

For a convolution with kernel k, stride s, padding p and dilation d::

    rf_out = rf_in + d (k - 1) jump_in      jump_out = jump_in s
    start_out = start_in + (d (k - 1) / 2 - p) jump_in
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode


@dataclass(frozen=True)
class Field:
    """Receptive field of a tensor's units along (H, W), in input pixels."""

    rf: tuple[float, float]
    jump: tuple[float, float]
    start: tuple[float, float]
    whole: bool = False  # sees the whole input (after flatten, linear, global pooling)

    @staticmethod
    def input() -> Field:
        return Field((1.0, 1.0), (1.0, 1.0), (0.0, 0.0))

    def through(self, k, s, p, d) -> Field:
        if self.whole:
            return self
        return Field(
            tuple(r + dd * (kk - 1) * j for r, kk, dd, j in zip(self.rf, k, d, self.jump)),
            tuple(j * ss for j, ss in zip(self.jump, s)),
            tuple(st + (dd * (kk - 1) / 2 - pp) * j
                  for st, kk, dd, pp, j in zip(self.start, k, d, p, self.jump)),
        )

    def upsampled(self, scale: tuple[float, float], extra: tuple[float, float],
                  offset: tuple[float, float] = (0.0, 0.0)) -> Field:
        """Upsampling by `scale`: each output unit mixes `extra` more input units."""
        if self.whole:
            return self
        return Field(
            tuple(r + e * j for r, e, j in zip(self.rf, extra, self.jump)),
            tuple(j / sc for j, sc in zip(self.jump, scale)),
            tuple(st + o * j for st, o, j in zip(self.start, offset, self.jump)),
        )

    def whole_input(self) -> Field:
        return Field(self.rf, self.jump, self.start, whole=True)


def _pair(v, default=None) -> tuple:
    if v is None:
        v = default
    if isinstance(v, (list, tuple)):
        return (v[0], v[0]) if len(v) == 1 else tuple(v[:2])
    return (v, v)


def _arg(args, kwargs, i, name, default=None):
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


class _Active(threading.local):
    def __init__(self) -> None:
        self.stack: list[FieldTracker] = []


_ACTIVE = _Active()


def active_tracker() -> FieldTracker | None:
    """The tracker watching this thread's torch calls, if any (code the tracker cannot
    see into, such as a TorchScript layer, reports its output through :meth:`leaf`)."""
    return _ACTIVE.stack[-1] if _ACTIVE.stack else None


class FieldTracker(TorchFunctionMode):
    """Propagates a :class:`Field` from the input to every tensor made from it.

    A tensor can also be marked unknown (a layer whose geometry nobody knows made it):
    everything computed from it is unknown too, rather than taking the field of the
    other inputs."""

    def __init__(self, x: torch.Tensor) -> None:
        super().__init__()
        # keep the tensors themselves so an id is not reused while tracking
        self.fields: dict[int, tuple[torch.Tensor, Field | None]] = {
            id(x): (x, Field.input())}

    def __enter__(self):
        _ACTIVE.stack.append(self)
        return super().__enter__()

    def __exit__(self, *exc):
        if _ACTIVE.stack and _ACTIVE.stack[-1] is self:
            _ACTIVE.stack.pop()
        return super().__exit__(*exc)

    def field_of(self, t: torch.Tensor) -> Field | None:
        hit = self.fields.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    def _entry(self, t: torch.Tensor) -> tuple[bool, Field | None]:
        """(known to the tracker, its field: None when marked unknown)."""
        hit = self.fields.get(id(t))
        if hit is None or hit[0] is not t:
            return False, None
        return True, hit[1]

    def leaf(self, rule: tuple[str, tuple] | None, x: torch.Tensor, out: torch.Tensor
             ) -> None:
        """`out` was made from `x` by a layer the tracker cannot see into. ``rule``:
        (functional name, arguments after the input) that says what the layer does to a
        field, e.g. ``("conv2d", (weight, None, stride, padding, dilation))``, ``("",
        ())`` for a layer that works on each position on its own, or None when unknown."""
        known, f = self._entry(x)
        if not known:
            return
        if rule is None or f is None:
            self.fields[id(out)] = (out, None)
            return
        name, rest = rule
        self.fields[id(out)] = (out, self._rule(name, f, (x, *rest), {}, x, out))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        entries = [e for t in _tensors(args, kwargs) if (e := self._entry(t))[0]]
        if not entries:
            return out
        if any(f is None for _, f in entries):
            for t in _tensors(out if isinstance(out, (tuple, list)) else (out,), {}):
                self.fields[id(t)] = (t, None)
            return out
        inputs = [f for _, f in entries]
        base = max(inputs, key=lambda f: (f.whole, max(f.rf)))
        first = next(iter(_tensors(args, kwargs)))
        for t in _tensors(out if isinstance(out, (tuple, list)) else (out,), {}):
            field = self._rule(getattr(func, "__name__", ""), base, args, kwargs, first, t)
            self.fields[id(t)] = (t, field)
        return out

    @staticmethod
    def _rule(name: str, f: Field, args, kwargs, x: torch.Tensor, out: torch.Tensor
              ) -> Field:
        if f.whole:
            return f
        # torch.ops overloads ("conv2d.default", a TorchScript graph's ops replayed)
        name = name.split(".")[0]
        if name == "_convolution":  # input, weight, bias, stride, padding, dilation,
            # transposed, output_padding, groups, ...
            name = "conv_transpose2d" if _arg(args, kwargs, 6, "transposed") else "conv2d"
            if name == "conv_transpose2d":
                a = list(args) + [None] * 9
                args, kwargs = (a[0], a[1], a[2], a[3], a[4], a[7], a[8], a[5]), {}
        if out.dim() < 3 or (x.dim() >= 3 and out.dim() < x.dim()):
            return f.whole_input()  # flatten, linear, mean over H and W
        if name == "conv2d":
            w = args[1] if len(args) > 1 else kwargs["weight"]
            k = tuple(w.shape[-2:])
            s = _pair(_arg(args, kwargs, 3, "stride", 1))
            d = _pair(_arg(args, kwargs, 5, "dilation", 1))
            p = _arg(args, kwargs, 4, "padding", 0)
            if p == "valid":
                p = 0
            p = tuple(dd * (kk - 1) / 2 for kk, dd in zip(k, d)) if p == "same" else _pair(p)
            return f.through(k, s, p, d)
        if name == "conv_transpose2d":
            w = args[1] if len(args) > 1 else kwargs["weight"]
            k = tuple(w.shape[-2:])
            s = _pair(_arg(args, kwargs, 3, "stride", 1))
            p = _pair(_arg(args, kwargs, 4, "padding", 0))
            d = _pair(_arg(args, kwargs, 7, "dilation", 1))
            # output unit o is centred at input (o + p - d(k-1)/2) / s
            return f.upsampled(tuple(map(float, s)),
                               tuple(math.ceil(kk / ss) - 1 for kk, ss in zip(k, s)),
                               tuple((pp - dd * (kk - 1) / 2) / ss
                                     for pp, dd, kk, ss in zip(p, d, k, s)))
        if name in ("max_pool2d", "_max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
            k = _pair(_arg(args, kwargs, 1, "kernel_size"))
            s = _pair(_arg(args, kwargs, 2, "stride") or k)
            p = _pair(_arg(args, kwargs, 3, "padding", 0))
            d = _pair(_arg(args, kwargs, 4, "dilation", 1)) if "max" in name else (1, 1)
            return f.through(k, s, p, d)
        if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "_adaptive_max_pool2d",
                    "adaptive_max_pool2d_with_indices"):
            ih, iw = x.shape[-2:]
            oh, ow = out.shape[-2:]
            if (oh, ow) == (ih, iw):
                return f
            if oh == 1 and ow == 1:
                return f.whole_input()
            k = (math.ceil(ih / oh), math.ceil(iw / ow))
            return f.through(k, (ih // oh, iw // ow), (0, 0), (1, 1))
        if name in ("interpolate", "upsample", "upsample_bilinear", "upsample_nearest",
                    "upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d"):
            scale = (out.shape[-2] / x.shape[-2], out.shape[-1] / x.shape[-1])
            mode = (_arg(args, kwargs, 3, "mode", "nearest") if not name.endswith("2d")
                    else name[len("upsample_"):-2])
            extra = (0.0, 0.0) if mode == "nearest" else (1.0, 1.0)
            return f.upsampled(scale, extra)
        if name in ("pad", "constant_pad_nd", "reflection_pad2d", "replication_pad2d"):
            pad = _arg(args, kwargs, 1, "pad")
            left, top = (pad[0], pad[2] if len(pad) > 2 else 0)
            return Field(f.rf, f.jump, (f.start[0] - top * f.jump[0],
                                        f.start[1] - left * f.jump[1]))
        return f


def _tensors(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, torch.Tensor))
