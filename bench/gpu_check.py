"""CUDA check of compute/: every model trains, samples and scores on the GPU, the 2-D quality
bar is timed there, and so is each fast 2-D demo (issue 15's target on CUDA: a demo ends within
2 s). One short script for a lent GPU machine (kept under ~2 minutes).

    python bench/gpu_check.py [--seconds 2] [--threshold-seconds 8] [--quality-every 0.25] [--out DIR]
    python bench/gpu_check.py --device cpu --demos-only     # the same demo timings on this CPU

A demo is timed in-process, as a worker runs it (atlas/runs/execution.py): the recipe's defaults,
the stopping rule checked every --quality-every seconds, the demo's time budget, the final
evaluation with the demo's likelihood sample. The web stack's own cost (queue, database, figures)
is not included: bench/demos.py measures that on CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from atlas.runs import recipes  # noqa: E402  (plain dataclasses: no Django needed)
from compute import datasets, evaluate, metrics, registry, trainer  # noqa: E402
from compute.stopping import QualityStop  # noqa: E402

DATA_FOR = {"points2d": "ring8", "image": "digits", "tokens": "text"}
FAST_DEMOS = ("ddpm-2d", "flow-matching-2d", "ar-grid-2d")


def demo(slug: str, data: str, device: str, quality_every: float) -> dict:
    """One default demo of ``slug`` on ``data``: wall seconds from building the model to metrics."""
    recipe = recipes.get(slug)
    config, _ = recipe.validate({"dataset": data, "seed": 1})
    started = time.perf_counter()
    model, dataset, settings = recipe.build(config, device=device)
    stop = QualityStop(model, dataset, seed=1, every_s=quality_every)
    budget = trainer.Budget(settings["steps"], recipe.demo_budget_s(settings))
    result = trainer.train(model, dataset, budget=budget, callbacks=[stop], seed=1, preview_n=0)
    scored = evaluate.evaluate(model, dataset, n=recipe.eval_samples, seed=1, nll_n=recipe.nll_n(settings))
    converged = stop.converged_at
    return {
        "recipe": slug,
        "data": data,
        "wall_s": round(time.perf_counter() - started, 2),
        "stop": result.stop_reason,
        "steps": result.steps,
        "bar_at_train_s": None if converged is None else round(converged.train_s, 2),
        "meets_at_end": (scored.get("judgement") or {}).get("meets"),
    }


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
    parser.add_argument("--quality-every", type=float, default=0.25, help="seconds between a demo's checks")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--demos-only", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    assert args.device != "cuda" or torch.cuda.is_available(), "no CUDA device"
    report: dict = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else args.device,
        "torch": torch.__version__,
        "models": {},
        "threshold": [],
        "demos": [],
    }
    for slug in FAST_DEMOS:
        for data in ("ring8", "grid25"):
            row = demo(slug, data, args.device, args.quality_every)
            report["demos"].append(row)
            print(row, flush=True)
    if args.demos_only:
        return _write(report, args.out)
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
    _write(report, args.out)


def _write(report: dict, out: str | None) -> None:
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu_check.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
