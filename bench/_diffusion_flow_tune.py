"""Time-to-threshold on ring8 / grid25 for diffusion and flow matching (2 CPU threads).

    .venv/bin/python bench/_diffusion_flow_tune.py diffusion ring8 --seconds 10 --set lr=2e-3

Trains with fresh batches from the dataset's sampler, pausing the clock every ``--every`` seconds
to draw 2,500 samples and score them (PacGAN-style: all modes, >= 90 % high quality, mode-weight
TV <= 0.10, spread ratio in [0.8, 1.25]). Only training time is counted.
"""

from __future__ import annotations

import argparse
import time

import torch

from compute import datasets, registry


def score(x: torch.Tensor, modes: torch.Tensor, std: float, min_count: int = 20) -> dict[str, float]:
    d = torch.cdist(x.double(), modes.double())  # (N, K)
    dist, k = d.min(1)
    hq = dist < 3 * std
    counts = torch.bincount(k[hq], minlength=len(modes)).double()
    w = counts / counts.sum().clamp(min=1)
    tv = 0.5 * (w - 1.0 / len(modes)).abs().sum()
    spread = (dist[hq].pow(2).mean() / 2).sqrt() / std if hq.any() else torch.tensor(float("inf"))
    spread_all = (dist.pow(2).mean() / 2).sqrt() / std
    return {
        "modes": int((counts >= min_count).sum()),
        "hq": float(hq.double().mean()),
        "tv": float(tv),
        "spread": float(spread),
        "spread_all": float(spread_all),
    }


def ok(m: dict[str, float], k: int) -> bool:
    return m["modes"] == k and m["hq"] >= 0.9 and m["tv"] <= 0.10 and 0.8 <= m["spread"] <= 1.25


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=0, help="step budget instead of seconds (noisy machine)")
    ap.add_argument("--every-steps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variant", default=None)
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--knob", nargs="*", default=[])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = datasets.load(args.data, args.seed)
    raw = dict(s.split("=", 1) for s in args.set)
    overrides = registry.coerce_overrides(args.model, raw)
    model = registry.build(args.model, ds.spec, variant=args.variant, seed=args.seed, **overrides)
    knobs = {}
    for s in args.knob:
        k, v = s.split("=", 1)
        knobs[k] = v if k == "sampler" else float(v)
    bs = model.config.batch_size
    g = torch.Generator().manual_seed(args.seed + 100)
    elapsed, steps, first_ok = 0.0, 0, None
    next_eval = args.every_steps if args.steps else args.every
    while (steps < args.steps) if args.steps else (elapsed < args.seconds - 1e-9):
        t0 = time.perf_counter()
        if args.steps:
            while steps < min(next_eval, args.steps):
                model.train_step(ds.sample(bs, g))
                steps += 1
        else:
            while time.perf_counter() - t0 < min(next_eval, args.seconds) - elapsed:
                model.train_step(ds.sample(bs, g))
                steps += 1
        elapsed += time.perf_counter() - t0
        t1 = time.perf_counter()
        x = model.sample(2500, seed=1, **knobs)
        ts = time.perf_counter() - t1
        m = score(x, ds.modes, ds.mode_std)
        good = ok(m, len(ds.modes))
        if good and first_ok is None:
            first_ok = (elapsed, steps)
        if not good:
            first_ok = None
        print(
            f"t={elapsed:5.1f}s steps={steps:5d} ({steps / elapsed:4.0f}/s) modes={m['modes']:2d} "
            f"hq={m['hq']:.3f} tv={m['tv']:.3f} spread={m['spread']:.3f} (all {m['spread_all']:.2f}) "
            f"{'OK' if good else '--'}  sample {ts:.1f}s nfe={model.nfe}",
            flush=True,
        )
        next_eval = (steps + args.every_steps) if args.steps else (elapsed + args.every)
    print(f"first OK (and stayed): {first_ok}")


if __name__ == "__main__":
    main()
