"""Time to the 2-D quality threshold for diffusion and flow matching, as bench/families.py measures it.

    .venv/bin/python bench/_diffusion_flow_tune.py --models diffusion,flow-matching --datasets ring8,grid25 \
        --seeds 0,1,2 --seconds 15 --threads 2 [--set key=value ...] [--steps N]

The trainer runs the model's defaults (batch size from its Config) with fresh batches; every
``--eval-every`` seconds of *training* time (evaluations excluded) it draws 2,500 samples under a
fixed seed and scores them with compute.metrics.mode_stats (PacGAN protocol: all modes, HQ >= 90 %,
mode-weight TV <= 0.10, spread ratio in [0.8, 1.25]). Unlike bench/families.py it keeps checking
after the first hit, so it also says whether the threshold *holds*, and it skips the final
evaluate() (which needs POT). ``--steps`` replaces the clock by a step budget (a busy machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from compute import datasets, metrics, registry  # noqa: E402
from compute.evaluate import draw  # noqa: E402
from compute.trainer import Budget, train  # noqa: E402


class Watch:
    """Trainer callback: stop after ``budget_s`` training seconds (or never, with a step budget) and
    check the mode statistics every ``every_s`` training seconds or ``every_steps`` steps."""

    def __init__(self, model: Any, data: datasets.Dataset, budget_s: float, every_s: float, every_steps: int):
        self.model, self.data = model, data
        self.budget_s, self.every_s, self.every_steps = budget_s, every_s, every_steps
        self.t0, self.eval_s, self.last, self.last_step = time.perf_counter(), 0.0, 0.0, 0
        self.checks: list[dict[str, Any]] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.eval_s

    def on_start(self, info: dict[str, Any]) -> None:
        self.t0 = time.perf_counter()

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        t = self.elapsed()
        due = step - self.last_step >= self.every_steps if self.every_steps else t - self.last >= self.every_s
        if due:
            self.check(step, t)

    def check(self, step: int, t: float) -> None:
        te = time.perf_counter()
        x, sample_s = draw(self.model, 2500, seed=0)
        stats = metrics.mode_stats(x, self.data.modes, self.data.mode_std, self.data.mode_weights)
        ok = metrics.meets_mode_threshold(stats)
        self.checks.append(
            {"t": round(t, 2), "step": step, "ok": ok, "sample_s": round(sample_s, 2), **stats}
        )
        self.last, self.last_step = t, step
        self.eval_s += time.perf_counter() - te

    def should_stop(self) -> bool:
        return self.budget_s > 0 and self.elapsed() >= self.budget_s


def run(name: str, data_name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    data = datasets.load(data_name, seed=seed)
    overrides = registry.coerce_overrides(name, dict(s.split("=", 1) for s in args.set))
    model = registry.build(name, data.spec, seed=seed, device=args.device, **overrides)
    watch = Watch(model, data, 0 if args.steps else args.seconds, args.eval_every, args.every_steps)
    steps = args.steps or 10**9
    result = train(
        model,
        data,
        budget=Budget(steps),
        callbacks=[watch],
        seed=seed,
        preview_n=0,
        progress_every_s=0.0 if args.steps else 0.05,
    )
    watch.check(result.steps, watch.elapsed())  # the state at the end of the budget
    first = next((c for c in watch.checks if c["ok"]), None)
    holds = next((c for i, c in enumerate(watch.checks) if all(d["ok"] for d in watch.checks[i:])), None)
    return {
        "model": name,
        "dataset": data_name,
        "seed": seed,
        "steps": result.steps,
        "train_s": round(result.train_time_s, 2),
        "steps_per_s": round(result.steps / result.train_time_s, 1),
        "nfe": model.nfe,
        "t_first": first and first["t"],
        "t_holds": holds and holds["t"],
        "step_first": first and first["step"],
        "final": watch.checks[-1],
        "checks": watch.checks,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="diffusion,flow-matching")
    p.add_argument("--datasets", default="ring8,grid25")
    p.add_argument("--seeds", default="0")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--eval-every", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=0, help="a step budget instead of seconds")
    p.add_argument("--every-steps", type=int, default=0, help="with --steps: steps between checks")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = []
    for name in args.models.split(","):
        for data_name in args.datasets.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = run(name, data_name, seed, args)
                out.append(r)
                f = r["final"]
                print(
                    f"{name:14s} {data_name:7s} seed={seed} steps={r['steps']:5d} ({r['steps_per_s']:.0f}/s) "
                    f"nfe={r['nfe']} first OK t={r['t_first']}s (step {r['step_first']}) holds from "
                    f"t={r['t_holds']}s | end: modes={f['modes_captured']}/{f['num_modes']} "
                    f"hq={f['hq_fraction']:.3f} tv={f['mode_weight_tv']:.3f} spread={f['spread_ratio']:.3f} "
                    f"sample 2500: {f['sample_s']}s",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
