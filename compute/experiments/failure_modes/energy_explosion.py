"""Energy explosion: contrastive divergence with no regulariser vs an L2 penalty on the energies.

Reproduce: an EBM on the 8-Gaussian ring trained by persistent contrastive divergence with the loss
E(x+) - E(x-) alone (``energy_l2 = 0``): the loss only sees energy *differences*, so nothing bounds
their scale and the data/negative gap is free to grow until Langevin steps and energies overflow.
Fix: the same run with Du & Mordatch's (2019, sec. 3.3) penalty alpha (E(x+)^2 + E(x-)^2), alpha = 0.1.

Metrics: the largest |E| on each training batch over training (curve), NaN events (the trainer stops a
run at the first non-finite loss and reports its step), and sample quality after training (PacGAN mode
statistics of 1,000 Langevin samples; non-finite samples count as low quality).
Verdict per seed: the failure shows when the unregularised run's peak |E| exceeds 1,000 or it hits a
NaN; the fix beats it when it stays finite, its peak |E| stays below 1,000 and it captures at least as
many modes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

DATASET = "ring8"
SHARED: dict[str, Any] = {"variant": "cd-persistent", "hidden": 64, "sgld_steps": 20}
REPRODUCE: dict[str, Any] = {"energy_l2": 0.0}
FIX: dict[str, Any] = {"energy_l2": 0.1}
FULL_STEPS = 800
N_SAMPLES = 1000
EXPLODED = 1000.0  # |E| in nats; the regularised runs stay around 10


class EnergyExplosion(common.FailureMode):
    slug = "energy-explosion"
    title = "Energy explosion: contrastive divergence without vs with an L2 energy penalty (8-Gaussian ring)"

    claim = (
        "Contrastive divergence with no regulariser lets the energies' scale grow without bound until "
        "Langevin steps and energies overflow; an L2 penalty on the energies keeps them bounded."
    )
    prediction = (
        "Without the penalty the peak |E| passes 1,000 or the run hits a NaN on every seed; with alpha = 0.1 "
        "it stays finite, below 1,000, with at least as many modes captured."
    )
    control_text = (
        "The same explosion detector (peak |E| > 1,000 or a NaN) on the penalised runs, which differ in "
        "nothing but alpha: it must not fire. (This control is the fix arm read by the failure rule.)"
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        fp, fn = common.per_seed(m, "fix", "peak_abs_energy"), common.per_seed(m, "fix", "nan_step")
        flagged = [not (p <= EXPLODED) or math.isfinite(n) for p, n in zip(fp, fn, strict=True)]
        return common.control_over_seeds(flagged, f"the penalised runs peaked at |E| {_sci(fp)}")

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rp, rn = (
            common.per_seed(m, "reproduce", "peak_abs_energy"),
            common.per_seed(m, "reproduce", "nan_step"),
        )
        fp, fn = common.per_seed(m, "fix", "peak_abs_energy"), common.per_seed(m, "fix", "nan_step")
        rmod, fmod = common.both_arms(m, "modes")
        failure = [not (p <= EXPLODED) or math.isfinite(n) for p, n in zip(rp, rn, strict=True)]
        fixed = [
            (p <= EXPLODED) and not math.isfinite(n) and (fm >= rm or not math.isfinite(rm))
            for p, n, fm, rm in zip(fp, fn, fmod, rmod, strict=True)
        ]
        r_nan = sum(math.isfinite(n) for n in rn)
        f_nan = sum(math.isfinite(n) for n in fn)
        summary = (
            f"without the penalty the peak |E| reached {_sci(rp)} with NaN on {r_nan} of {len(rn)} seeds and "
            f"{common.pm(rmod, 1)} of 8 modes captured; with alpha = {m.get('alpha', FIX['energy_l2'])} it "
            "peaked "
            f"at {_sci(fp)}, NaN on {f_nan} of {len(fn)} seeds, {common.pm(fmod, 1)} modes"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "the explosion")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets, metrics

        steps, seeds = common.budget(scale, FULL_STEPS)
        m: dict[str, Any] = {"seeds": seeds, "alpha": FIX["energy_l2"]}
        curves: dict[str, list[list[tuple[float, float]]]] = {}
        samples: dict[str, Any] = {}
        for arm, cfg in (("reproduce", REPRODUCE), ("fix", FIX)):
            out: dict[str, list[Any]] = {
                k: []
                for k in ("peak_abs_energy", "final_abs_energy", "nan_step", "modes", "hq", "steps_done")
            }
            curves[arm] = []
            for seed in seeds:
                data = datasets.load(DATASET, seed)
                rec = common.Recorder(["energy_abs_max"], every=max(1, steps // 80))
                model, res = common.train_model(
                    "ebm", data, seed=seed, steps=steps, callbacks=[rec], **cfg, **SHARED
                )
                pts = rec.points["energy_abs_max"]
                values = [v for _, v in pts]
                out["peak_abs_energy"].append(
                    max(values)
                    if values and all(map(math.isfinite, values))
                    else float("inf")
                    if values
                    else float("nan")
                )
                out["final_abs_energy"].append(values[-1] if values else float("nan"))
                nan_step = rec.non_finite_step if res.stop_reason == "non_finite" else None
                out["nan_step"].append(nan_step)
                out["steps_done"].append(res.steps)
                x = model.sample(N_SAMPLES, seed=10_000 + seed)
                if not bool(torch.isfinite(x).all()):
                    x = torch.nan_to_num(x, nan=1e6, posinf=1e6, neginf=-1e6)
                st = metrics.mode_stats(x, data.modes, data.mode_std)
                out["modes"].append(st["modes_captured"])
                out["hq"].append(st["hq_fraction"])
                curves[arm].append([(s, min(v, 1e30)) for s, v in pts if math.isfinite(v)])
                if seed == seeds[0]:
                    samples[arm] = x
                log(
                    f"{arm} seed {seed}: peak |E| {out['peak_abs_energy'][-1]:.3g} nan_step {nan_step} "
                    f"modes {st['modes_captured']} HQ {st['hq_fraction']:.3f}"
                )
            m[arm] = out

        return self.report(seeds=seeds, m=m, steps=steps, curves=curves, samples=samples)

    def report(self, *, seeds: Any, m: Any, steps: Any, curves: Any, samples: Any) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        from compute import datasets

        rows = [
            ("peak |E| on a training batch", "peak_abs_energy", 1),
            ("final |E| on a training batch", "final_abs_energy", 1),
            ("modes captured (of 8)", "modes", 1),
            ("high-quality fraction", "hq", 3),
            ("steps completed", "steps_done", 0),
        ]
        nan_row = [
            "runs that hit NaN",
            *[
                f"{sum(v is not None for v in m[a]['nan_step'])} of {len(seeds)}"
                for a in ("reproduce", "fix")
            ],
        ]
        table = common.metric_table(
            f"Mean ± std over {len(seeds)} seeds ({steps} steps, {N_SAMPLES} samples)",
            m,
            rows,
            ("no penalty (reproduce)", "L2 penalty α=0.1 (fix)"),
        )
        table.rows.append(nan_row)
        tables = [
            table,
            common.seed_table(
                "Per seed",
                m,
                [
                    ("peak |E|", "peak_abs_energy"),
                    ("NaN at step", "nan_step"),
                    ("modes", "modes"),
                    ("HQ", "hq"),
                ],
            ),
        ]
        figures = {
            "energy_curve": common.curve_figure(
                {"no penalty": curves["reproduce"], "L2 penalty": curves["fix"]},
                "step",
                "max |E| on the batch",
                "Energy magnitude during training (one line per seed)",
                logy=True,
            ),
            "samples": common.scatter_panels(
                [("no penalty (reproduce)", samples["reproduce"]), ("L2 penalty (fix)", samples["fix"])],
                datasets.load(DATASET, seeds[0]),
            ),
        }
        base = {"dataset": DATASET, "steps": steps, "seed": 0}
        recipes = common.arm_recipes("ebm-cd-2d", {**base, **SHARED, **REPRODUCE}, {**base, **SHARED, **FIX})
        params = {
            "dataset": DATASET,
            "steps": steps,
            "seeds": seeds,
            "samples": N_SAMPLES,
            **common.arm_configs(SHARED, REPRODUCE, FIX),
            "exploded_above": EXPLODED,
        }
        return self.finish(m, tables, params, figures, recipes)


def _sci(values: list[float]) -> str:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return "n/a"
    if any(math.isinf(v) for v in vals):
        return "overflow (inf)"
    return f"{min(vals):.3g} to {max(vals):.3g}" if len(vals) > 1 else f"{vals[0]:.3g}"
