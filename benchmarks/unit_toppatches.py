"""The top-9 sweep of a tinyvgg-shapes layer over 5,000 shapes crops, against a plain
batched forward pass over the same crops. Target: at most 30 s.

Two figures: the sweep over crops already in memory (what the sweep itself costs beside
a forward pass: the hook that ends the pass at the layer, the max over positions, the
running top 9 per channel), and the sweep as ``--gallery shapes:5000`` runs it, making
each crop on the way (end to end). Both against the plain forward over the crops in
memory, batches of 64, in images per second.

    python -m benchmarks.unit_toppatches [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks._report import cli
from explorer.nets.registry import load_network
from explorer.units.common import normalise
from explorer.units.galleries import ShapesGallery, TensorGallery
from explorer.units.toppatches import top_patches

TARGET_S = 30.0
CROPS = 5000
LAYER = "features.relu4"


def _plain_forward(net, x: torch.Tensor, batch: int = 64) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        for a in range(0, len(x), batch):
            net.module(normalise(net, x[a:a + batch]))
    return time.perf_counter() - t0


def run(repeats: int = 1, quick: bool = False) -> list[dict]:
    n = 1000 if quick else CROPS
    net = load_network("tinyvgg-shapes")
    gallery = ShapesGallery(n, seed=99)
    t0 = time.perf_counter()
    crops = gallery.load(0, n)
    made = time.perf_counter() - t0
    memory = TensorGallery(crops, "crops")
    top_patches(net, LAYER, TensorGallery(crops[:64]), cache_dir=False)  # warm-up
    plain, sweep = [], []
    for _ in range(max(1, repeats)):
        plain.append(_plain_forward(net, crops))
        t0 = time.perf_counter()
        top_patches(net, LAYER, memory, cache_dir=False)
        sweep.append(time.perf_counter() - t0)
    p, s = statistics.median(plain), statistics.median(sweep)
    t0 = time.perf_counter()
    top_patches(net, LAYER, gallery, cache_dir=False)
    e2e = time.perf_counter() - t0
    scale = CROPS / n  # quick runs are extrapolated to 5,000 crops
    common = {"crops": n, "layer": LAYER, "threads": torch.get_num_threads(),
              "baseline": "plain batched forward", "baseline_s": p * scale,
              "baseline_ips": n / p, "make_crops_s": made * scale,
              "target": f"<= {TARGET_S:g} s for {CROPS:,} crops"}
    return [
        {**common, "name": f"top-9 sweep tinyvgg-shapes {LAYER}, crops in memory",
         "value_s": s * scale, "ips": n / s, "ratio": s / p, "ok": s * scale <= TARGET_S},
        {**common, "name": f"top-9 sweep tinyvgg-shapes {LAYER}, making the crops",
         "value_s": e2e * scale, "ips": n / e2e, "ratio": e2e / p,
         "ok": e2e * scale <= TARGET_S},
    ]


def describe(r: dict) -> str:
    extra = f" (extrapolated from {r['crops']:,})" if r["crops"] != CROPS else ""
    return (f"{r['name']} ({r['threads']} threads){extra}: {r['value_s']:.1f} s, "
            f"{r['ips']:.0f} images/s; plain forward {r['baseline_s']:.1f} s, "
            f"{r['baseline_ips']:.0f} images/s; making the crops alone "
            f"{r['make_crops_s']:.1f} s")


def main() -> None:
    cli(__doc__, run, describe, repeats=1)


if __name__ == "__main__":
    main()
