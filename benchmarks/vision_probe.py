"""Does a vision tower resolve what the questions ask? A supervised probe on its frozen features.

    python benchmarks/vision_probe.py                        # the shipped base's tower, and a fresh one as control
    python benchmarks/vision_probe.py --model B --scenes 6000 --json probe.json

For every object of fresh world scenes, the features of the 3×3 patches around its centre are concatenated and a
small classifier (one hidden layer, trained with AdamW on the objects of 80% of the scenes, scored on the rest)
predicts its shape, colour and size. Relations between objects follow from which object sits in which cell (the
position family answers from the same features), so a tower whose probe reads shape and colour resolves relations
too. Probed: the tower's last layer (what the projector sees) and the projector's output (what the
decoder sees), for the model given and for a freshly initialised tower of the same size (how much of it the raw
patches give away). A base whose probe is high but whose answers about shape are near chance reads out poorly:
headroom RL can reach without a better eye.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from seethink.miniature.world.scene import COLOURS, SHAPES, SIZES, render, sample_scene
from seethink.models.load import load_model
from seethink.resolve import model_path

TARGETS = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES}


def objects_of(scenes) -> list[tuple[int, float, float, dict[str, int]]]:
    """(scene index, centre x, centre y, each target's class index) of every object."""
    return [
        (i, o.x, o.y, {k: TARGETS[k].index(getattr(o, k)) for k in TARGETS})
        for i, s in enumerate(scenes)
        for o in s.objects
    ]


def window(h: torch.Tensor, x: float, y: float, size: int) -> torch.Tensor:
    """The 3×3 patches around the patch holding (x, y), concatenated in order (clamped at the border)."""
    grid = int(h.shape[0] ** 0.5)
    r = min(grid - 2, max(1, int(y / size * grid)))
    c = min(grid - 2, max(1, int(x / size * grid)))
    return torch.cat([h[(r + dr) * grid + c + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)])


def crop(pix: torch.Tensor, x: float, y: float, size: int, half: int = 12) -> torch.Tensor:
    """The processed pixels of the 24×24 square around (x, y), zero-padded at the border: the control a tower
    is read against (the pixels hold the shape; does the tower keep it?)."""
    scale = pix.shape[-1] / size
    padded = torch.nn.functional.pad(pix, (half, half, half, half))
    r, c = int(round(y * scale)) + half, int(round(x * scale)) + half
    return padded[:, r - half : r + half, c - half : c + half].reshape(-1)


@torch.inference_mode()
def features(model, processor, scenes, batch: int = 128) -> dict[str, torch.Tensor]:
    """(objects, 9*dim) features of the patches around each object, for the tower's output and the projector's."""
    size = scenes[0].image_size
    out = {"pixels": [], "tower": [], "projector": []}
    for start in range(0, len(scenes), batch):
        part = scenes[start : start + batch]
        pix = processor.image_processor(images=[np.asarray(render(s)) for s in part], return_tensors="pt")[
            "pixel_values"
        ]
        hidden = model.model.vision_tower(pix).last_hidden_state[:, 1:]  # the "default" strategy drops CLS
        for name, h in (("tower", hidden), ("projector", model.model.multi_modal_projector(hidden))):
            out[name] += [window(h[j], o.x, o.y, size) for j, s in enumerate(part) for o in s.objects]
        out["pixels"] += [crop(pix[j], o.x, o.y, size) for j, s in enumerate(part) for o in s.objects]
    return {k: torch.stack(v) for k, v in out.items()}


def probe(x: torch.Tensor, y: torch.Tensor, train: torch.Tensor, seed: int, epochs: int = 40) -> float:
    """Held-out accuracy of a one-hidden-layer classifier from object features to one target."""
    xtr, ytr, xte, yte = x[train], y[train], x[~train], y[~train]
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[-1], 256), torch.nn.GELU(), torch.nn.Linear(256, int(y.max()) + 1)
    )
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    with torch.enable_grad():
        for _ in range(epochs):
            for idx in torch.randperm(len(ytr), generator=g).split(256):
                loss = torch.nn.functional.cross_entropy(net(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        return float((net(xte).argmax(-1) == yte).float().mean())


def fresh_like(model):
    """The same architecture with freshly initialised weights (the control: what raw patches give away)."""
    torch.manual_seed(0)
    return type(model)(model.config).eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="base", help="model folder (default: the shipped base)")
    ap.add_argument("--scenes", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=12345, help="scene stream; not a seed the world's splits use")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.scenes < 50:
        print("vision_probe: --scenes must be >= 50", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    model, processor = load_model(model_path(a.model), device="cpu")
    model.eval()
    size = processor.image_processor.crop_size["height"]
    rng = random.Random(a.seed)
    scenes = [sample_scene(rng, size) for _ in range(a.scenes)]
    objs = objects_of(scenes)
    ys = {k: torch.tensor([t[k] for *_, t in objs]) for k in TARGETS}
    train = torch.tensor([i < int(a.scenes * 0.8) for i, *_ in objs])  # split by scene
    results = {}
    for who, m in (("model", model), ("fresh tower", fresh_like(model))):
        t0 = time.time()
        feats = features(m, processor, scenes)
        for where, x in feats.items():
            if where == "pixels" and who != "model":
                continue
            accs = {k: probe(x, ys[k], train, a.seed) for k in TARGETS}
            results[f"{who} / {where}"] = accs
            print(
                f"{who:>12} / {where:<9} "
                + "  ".join(f"{k} {v:.3f}" for k, v in accs.items())
                + f"   ({time.time() - t0:.0f} s)",
                flush=True,
            )
    chance = {k: float(torch.bincount(ys[k]).max() / len(ys[k])) for k in TARGETS}
    print("  majority class: " + "  ".join(f"{k} {v:.3f}" for k, v in chance.items()))
    if a.json:
        a.json.write_text(
            json.dumps({"model": str(a.model), "scenes": a.scenes, "probe": results, "majority": chance}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
