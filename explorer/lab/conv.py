"""Convolution playground: kernel presets, padded/strided/dilated convolution, transposed
convolution, output-size formulas and a step-by-step view of every output window.

Convention (the lecture's, and the default here): ``mode="convolution"`` computes the true
convolution the lecture writes, ``a_ij = sum_p sum_q x_(i-p)(j-q) w_pq``, i.e. the kernel is
flipped before it is laid over the image. ``mode="correlation"`` lays the kernel as it is,
which is what ``torch.nn.functional.conv2d`` (and so every CNN layer) computes. For the
symmetric presets (identity, box, gaussian, laplacian) both agree; for the derivative
kernels they differ in sign, which is worth showing in class. In a trained network the
difference does not matter (the network simply learns the flipped kernel), but the
playground answers the lecture's formula, so that is the default.

All numbers are computed in float64 with :mod:`torch.nn.functional` so they equal what a
network layer computes. Images are ``ndarray[H, W]``, kernels ``ndarray[k1, k2]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import UserError
from explorer.lab import settings

#: padding choices: "valid" (none) or "same" padding filled with zeros, a mirror image
#: without repeating the edge (numpy/torch "reflect") or with it (numpy "symmetric")
PADDINGS = ("valid", "same-zeros", "same-reflect", "same-symmetric")
MODES = ("convolution", "correlation")

IntPair = int | tuple[int, int]


# ----------------------------------------------------------------------------- kernels

def _binomial(size: int) -> np.ndarray:
    """Row ``size-1`` of Pascal's triangle: [1, 2, 1] or [1, 4, 6, 4, 1]."""
    row = np.array([1.0])
    for _ in range(size - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _derivative(size: int) -> np.ndarray:
    """Central difference smoothed once per extra size: [1, 0, -1] or [1, 2, 0, -2, -1].

    Written in convolution orientation: convolving ``[.., x_(j-1), x_j, x_(j+1), ..]`` with
    [1, 0, -1] (index q = -1, 0, 1) gives ``x_(j+1) - x_(j-1)``, positive where the image
    grows to the right / downwards.
    """
    return np.convolve(_binomial(size - 2), [1.0, 0.0, -1.0])


def _identity(size: int) -> np.ndarray:
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def _box(size: int) -> np.ndarray:
    return np.full((size, size), 1.0 / size**2)


def _gaussian(size: int) -> np.ndarray:
    b = _binomial(size)
    return np.outer(b, b) / b.sum() ** 2


def _x_derivative(size: int) -> np.ndarray:
    # Sobel for size 3: smooth across rows, differentiate along columns
    return np.outer(_binomial(size), _derivative(size))


def _y_derivative(size: int) -> np.ndarray:
    return np.outer(_derivative(size), _binomial(size))


def _laplacian(size: int) -> np.ndarray:
    if size == 3:
        return np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
    # the common 5x5 discrete Laplacian-of-Gaussian
    return np.array(
        [
            [0.0, 0, 1, 0, 0],
            [0, 1, 2, 1, 0],
            [1, 2, -16, 2, 1],
            [0, 1, 2, 1, 0],
            [0, 0, 1, 0, 0],
        ]
    )


_KERNELS = {
    "identity": _identity,
    "box": _box,
    "gaussian": _gaussian,
    "x-derivative": _x_derivative,
    "y-derivative": _y_derivative,
    "laplacian": _laplacian,
}

#: preset name -> the sizes it is offered in
KERNEL_SIZES: dict[str, tuple[int, ...]] = {name: (3, 5) for name in _KERNELS}

KERNEL_DESCRIPTIONS = {
    "identity": "1 at the centre: the output is the input",
    "box": "average of the window (all weights 1/k^2)",
    "gaussian": "binomial approximation of a Gaussian blur ([1 2 1] or [1 4 6 4 1], normalised)",
    "x-derivative": "Sobel-type horizontal derivative, positive where the image brightens "
    "to the right (in convolution mode)",
    "y-derivative": "Sobel-type vertical derivative, positive where the image brightens "
    "downwards (in convolution mode)",
    "laplacian": "sum of second derivatives (4-neighbour Laplacian, or 5x5 Laplacian of "
    "Gaussian)",
}


def kernel_names() -> list[str]:
    """Names of the kernel presets, in menu order."""
    return list(_KERNELS)


def kernel(name: str, size: int = 3) -> np.ndarray:
    """A preset kernel.

    Args:
        name: one of :func:`kernel_names` (``"x-derivative"``; ``"x_derivative"`` and
            ``"dx"`` are accepted too).
        size: 3 or 5.

    Returns:
        ndarray[size, size] float64, in convolution orientation (see the module docstring).
    """
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = {"dx": "x-derivative", "dy": "y-derivative", "gauss": "gaussian"}.get(key, key)
    if key not in _KERNELS:
        raise UserError(f"Unknown kernel '{name}'; choose one of {', '.join(_KERNELS)}.")
    if size not in KERNEL_SIZES[key]:
        sizes = " or ".join(map(str, KERNEL_SIZES[key]))
        raise UserError(f"Kernel '{key}' comes in size {sizes}, not {size}.")
    return _KERNELS[key](size).astype(np.float64)


# ------------------------------------------------------------------------ output sizes

def output_size(m: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Length of a convolution (or pooling) output along one axis.

    ``floor((m + 2p - d(k-1) - 1) / s) + 1`` for input length `m`, kernel `k`, stride `s`,
    `p` padded cells on each side and dilation `d`. With ``p = 0, d = 1`` it is the
    lecture's ``M_l = floor((M_(l-1) - k) / s) + 1``. May be <= 0 when the kernel does not
    fit; callers that compute something check that.
    """
    return (m + 2 * p - d * (k - 1) - 1) // s + 1


def transposed_output_size(
    m: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0
) -> int:
    """Length of a transposed-convolution output: ``(m-1)s - 2p + d(k-1) + output_padding + 1``.

    The inverse of :func:`output_size` for the shapes: a convolution with the same
    (k, s, p, d) maps this length back to `m`.
    """
    return (m - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def size_chain(m: int, k: int, s: int = 1, p: int = 0, d: int = 1, steps: int | None = None):
    """Channel sizes after repeated identical layers, starting with `m`.

    Stops after `steps` layers, or (``steps=None``) at the last size >= 1 before the
    kernel no longer fits. ``size_chain(128, 5, 2)`` is [128, 62, 29, 13, 5, 1].

    Raises:
        UserError: a size out of range, or (``steps=None``) a chain longer than
            :data:`~explorer.lab.settings.MAX_LAYERS` layers (give `steps` then).
    """
    m = settings.input_size(m)
    k, s, d = (settings.geometry(n, v) for n, v in
               (("the kernel size", k), ("the stride", s), ("the dilation", d)))
    p = settings.padding(p)
    steps = settings.layers(steps)
    sizes = [m]
    while steps is None or len(sizes) <= steps:
        nxt = output_size(sizes[-1], k, s, p, d)
        if nxt < 1 or (steps is None and nxt >= sizes[-1]):
            break
        if steps is None and len(sizes) > settings.MAX_LAYERS:
            raise UserError(f"From {m} the size takes more than {settings.MAX_LAYERS:,} "
                            "layers to stop shrinking; give a number of layers to see the "
                            "first ones")
        sizes.append(nxt)
    return sizes


def _pair(v: IntPair, what: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2:
        raise UserError(f"The {what} must be a whole number or a (rows, cols) pair, not {v}.")
    return settings.geometry(f"the {what}", pair[0]), settings.geometry(f"the {what}", pair[1])


def pad_amounts(k: int, d: int, padding: str) -> tuple[int, int]:
    """Cells added (before, after) along one axis for `padding`.

    "same" padding adds ``d(k-1)`` cells in all, half before; an odd remainder (even kernel)
    goes after, as in TensorFlow. Then a stride-1 output has the input's size, and a
    stride-s output has ``ceil(m / s)``.
    """
    _check_padding(padding)
    if padding == "valid":
        return 0, 0
    total = d * (k - 1)
    return total // 2, total - total // 2


def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise UserError(f"Unknown padding '{padding}'; choose one of {', '.join(PADDINGS)}.")


def conv_output_shape(
    shape: tuple[int, int],
    kernel_shape: tuple[int, int],
    padding: str = "valid",
    stride: IntPair = 1,
    dilation: IntPair = 1,
) -> tuple[int, int]:
    """(H_out, W_out) of :func:`convolve` for an input of `shape` (may be <= 0)."""
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    out = []
    for axis in range(2):
        before, after = pad_amounts(kernel_shape[axis], d[axis], padding)
        m = shape[axis] + before + after
        out.append(output_size(m, kernel_shape[axis], s[axis], 0, d[axis]))
    return out[0], out[1]


# ------------------------------------------------------------------------- convolution

def _as_image(x, what: str = "image") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise UserError(f"The {what} must be a 2-D array, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"The {what} contains NaN or infinite values.")
    return arr


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UserError(f"Unknown mode '{mode}'; choose convolution or correlation.")


def applied_kernel(w: np.ndarray, mode: str = "convolution") -> np.ndarray:
    """The kernel as it is laid over the image window: flipped in both axes for
    ``mode="convolution"``, unchanged for ``"correlation"``."""
    _check_mode(mode)
    w = _as_image(w, "kernel")
    return w[::-1, ::-1].copy() if mode == "convolution" else w


def pad(
    x: np.ndarray, kernel_shape: tuple[int, int], padding: str = "valid", dilation: IntPair = 1
) -> np.ndarray:
    """The image as the kernel sees it, with the border cells `padding` adds.

    Returns:
        ndarray[H + pad_h, W + pad_w] float64. Zeros and reflect use ``F.pad``
        ("constant", "reflect"); symmetric (edge repeated) uses ``np.pad(mode="symmetric")``
        because ``F.pad`` has no such mode.
    """
    x = _as_image(x)
    d = _pair(dilation, "dilation")
    (t, b), (l, r) = (pad_amounts(kernel_shape[i], d[i], padding) for i in range(2))
    if padding in ("valid",) or (t, b, l, r) == (0, 0, 0, 0):
        return x.copy()
    settings.cells("the padded image", x.shape[0] + t + b, x.shape[1] + l + r)
    if padding == "same-symmetric":
        return np.pad(x, ((t, b), (l, r)), mode="symmetric")
    if padding == "same-reflect" and (max(t, b) >= x.shape[0] or max(l, r) >= x.shape[1]):
        raise UserError(
            f"Reflect padding of {max(t, b, l, r)} cells needs an image larger than "
            f"{x.shape[0]}x{x.shape[1]}; use same-symmetric or same-zeros."
        )
    mode = "constant" if padding == "same-zeros" else "reflect"
    xt = torch.from_numpy(x)[None, None]
    return F.pad(xt, (l, r, t, b), mode=mode)[0, 0].numpy()


def _check_fits(x_shape, kernel_shape, padding, stride, dilation) -> tuple[int, int]:
    out = conv_output_shape(x_shape, kernel_shape, padding, stride, dilation)
    if min(out) < 1:
        d = _pair(dilation, "dilation")
        span = tuple(d[i] * (kernel_shape[i] - 1) + 1 for i in range(2))
        raise UserError(
            f"A {kernel_shape[0]}x{kernel_shape[1]} kernel (spanning {span[0]}x{span[1]} "
            f"cells) does not fit in a {x_shape[0]}x{x_shape[1]} image with {padding} "
            "padding."
        )
    return out


def convolve(
    x: np.ndarray,
    kernel: np.ndarray,
    padding: str = "valid",
    stride: IntPair = 1,
    dilation: IntPair = 1,
    mode: str = "convolution",
) -> np.ndarray:
    """Convolve (or correlate) one grey image with one kernel, as a CNN layer would.

    Args:
        x (ndarray[H, W]): the image.
        kernel (ndarray[k1, k2]): the kernel, in the orientation of `mode` (see module doc).
        padding: one of :data:`PADDINGS`.
        stride, dilation: int or (rows, cols).
        mode: "convolution" (kernel flipped, the lecture's formula) or "correlation"
            (what ``F.conv2d`` computes).

    Returns:
        ndarray[H_out, W_out] float64 with (H_out, W_out) = :func:`conv_output_shape`.
    """
    x = _as_image(x)
    w = applied_kernel(kernel, mode)
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    out_shape = _check_fits(x.shape, w.shape, padding, s, d)
    settings.taps("the convolution's windows", out_shape[0] * out_shape[1], w.size)
    xp = torch.from_numpy(pad(x, w.shape, padding, d))[None, None]
    out = F.conv2d(xp, torch.from_numpy(w)[None, None], stride=s, dilation=d)
    return out[0, 0].numpy()


def transposed(
    x: np.ndarray,
    kernel: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    output_padding: IntPair = 0,
) -> np.ndarray:
    """Transposed convolution (``F.conv_transpose2d``), the upsampling layer of the slides.

    Every input value ``x_ij`` scatters a copy of the kernel scaled by ``x_ij`` onto the
    output, with its top-left corner at ``(i*s - p, j*s - p)``; overlaps add up. With
    stride 1 and no padding this is the "full" true convolution of `x` with `kernel`
    (no flip needed: scattering already is convolution).

    Args:
        x (ndarray[H, W]), kernel (ndarray[k1, k2]).
        stride, dilation: >= 1. padding: cells cropped from each border of the result.
        output_padding: extra cells at the bottom/right (must be < stride or dilation).

    Returns:
        ndarray[H_out, W_out], H_out = :func:`transposed_output_size` (H, k1, s, p, d, op).
    """
    x, w = _as_image(x), _as_image(kernel, "kernel")
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    p = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    op = (
        (output_padding, output_padding)
        if isinstance(output_padding, (int, np.integer))
        else tuple(output_padding)
    )
    if min(p) < 0 or min(op) < 0:
        raise UserError("Padding and output padding of a transposed convolution must be >= 0.")
    p = tuple(settings.padding(v) for v in p)
    for i in range(2):
        if op[i] >= max(s[i], d[i]):
            raise UserError("Output padding must be smaller than the stride or the dilation.")
    out_shape = [
        transposed_output_size(x.shape[i], w.shape[i], s[i], p[i], d[i], op[i]) for i in range(2)
    ]
    if min(out_shape) < 1:
        raise UserError(f"Padding {p} crops away the whole {out_shape} transposed output.")
    # before the crop, torch holds the whole (m-1)s + d(k-1) + 1 output
    settings.cells("the transposed output", out_shape[0] + 2 * p[0], out_shape[1] + 2 * p[1])
    out = F.conv_transpose2d(
        torch.from_numpy(x)[None, None],
        torch.from_numpy(w)[None, None],
        stride=s,
        padding=p,
        output_padding=op,
        dilation=d,
    )
    return out[0, 0].numpy()


# ---------------------------------------------------------------------- step by step

@dataclass(frozen=True)
class Step:
    """One output cell of a convolution and the window that produced it.

    Coordinates are in the original image; cells outside it (padding) have rows/cols < 0
    or >= H/W and ``inside`` False.
    """

    #: (row, col) of the output cell
    out: tuple[int, int]
    #: ndarray[k1, k2] int: image row of every kernel tap (dilation spaces them)
    rows: np.ndarray
    #: ndarray[k1, k2] int: image column of every kernel tap
    cols: np.ndarray
    #: ndarray[k1, k2] bool: tap lies on the image, not on padding
    inside: np.ndarray
    #: ndarray[k1, k2]: image (or padding) values under the taps
    values: np.ndarray
    #: ndarray[k1, k2]: kernel weights as laid over the window (flipped in convolution mode)
    weights: np.ndarray
    #: ndarray[k1, k2]: values * weights
    products: np.ndarray
    #: the output value: sum of products
    total: float


def steps(
    x: np.ndarray,
    kernel: np.ndarray,
    padding: str = "valid",
    stride: IntPair = 1,
    dilation: IntPair = 1,
    mode: str = "convolution",
) -> Iterator[Step]:
    """Yield one :class:`Step` per output cell, row by row, for an animated view.

    ``step.total`` equals ``convolve(...)[step.out]`` (up to float rounding order).
    """
    x = _as_image(x)
    w = applied_kernel(kernel, mode)
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    h_out, w_out = _check_fits(x.shape, w.shape, padding, s, d)
    xp = pad(x, w.shape, padding, d)
    top = pad_amounts(w.shape[0], d[0], padding)[0]
    left = pad_amounts(w.shape[1], d[1], padding)[0]
    tap_r = np.arange(w.shape[0])[:, None] * d[0] + np.zeros(w.shape[1], dtype=int)[None, :]
    tap_c = np.zeros(w.shape[0], dtype=int)[:, None] + np.arange(w.shape[1])[None, :] * d[1]
    for i in range(h_out):
        for j in range(w_out):
            pr, pc = i * s[0] + tap_r, j * s[1] + tap_c  # coordinates in the padded image
            values = xp[pr, pc]
            rows, cols = pr - top, pc - left
            inside = (rows >= 0) & (rows < x.shape[0]) & (cols >= 0) & (cols < x.shape[1])
            products = values * w
            yield Step((i, j), rows, cols, inside, values, w, products, float(products.sum()))


@dataclass(frozen=True)
class ScatterStep:
    """One input cell of a transposed convolution and the kernel copy it adds to the output.

    Output coordinates are those of :func:`transposed`'s result; taps that fall in the
    cropped border (``padding``) have ``inside`` False.
    """

    #: (row, col) of the input cell
    source: tuple[int, int]
    value: float
    #: ndarray[k1, k2] int: output row of every kernel tap
    rows: np.ndarray
    #: ndarray[k1, k2] int: output column of every kernel tap
    cols: np.ndarray
    #: ndarray[k1, k2] bool: tap lands on the (cropped) output
    inside: np.ndarray
    #: ndarray[k1, k2]: value * kernel, added at (rows, cols)
    contributions: np.ndarray


def transposed_steps(
    x: np.ndarray, kernel: np.ndarray, stride: IntPair = 1, padding: IntPair = 0,
    dilation: IntPair = 1, output_padding: IntPair = 0,
) -> Iterator[ScatterStep]:
    """Yield one :class:`ScatterStep` per input cell, row by row, for an animated view of
    :func:`transposed` (same arguments); summing every step's inside contributions at their
    (rows, cols) gives its result."""
    out = transposed(x, kernel, stride, padding, dilation, output_padding)  # validates
    x, w = _as_image(x), _as_image(kernel, "kernel")
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    p = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    tap_r = (np.arange(w.shape[0]) * d[0])[:, None].repeat(w.shape[1], 1)
    tap_c = (np.arange(w.shape[1]) * d[1])[None, :].repeat(w.shape[0], 0)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            rows, cols = i * s[0] - p[0] + tap_r, j * s[1] - p[1] + tap_c
            inside = (rows >= 0) & (rows < out.shape[0]) & (cols >= 0) & (cols < out.shape[1])
            yield ScatterStep((i, j), float(x[i, j]), rows, cols, inside, x[i, j] * w)


# ------------------------------------------------------- up-sampling, then convolution

#: how :func:`upsample` fills the new cells: "bilinear" (the lecture's example) or
#: "nearest" (each cell repeated factor x factor times)
INTERPOLATIONS = ("bilinear", "nearest")


def upsample(x: np.ndarray, factor: int, interpolation: str = "bilinear") -> np.ndarray:
    """The first half of "up-sampling followed by convolution": `x` made `factor` times
    larger along both axes by ``F.interpolate`` (``align_corners=False``, as
    ``nn.Upsample`` does by default).

    Returns:
        ndarray[H * factor, W * factor] float64.
    """
    x = _as_image(x)
    f = settings.upsample_factor(factor)
    settings.interpolation(interpolation, INTERPOLATIONS)
    settings.cells("the up-sampled image", x.shape[0] * f, x.shape[1] * f)
    extra = {"align_corners": False} if interpolation == "bilinear" else {}
    out = F.interpolate(torch.from_numpy(x)[None, None], scale_factor=f, mode=interpolation,
                        **extra)
    return out[0, 0].numpy()


def upsample_convolve(
    x: np.ndarray,
    kernel: np.ndarray,
    factor: int = 2,
    interpolation: str = "bilinear",
    padding: str = "same-zeros",
    stride: IntPair = 1,
    dilation: IntPair = 1,
    mode: str = "convolution",
) -> np.ndarray:
    """Up-sampling followed by convolution, the lecture's alternative to a transposed
    convolution: :func:`upsample` by `factor`, then :func:`convolve` with the rest.

    Returns:
        ndarray[H_out, W_out] float64, :func:`conv_output_shape` of the (H*f, W*f) image.
    """
    _check_padding(padding)
    _check_mode(mode)
    return convolve(upsample(x, factor, interpolation), kernel, padding, stride, dilation, mode)


def formula(m: int, k: int, s: int = 1, p: int | tuple[int, int] = 0, d: int = 1) -> str:
    """The output-size formula with numbers filled in, e.g.
    ``floor((10 + 2*0 - 1*(3-1) - 1) / 1) + 1 = 8``. `p` is the padding per side, or
    (before, after) when they differ (even kernels with "same" padding)."""
    before, after = (p, p) if isinstance(p, (int, np.integer)) else p
    pad_text = f"2*{before}" if before == after else f"{before}+{after}"
    n = (m + before + after - d * (k - 1) - 1) // s + 1
    return f"floor(({m} + {pad_text} - {d}*({k}-1) - 1) / {s}) + 1 = {n}"
