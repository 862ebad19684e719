"""CUDA check of compute/: every model trains, samples and scores on the GPU, and the 2-D quality
bar is timed there. One short script for a lent GPU machine (kept under ~2 minutes).

    python bench/gpu_check.py [--seconds 2] [--threshold-seconds 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from compute import datasets, metrics, registry, trainer  # noqa: E402

DATA_FOR = {"points2d": "ring8", "image": "digits", "tokens": "text"}


def check_model(name: str, seconds: float) -> dict:
    cls = registry.get(name)
    dataset = datasets.load(DATA_FOR[cls.data_kinds[0]], seed=0)
    model = registry.build(name, dataset.spec, seed=0, device="cuda")
    on_gpu = all(p.is_cuda for p in model.parameters())
    result = trainer.train(model, dataset, budget=trainer.Budget(10**7, seconds), seed=0, preview_n=0)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    samples = model.sample(256)
    torch.cuda.synchronize()
    sample_s = time.perf_counter() - t0
    ll = model.log_likelihood(dataset.test[:256].to("cuda"))
    values = ll.values
    return {
        "data": dataset.name,
        "params_on_gpu": on_gpu,
        "steps": result.steps,
        "steps_per_s": round(result.steps_per_s, 1),
        "stop": result.stop_reason,
        "samples_finite": bool(torch.isfinite(samples.float()).all()),
        "sample_256_s": round(sample_s, 3),
        "likelihood_kind": ll.kind,
        "nll_mean": None if values is None else round(float(-values.float().mean()), 4),
    }


def threshold(name: str, data: str, seconds: float) -> dict:
    dataset = datasets.load(data, seed=0)
    model = registry.build(name, dataset.spec, seed=0, device="cuda")
    result = trainer.train(model, dataset, budget=trainer.Budget(10**7, seconds), seed=0, preview_n=0)
    stats = metrics.mode_stats(
        model.sample(2500).cpu(), dataset.modes, dataset.mode_std, dataset.mode_weights
    )
    return {
        "model": name,
        "data": data,
        "train_s": seconds,
        "steps": result.steps,
        **stats,
        "meets": metrics.meets_mode_threshold(stats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threshold-seconds", type=float, default=8.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device"
    report: dict = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "models": {},
        "threshold": [],
    }
    for name in registry.names():
        if not registry.is_available(name):
            report["models"][name] = {"skipped": "module not available"}
            continue
        try:
            report["models"][name] = check_model(name, args.seconds)
        except Exception as exc:  # report every model, whatever breaks
            report["models"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(name, report["models"][name], flush=True)
    for name in ("diffusion", "flow-matching"):
        for data in ("ring8", "grid25"):
            try:
                row = threshold(name, data, args.threshold_seconds)
            except Exception as exc:
                row = {"model": name, "data": data, "error": f"{type(exc).__name__}: {exc}"}
            report["threshold"].append(row)
            print(row, flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
