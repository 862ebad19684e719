"""Command line: train one model on one dataset and write its artifacts, or list what exists.

    python -m compute list
    python -m compute score SAMPLES.npy --dataset grid25 [--seed 0]
    python -m compute train diffusion --dataset ring8 --steps 3000 --seed 0 --out runs-out/ddpm \\
        [--variant cosine] [--seconds 60] [--set hidden=128 --set lr=1e-3] [--device cpu]

``train`` writes into --out: metrics.json (metrics, config, steps, wall time, NFE, parameter
count, device, seed, torch version), samples.npy, samples.png (samples.txt for text),
losses.json and losses.png. ``score`` prints, as JSON, every 2-D metric of an (N, 2) array of
samples and the verdict-grade judgement the atlas's experiments use (compute.metrics.score_2d).
Unknown names or bad values exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compute import datasets, registry


class UsageError(Exception):
    """A bad name or value from the command line (exit status 2)."""


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def jsonable(x: Any) -> Any:
    """Plain JSON types; NaN/inf become None (JSON has neither)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, bool | int | str):
        return x
    return str(x)


class ProgressBar:
    """tqdm bar fed by the trainer's callbacks."""

    def __init__(self, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="step", dynamic_ncols=True)

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in list(losses.items())[:4]}, refresh=False)

    def on_end(self, result: Any) -> None:
        self.bar.update(result.steps - self.bar.n)
        self.bar.close()


def cmd_list() -> int:
    print("models:")
    for entry in registry.describe():
        if entry["available"]:
            print(
                f"  {entry['name']:<17} family={entry['family']:<15} data={','.join(entry['data_kinds']):<24}"
                f" variants={', '.join(entry['variants'])} (default {entry['default_variant']})"
            )
        else:
            print(f"  {entry['name']:<17} unavailable: {entry['error']}")
    print("datasets:")
    for name in datasets.names():
        print(f"  {name:<17} {datasets.kind_of(name)}")
    return 0


def _prepare(args: argparse.Namespace) -> tuple[Any, Any]:
    """Validate names and values, then load the data and build the model (UsageError when bad)."""
    try:
        cls = registry.get(args.model)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    except ImportError as err:
        raise UsageError(f"model {args.model!r} is not available: {err}") from None
    defaults = {"points2d": "ring8", "image": "digits", "tokens": "text"}
    dataset_name = args.dataset or defaults[cls.data_kinds[0]]
    try:
        kind = datasets.kind_of(dataset_name)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    if kind not in cls.data_kinds:
        raise UsageError(
            f"{args.model} does not support {dataset_name} ({kind}); it supports {', '.join(cls.data_kinds)}"
        )
    if args.steps <= 0 or (args.seconds is not None and args.seconds <= 0) or (args.batch_size or 1) <= 0:
        raise UsageError("--steps, --seconds and --batch-size must be positive")
    try:
        overrides = registry.coerce_overrides(args.model, _parse_sets(args.set))
        dataset = datasets.load(dataset_name, seed=args.seed)
        model = registry.build(
            args.model, dataset.spec, variant=args.variant, seed=args.seed, device=args.device, **overrides
        )
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    return dataset, model


def cmd_train(args: argparse.Namespace) -> int:
    from compute import plots
    from compute.evaluate import evaluate_with_samples
    from compute.trainer import Budget, train

    dataset, model = _prepare(args)
    out = Path(args.out or f"runs-out/{args.model}_{dataset.name}_s{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    result = train(
        model,
        dataset,
        budget=Budget(args.steps, args.seconds),
        batch_size=args.batch_size,
        callbacks=[ProgressBar(args.steps)],
        seed=args.seed,
        preview_n=0,
    )
    if result.stop_reason == "non_finite":
        print(f"stopped: {result.message}", file=sys.stderr)
        evaluation: dict[str, Any] = {"error": result.message}
        samples = None
    else:
        evaluation, samples = evaluate_with_samples(model, dataset, n=args.eval_n, seed=args.seed)
    title = f"{args.model} ({model.config.variant}) on {dataset.name}, {result.steps} steps"
    summary = {
        "model": args.model,
        "variant": model.config.variant,
        "dataset": dataset.name,
        "config": dataclasses.asdict(model.config),
        "steps": result.steps,
        "stop_reason": result.stop_reason,
        "message": result.message,
        "wall_time_s": result.wall_time_s,
        "train_time_s": result.train_time_s,
        "steps_per_s": result.steps_per_s,
        "batch_size": result.batch_size,
        "nfe": model.nfe,
        "parameters": model.parameter_count(),
        "device": result.device,
        "seed": args.seed,
        "torch_version": torch.__version__,
        "final_losses": result.final_losses,
        "metrics": evaluation,
    }
    (out / "metrics.json").write_text(json.dumps(jsonable(summary), indent=2))
    (out / "losses.json").write_text(json.dumps(jsonable(result.history)))
    plots.loss_curves(result.history, out / "losses.png", title=title)
    if samples is not None:
        np.save(out / "samples.npy", samples.numpy())
        if dataset.spec.kind == "points2d":
            plots.scatter_2d(samples, dataset, out / "samples.png", title=title)
        elif dataset.spec.kind == "image":
            plots.digit_grid(samples, out / "samples.png", title=title)
        else:
            (out / "samples.txt").write_text("\n\n".join(dataset.decode(s) for s in samples))
    print(json.dumps(jsonable({k: summary[k] for k in ("steps", "stop_reason", "wall_time_s")}), indent=None))
    print(f"wrote {out}")
    return 0 if result.stop_reason != "non_finite" else 1


def load_points(path: str) -> np.ndarray:
    """An (N, 2) finite float array from a .npy file, N >= 10 (UsageError otherwise)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path!r} as a .npy array: {err}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 10:
        raise UsageError(f"expected an (N, 2) array with N >= 10 in {path!r}, got shape {tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.number):
        raise UsageError(f"expected numbers in {path!r}, got dtype {arr.dtype}")
    bad = int((~np.isfinite(arr)).any(axis=1).sum())
    if bad:
        raise UsageError(f"{bad} of {arr.shape[0]} samples in {path!r} are NaN or infinite")
    return arr.astype(np.float32)


def cmd_score(args: argparse.Namespace) -> int:
    from compute import metrics

    try:
        kind = datasets.kind_of(args.dataset)
    except KeyError:
        raise UsageError(f"unknown dataset {args.dataset!r}; 2-D sets: {', '.join(_points_sets())}") from None
    if kind != "points2d":
        raise UsageError(
            f"score works on 2-D sets ({', '.join(_points_sets())}), not {args.dataset} ({kind})"
        )
    samples = torch.from_numpy(load_points(args.samples))
    out = metrics.score_2d(samples, datasets.load(args.dataset), seed=args.seed)
    print(json.dumps(jsonable(out), indent=2))
    return 0


def _points_sets() -> list[str]:
    return [n for n in datasets.names() if datasets.kind_of(n) == "points2d"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m compute", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="models, variants and datasets")
    t = sub.add_parser("train", help="train one model and write metrics, samples and losses")
    t.add_argument("model", help="registry name, e.g. diffusion, flow-matching, ar-grid")
    t.add_argument("--variant", default=None)
    t.add_argument("--dataset", default=None, help="default: ring8 / digits / text by data kind")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--seconds", type=float, default=None, help="wall-clock budget")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=None, help="default: the config's batch_size, else 256")
    t.add_argument("--out", default=None, help="output folder (default runs-out/MODEL_DATASET_sSEED)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    t.add_argument("--device", default=None, help="cpu / cuda (default: ATLAS_DEVICE, else CUDA if present)")
    t.add_argument("--eval-n", type=int, default=2500, help="samples for the evaluation")
    sc = sub.add_parser("score", help="every 2-D metric and the verdict-grade judgement of saved samples")
    sc.add_argument("samples", help="a .npy file holding an (N, 2) float array")
    sc.add_argument("--dataset", required=True, help="a 2-D set, e.g. ring8, grid25")
    sc.add_argument("--seed", type=int, default=0, help="fixes the reference draw (seed 10,000 + SEED)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list()
        if args.command == "score":
            return cmd_score(args)
        if args.device is None:
            from compute.trainer import pick_device

            args.device = pick_device()
        return cmd_train(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
