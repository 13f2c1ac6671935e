"""Feature visualisation: the picture each channel of a layer responds to most.

Activation maximisation with the recipe that makes the result readable (Olah, Mordvintsev
and Schubert, "Feature Visualization", Distill 2017; the same recipe as Lucid and Lucent):

- the picture is parametrised in a Fourier basis whose coefficients are scaled by
  1 / frequency, so that a gradient step changes coarse structure as easily as fine
  (a plain pixel parametrisation fills with high-frequency noise);
- for three-channel networks the colours are decorrelated: the optimised channels are
  mapped through the square root of ImageNet's colour covariance, so one step moves along
  natural colour directions; a one-channel network (LeNet-5 on grey digits) gets a single
  grey channel instead;
- every step the picture is shifted by whole pixels, scaled and rotated a little at
  random, so that only patterns that survive small transformations grow (no adversarial
  pixel patterns);
- a sigmoid keeps pixels in [0, 1]; then the network's own normalisation; Adam.

All channels of the layer are optimised at once as ONE batch: element i maximises the
mean activation of channel i, so a whole layer gives one grid for the cost of a few
forward and backward passes of a batch (:func:`visualise`). Results are cached on disk per
weights, layer, channels and settings.

Three additions, each checked against the test that every channel's picture must excite
it more than the gallery and the other channels' pictures do (tinyvgg-shapes, 32 channels
of ``features.relu4``, 256 steps: 29 of 32 with a constant rate and none of these, 32
with them, in float32 and in bfloat16): the learning
rate falls along a cosine; the last tenth of the steps optimise the picture as it is
shown (no transformations); and once halfway and once before that last tenth every
picture is scored on every channel of the batch, and a channel that another picture
excites more continues from that picture. A ReLU layer is optimised through a leaky ReLU
(slope 0.01), so a channel that is off on the grey start still gets a gradient. The
optimisation runs on a copy of the network with batch norms folded into the convolutions,
on a tile of half the input's side until the polish where the layer's receptive field
fits in one (:func:`tile_side`; a quarter of the pixels, rolled at random so the repeated
tile has no seams: tinyvgg-shapes relu6, 64 channels, from 50 s to 16 s on 2 cores),
in bfloat16 on CPUs that have it built in; the activations reported are the network's
own, in float32.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task
from explorer.core.trace import LayerInfo
from explorer.units.common import (
    Cache,
    LayerProbe,
    check_channels,
    frozen,
    fused_twin,
    normalise,
    to_rgb,
    unit_layer,
    unit_values,
    weights_key,
)

#: bump when the recipe changes, so cached pictures of an older recipe are not reused
RECIPE = 8

#: square root of ImageNet's RGB colour covariance (from Lucid), columns scaled to norm
#: at most 1: one unit along an optimised channel is one natural colour direction
_COLOUR_SVD_SQRT = np.array([[0.26, 0.09, 0.02],
                             [0.27, 0.00, -0.05],
                             [0.27, -0.09, 0.03]], np.float32)
COLOUR_CORRELATION = _COLOUR_SVD_SQRT / np.max(np.linalg.norm(_COLOUR_SVD_SQRT, axis=0))

#: pixels optimised at once (batch x height x width): 64 pictures of 64 x 64, or 20 of
#: 224 x 224; a bigger layer is done in several batches
PIXEL_BUDGET = 64 * 64 * 64 * 4

#: least units across the layer's map on a tile for :func:`tile_side` to use it
MIN_TILE_MAP = 4

#: slope of the ReLU's negative side while optimising (the result is judged on the ReLU)
LEAK = 0.01


@dataclass
class Settings:
    """The recipe's knobs. Defaults suit networks from 32x32 to 224x224 inputs."""

    steps: int = 256
    lr: float = 0.2
    #: power of 1 / frequency that scales the Fourier coefficients (1 = Lucid's)
    decay_power: float = 1.0
    #: largest random shift, as a fraction of the input size (at least one pixel)
    jitter: float = 0.04
    #: random zoom between 1 / (1 + scale) and 1 + scale
    scale: float = 0.1
    #: largest random rotation in degrees
    rotate: float = 10.0
    #: weight of a total-variation penalty (0: none)
    tv: float = 0.0
    #: the learning rate falls along a cosine to this fraction of `lr` by the last step
    lr_end: float = 0.05
    #: fraction of the steps, at the end, taken on the picture itself (no jitter, zoom or
    #: rotation): the picture that is shown and judged is the untransformed one
    polish: float = 0.1
    #: how many times, evenly spread before the polish (and once more as it starts),
    #: every picture of the batch is scored on every channel of the batch; a channel that
    #: another picture excites more than its own continues from that picture (the batch as
    #: a population; near-duplicate channels otherwise keep the weaker of two optima).
    #: 0: never
    exchanges: int = 1
    #: until the polish, optimise one tile of 1/tiles the input's side (a quarter of the
    #: pixels for 2), then repeat it tiles x tiles times for the polish; see
    #: :func:`tile_side`. 1: the whole input all along
    tiles: int = 2
    seed: int = 0
    #: "auto": bfloat16 for the network on a CPU that has it built in (AMX or AVX-512
    #: BF16: about twice as fast, the same test results), else float32;
    #: "float32" or "bfloat16" to choose
    precision: str = "auto"

    def key(self) -> dict:
        return dict(vars(self))


@dataclass
class FeatureVis:
    """pixels (np.float32 [N, Cin, H, W] in [0, 1]): picture i is channel channels[i]'s;
    activations (np.float32 [N]): channel channels[i]'s mean activation on picture i (what
    was maximised), evaluated on the untransformed picture; peaks (np.float32 [N]): its
    strongest unit there, the number to set beside a top patch's (a patch is ranked by
    one unit's activation, not a map's mean)."""

    layer: str
    channels: list[int]
    pixels: np.ndarray
    activations: np.ndarray
    steps: int
    seconds: float
    cached: bool = False
    peaks: np.ndarray | None = None

    @property
    def images(self) -> np.ndarray:
        """np.float32 [N, H, W, 3] in [0, 1] (grey pictures repeated over RGB)."""
        return to_rgb(self.pixels)

    def peak(self, channel: int) -> float:
        """Channel `channel`'s strongest unit on its picture (its mean where the cache
        predates peaks)."""
        i = self.channels.index(channel)
        return float((self.peaks if self.peaks is not None else self.activations)[i])

    def image(self, channel: int) -> np.ndarray:
        """Channel `channel`'s picture, np.float32 [H, W, 3]."""
        return self.images[self.channels.index(channel)]

    def grid(self, cols: int | None = None, pad: int = 2) -> np.ndarray:
        """Every picture tiled into one np.float32 [rows * (H + pad) - pad, ...,  3]
        image (white gaps), channel order row by row."""
        return tile(self.images, cols, pad)


def tile(images: np.ndarray, cols: int | None = None, pad: int = 2,
         fill: float = 1.0) -> np.ndarray:
    """images (float [N, H, W, 3]) -> one float32 image, `cols` per row (default: square)."""
    n, h, w = images.shape[:3]
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), fill, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[i]
    return out


# --- the parametrisation ----------------------------------------------------------------

def _frequencies(h: int, w: int) -> np.ndarray:
    """|frequency| of each coefficient of a real 2-D FFT of an h x w picture: [h, w//2+1]."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class FourierImage(torch.nn.Module):
    """A batch of pictures parametrised in a decorrelated Fourier basis.

    forward() -> Tensor[N, Cin, H, W] in (0, 1). ``spectrum`` (Tensor[N, Cin, H, W//2+1,
    2], real and imaginary parts) is what the optimiser moves.
    """

    def __init__(self, n: int, channels: int, size: tuple[int, int], *,
                 decay_power: float = 1.0, sd: float = 0.01,
                 generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> None:
        super().__init__()
        h, w = size
        self.size, self.channels = (h, w), channels
        freqs = _frequencies(h, w)
        init = torch.randn(n, channels, *freqs.shape, 2, generator=generator) * sd
        self.spectrum = torch.nn.Parameter(init.to(device))
        scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32,
                                                   device=device)[None, None, ..., None])
        self.register_buffer("colour", torch.tensor(COLOUR_CORRELATION.T, device=device))

    def forward(self) -> torch.Tensor:
        spec = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        # "ortho" makes the transform unitary, so learning rates are those of pixels;
        # / 4 is Lucid's, against early saturation of the sigmoid
        x = torch.fft.irfftn(spec, s=self.size, norm="ortho") / 4.0
        if self.channels == 3:
            x = torch.einsum("nchw,cd->ndhw", x, self.colour)
        return torch.sigmoid(x)


def _random_warp(x: torch.Tensor, s: Settings, generator: torch.Generator,
                 side: int | None = None) -> torch.Tensor:
    """Shift, zoom and rotate each picture of x (Tensor[N, C, H, W] in [0, 1]) by its own
    small random amount; what comes in from outside is mid grey, as Lucid's padding. The
    largest shift is ``s.jitter`` of `side` (default the picture's) in pixels: a tile
    shifts as far as the whole picture would, its patterns being the same size."""
    n, _, h, w = x.shape
    shift = max(1.0, s.jitter * (side or max(h, w)))
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(s.rotate)
    zoom = torch.exp((torch.rand(n, generator=generator) * 2 - 1) * math.log1p(s.scale))
    # whole pixels, as Lucid's jitter: a fractional shift blurs (bilinear), which would
    # hide exactly the fine patterns that units with small receptive fields look for
    t = torch.round((torch.rand(n, 2, generator=generator) * 2 - 1) * shift)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos, -sin * h / w, 2 * t[:, 0] / w], 1),
                         torch.stack([sin * w / h, cos, 2 * t[:, 1] / h], 1)], 1)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x - 0.5, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False) + 0.5


def _random_roll(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each picture of x (Tensor[N, C, H, W]) rolled (circularly shifted) by its own
    random offset in each direction. A tile is a period of the final picture: rolled, its
    wrap-around lands anywhere in the network's view, so the pattern grows continuous
    across it (else the repeated tile shows its grey-edged seams)."""
    n, c, h, w = x.shape
    dy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    iy = (torch.arange(h, device=x.device)[None] + dy[:, None]) % h  # [N, H]
    ix = (torch.arange(w, device=x.device)[None] + dx[:, None]) % w  # [N, W]
    rows = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return x[rows, chans, iy[:, None, :, None], ix[:, None, None, :]]


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3))
            + (x[..., :, 1:] - x[..., :, :-1]).abs().mean((1, 2, 3)))


# --- the optimisation -------------------------------------------------------------------

def tile_side(network: Network, probe: LayerProbe, tiles: int,
              info: LayerInfo | None = None) -> tuple[int, int] | None:
    """(h, w) of the tile optimised before the polish, or None to optimise the whole
    input all along.

    Why a tile: a channel's mean activation over its map is a convolutional objective, so
    the picture that maximises it is a texture of the unit's pattern; the Fourier
    parametrisation is periodic, so a picture of 1/2 the side repeated 2 x 2 times is
    exactly one the whole-size parametrisation could reach, at the same pixel scale. The
    tile costs a quarter of the convolutions per step. It is used only where it cannot
    cut a pattern short: a layer with maps whose receptive field fits in the tile, on an
    input that divides evenly, and that still gives a map of at least
    :data:`MIN_TILE_MAP` x :data:`MIN_TILE_MAP` units on the tile (tinyvgg-shapes relu6's
    field is 32 px: a 32-px tile of its 64-px input gives an 8x8 map; LeNet-5's conv2,
    without padding, would have only 2x2 units on a 16-px tile, most of them seeing its
    edge, and is optimised whole)."""
    h, w = network.input_size
    if tiles < 2 or h % tiles or w % tiles:
        return None
    th, tw = h // tiles, w // tiles
    if info is None:  # `info`: the layer as the network's own table describes it
        try:
            info = unit_layer(network, probe.layer)
        except Exception:  # noqa: BLE001 - a layer the table cannot describe: no tile
            return None
    if not info.spatial or info.rf_global or info.rf_hw is None or \
            info.rf_hw[0] > th or info.rf_hw[1] > tw:
        return None
    dtype = next(probe.network.module.parameters(), torch.empty(0)).dtype
    x = torch.zeros(1, network.in_channels, th, tw, device=network.device, dtype=dtype)
    try:
        with torch.no_grad(), frozen(probe.network.module):
            out = probe(x)
    except Exception:  # noqa: BLE001 - a network that needs its full input size
        return None
    ok = out.dim() == 4 and min(out.shape[-2:]) >= MIN_TILE_MAP
    return (th, tw) if ok else None


def _tiled(image: FourierImage, tiles: int, size: tuple[int, int],
           decay_power: float) -> FourierImage:
    """A :class:`FourierImage` of `size` whose pictures are `image`'s repeated tiles x
    tiles times (exactly: only the tile's frequencies are non-zero)."""
    with torch.no_grad():
        scaled = image.scale * image.spectrum
        z = torch.fft.irfftn(torch.view_as_complex(scaled.contiguous()), s=image.size,
                             norm="ortho")
        z = z.repeat(1, 1, tiles, tiles)
        out = FourierImage(z.shape[0], image.channels, size, decay_power=decay_power,
                           sd=0.0, device=z.device)
        spec = torch.view_as_real(torch.fft.rfftn(z, dim=(-2, -1), norm="ortho"))
        out.spectrum.copy_(spec / out.scale)
    return out


def resolve_precision(precision: str, device: torch.device) -> str:
    """"float32" or "bfloat16" for `precision` ("auto", "float32", "bfloat16") on `device`."""
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"precision must be auto, float32 or bfloat16, not {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        try:
            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                return "bfloat16"
        except (AttributeError, RuntimeError):
            pass
    return "float32"


def batch_size_for(network: Network, budget: int = PIXEL_BUDGET) -> int:
    h, w = network.input_size
    return max(1, budget // (h * w))


def visualise(network: Network, layer: str, channels: list[int] | None = None, *,
              settings: Settings | None = None, steps: int | None = None,
              batch_size: int | None = None, task: Task | None = None,
              cache_dir=None) -> FeatureVis:
    """The picture that maximises each channel's mean activation in `layer`.

    Args:
        layer: a qualified module name (``named_modules``) whose output is [C, H, W] or [K].
        channels: which channels (default: all). They are optimised together, ``batch_size``
            at a time (default: as many as :data:`PIXEL_BUDGET` allows).
        steps: overrides ``settings.steps``.
        task: progress and cancel; ``task.check()`` runs before every step, so a cancel
            stops after at most one more step.
        cache_dir: folder of the cache (default :func:`~explorer.units.common.
            default_cache_dir`); False: neither read nor write it.
    Raises:
        UserError: unknown layer, a layer without channels, a channel out of range.
        Cancelled: the task was cancelled.
    """
    task = task or NullTask()
    s = Settings(**(settings.key() if settings else {}))
    if steps is not None:
        s.steps = int(steps)
    if s.steps < 1:
        raise ValueError(f"steps must be at least 1, got {s.steps}")
    s.precision = resolve_precision(s.precision, network.device)
    info = unit_layer(network, layer)
    chans = check_channels(info, channels)
    cache = Cache.at(cache_dir)
    key = {"recipe": RECIPE, "weights": weights_key(network), "layer": layer,
           "channels": chans, "size": list(network.input_size),
           "in_channels": network.in_channels, "mean": list(network.mean),
           "std": list(network.std), **s.key()}
    hit = cache.load("featvis", key)
    if hit is not None:
        task.progress(1.0, "feature visualisation (cached)")
        return FeatureVis(layer, chans, hit["pixels"], hit["activations"], s.steps,
                          float(hit["seconds"]), cached=True, peaks=hit.get("peaks"))

    t0 = time.perf_counter()
    # optimised on a copy with batch norms folded in (faster); judged on the network
    bf16 = torch.bfloat16 if s.precision == "bfloat16" else None
    probe = LayerProbe(fused_twin(network, layer, bf16), layer, pre_activation=True)
    plain = LayerProbe(network, layer)
    per = batch_size or batch_size_for(network)
    chunks = [chans[i:i + per] for i in range(0, len(chans), per)]
    pixels, acts, peaks = [], [], []
    total = len(chunks) * s.steps
    for k, chunk in enumerate(chunks):
        g = torch.Generator().manual_seed(s.seed + 7919 * k)
        x = _optimise(probe.network, probe, chunk, s, g, task, k * s.steps, total, info)
        with torch.no_grad(), frozen(network.module):
            act = plain(normalise(network, x))
            a = unit_values(act, chunk)
            peak = unit_values(act, chunk, reduce="max")
        pixels.append(x.cpu().numpy())
        acts.append(a.float().cpu().numpy())
        peaks.append(peak.float().cpu().numpy())
    result = FeatureVis(layer, chans, np.concatenate(pixels).astype(np.float32),
                        np.concatenate(acts).astype(np.float32), s.steps,
                        time.perf_counter() - t0,
                        peaks=np.concatenate(peaks).astype(np.float32))
    cache.save("featvis", key, {"pixels": result.pixels, "activations": result.activations,
                                "peaks": result.peaks, "seconds": np.float64(result.seconds)})
    task.progress(1.0, "feature visualisation done")
    return result


def _optimise(network: Network, probe: LayerProbe, chunk: list[int], s: Settings,
              g: torch.Generator, task: Task, done: int, total: int,
              info: LayerInfo | None = None) -> torch.Tensor:
    """Optimise one batch (picture i for channel chunk[i]); returns Tensor[N, Cin, H, W]
    in [0, 1], detached. `info`: the layer in the network's own table (the copy
    optimised here, batch norms folded, is not traced again to find it)."""
    dev = network.device
    tile = tile_side(network, probe, s.tiles, info)
    image = FourierImage(len(chunk), network.in_channels, tile or network.input_size,
                         decay_power=s.decay_power, generator=g, device=dev)
    opt = torch.optim.Adam(image.parameters(), lr=s.lr)
    side = max(network.input_size)
    target = torch.tensor(chunk, device=dev)
    every = max(1, s.steps // 64)
    # a bfloat16 twin takes bfloat16 pictures; the network itself runs under autocast
    dtype = next(network.module.parameters(), torch.empty(0)).dtype
    bf16 = s.precision == "bfloat16" and dtype != torch.bfloat16
    free = s.steps - int(round(s.polish * s.steps))

    def rate(step: int) -> float:
        return s.lr * (s.lr_end + (1 - s.lr_end) * 0.5 * (1 + math.cos(math.pi * step
                                                                         / s.steps)))

    swaps = {int(free * (k + 1) / (s.exchanges + 1)) for k in range(s.exchanges)}
    if s.exchanges:
        swaps.add(free)
    with frozen(network.module), torch.enable_grad():
        for step in range(s.steps):
            if step in swaps and len(chunk) > 1:
                _exchange(image, opt, probe, network, target, bf16, dtype)
            if tile is not None and step == free:
                # the polish sees the whole picture: the tile repeated, a fresh Adam
                image = _tiled(image, s.tiles, network.input_size, s.decay_power)
                opt = torch.optim.Adam(image.parameters(), lr=s.lr)
            task.check()
            opt.zero_grad(set_to_none=True)
            for group in opt.param_groups:
                group["lr"] = rate(step)
            x = image()
            if step < free:
                warped = _random_warp(_random_roll(x, g) if tile else x, s, g, side)
            else:
                warped = x
            if dev.type == "cpu":  # oneDNN's convolutions are faster on NHWC
                warped = warped.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                act = probe(normalise(network, warped).to(dtype))
            # each picture's own channel first: everything after works on 1/C of the maps
            own = act[torch.arange(len(chunk), device=dev), target].float()
            if probe.pre:
                # the ReLU itself, leaky: where a channel is off everywhere (a grey start
                # often is) a plain ReLU passes no gradient and the picture never moves
                own = F.leaky_relu(own, LEAK)
            obj = own.flatten(1).mean(1) if own.dim() > 1 else own
            loss = -obj.sum()
            if s.tv:
                loss = loss + s.tv * _total_variation(x).sum()
            loss.backward()
            opt.step()
            if step % every == 0 or step == s.steps - 1:
                task.progress((done + step + 1) / total,
                              f"feature visualisation: step {step + 1}/{s.steps}")
        with torch.no_grad():
            if tile is not None and free >= s.steps:  # no polish: still the tile
                image = _tiled(image, s.tiles, network.input_size, s.decay_power)
            return image().detach()


def _exchange(image: FourierImage, opt: torch.optim.Optimizer, probe: LayerProbe,
              network: Network, target: torch.Tensor, bf16: bool,
              dtype: torch.dtype) -> int:
    """Score every picture on every channel of the batch (one forward pass); where picture
    i excites channel target[j] more than picture j does, picture j (and its optimiser
    state) becomes a copy of picture i. Returns how many pictures were replaced."""
    with torch.no_grad():
        x = image()
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            act = probe(normalise(network, x).to(dtype)).float()
        if probe.pre:
            act = F.relu(act)
        act = act[:, target]
        score = act.flatten(2).mean(2) if act.dim() == 4 else act  # [picture, channel]
        best = score.argmax(0)
        own = torch.arange(len(target), device=best.device)
        move = (best != own) & (score[best, own] > score[own, own])
        idx = torch.where(move, best, own)
        if not bool(move.any()):
            return 0
        image.spectrum.copy_(image.spectrum[idx])
        state = opt.state.get(image.spectrum, {})
        for name in ("exp_avg", "exp_avg_sq"):
            if name in state:
                state[name].copy_(state[name][idx])
    return int(move.sum())
