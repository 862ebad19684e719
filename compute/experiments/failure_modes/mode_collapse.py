"""Mode collapse: the saturating minimax GAN vs the non-saturating loss (25-Gaussian grid, 8-Gaussian ring).

Reproduce: Goodfellow et al.'s minimax value function with the *saturating* generator loss
E[log(1 - D(G(z)))], whose gradient vanishes where D confidently rejects the fakes. Fix: one change,
the non-saturating generator loss -E[log D(G(z))] (Goodfellow et al. 2014, sec. 3). Reported beside
them, not judged: the non-saturating loss *plus* an R1 gradient penalty on real data (Mescheder et al.
2018, gamma = 1), the regularised recipe the node's "modern regularised recipes such as R3GAN" builds
on. All arms share the networks, the data stream, the seeds and the number of generator steps.

Metrics on 2,500 samples: the literature columns of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin
et al. 2018) -- a mode "captured" with one sample within 3 std, the high-quality fraction -- shown as
such, and the verdict-grade judgement of :func:`compute.metrics.judge_2d`: a mode counts only with
>= 50 % of its expected high-quality mass, mode weights on high-quality samples, a 90 % HQ gate and a
diagnosis that tells collapse (few modes, sharp) from divergence and unstructured noise.

Verdict per (dataset, seed): the failure shows when judge_2d diagnoses the minimax GAN's samples as
*collapse*; the fix beats it when the non-saturating GAN holds more counted modes. Negative control:
exact mixture samples and uniform noise over the data box, judged by the same code; neither may be
called collapse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASETS = ("grid25", "ring8")
SHARED: dict[str, Any] = {"hidden": 128}
REPRODUCE: dict[str, Any] = {"variant": "minimax"}
FIX: dict[str, Any] = {"variant": "non-saturating"}
ALSO: dict[str, Any] = {"variant": "non-saturating", "r1_gamma": 1.0}
ARMS = (
    ("reproduce", "minimax GAN (reproduce)", REPRODUCE),
    ("fix", "non-saturating GAN (fix)", FIX),
    ("also", "non-saturating + R1 (beside)", ALSO),
)
FIX_NAME = "the non-saturating GAN"
FULL_STEPS = 1500
N_SAMPLES = 2500
NUM_MODES = {"grid25": 25, "ring8": 8}
KEYS = ("counted", "hq", "tv", "spread", "lit_modes", "diagnosis")


def judged(samples: Any, data: Any) -> dict[str, Any]:
    """The per-sample-set numbers this experiment keeps (judge_2d plus the literature mode count)."""
    from compute import metrics

    j = metrics.judge_2d(samples, data)
    return {
        "counted": j.modes_counted,
        "hq": j.hq_fraction,
        "tv": j.hq_mode_tv,
        "spread": j.spread_ratio,
        "lit_modes": j.literature_modes_captured,
        "diagnosis": j.diagnosis,
    }


def control_samples(data: Any, seed: int) -> dict[str, Any]:
    """Exact mixture samples and uniform noise over the data box (the negative control's inputs)."""
    import torch

    g = torch.Generator().manual_seed(20_000 + seed)
    lo, hi = data.spec.bounds
    return {
        "exact": data.sample(N_SAMPLES, g),
        "noise": lo + (hi - lo) * torch.rand(N_SAMPLES, 2, generator=g),
    }


class ModeCollapse(common.FailureMode):
    slug = "mode-collapse"
    title = (
        "Mode collapse: saturating minimax GAN vs the non-saturating loss (25-Gaussian grid, 8-Gaussian ring)"
    )
    claim = "The saturating minimax GAN loss collapses onto a few modes; the non-saturating loss covers more."
    prediction = (
        "judge_2d calls the minimax GAN's samples 'collapse' (some mode under 50 % of its expected "
        "high-quality mass while the samples stay sharp) on every dataset and seed, and the "
        "non-saturating GAN, changed in nothing else, holds more counted modes."
    )
    control_text = (
        "Exact samples of each mixture and uniform noise over its box, 2,500 each per seed, judged by the "
        "same judge_2d: neither may be diagnosed 'collapse' (noise must read as 'noise', not collapse)."
    )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        labels, failure, fixed, parts = [], [], [], []
        for ds in m["datasets"]:
            rd, rc = m["reproduce"][f"{ds}_diagnosis"], common.per_seed(m, "reproduce", f"{ds}_counted")
            fc = common.per_seed(m, "fix", f"{ds}_counted")
            for seed, d, a, b in zip(m["seeds"], rd, rc, fc, strict=True):
                labels.append(f"{ds}/{seed}")
                failure.append(d == "collapse")
                fixed.append(b > a)
            k = NUM_MODES.get(ds, 0)
            parts.append(
                f"on {ds} the minimax GAN held {common.pm(rc, 1)} of {k} modes "
                f"({common.pm_pct(common.per_seed(m, 'reproduce', f'{ds}_hq'), 1)} high-quality; "
                f"diagnoses {', '.join(rd)}), {m.get('fix_name', FIX_NAME)} {common.pm(fc, 1)} "
                f"({common.pm_pct(common.per_seed(m, 'fix', f'{ds}_hq'), 1)}; "
                f"diagnoses {', '.join(m['fix'][f'{ds}_diagnosis'])})"
            )
        return common.pair_verdict(
            common.PairOutcome(labels, failure, fixed), "; ".join(parts), "mode collapse", len(m["seeds"])
        )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        c = m["control"]
        flagged = [
            d == "collapse" for ds in m["datasets"] for case in ("exact", "noise") for d in c[f"{ds}_{case}"]
        ]
        what = "; ".join(
            f"{ds}: exact -> {', '.join(c[f'{ds}_exact'])}, noise -> {', '.join(c[f'{ds}_noise'])}"
            for ds in m["datasets"]
        )
        return (not any(flagged)), ("rejected: " if not any(flagged) else "NOT rejected: ") + what

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        steps, seeds = common.budget(scale, FULL_STEPS)
        m: dict[str, Any] = {"seeds": seeds, "datasets": list(DATASETS), "fix_name": FIX_NAME}
        shown: dict[tuple[str, str], Any] = {}
        for arm, _, cfg in ARMS:
            m[arm] = {f"{ds}_{k}": [] for ds in DATASETS for k in KEYS}
            for ds in DATASETS:
                for seed in seeds:
                    x, numbers = self.arm_seed(ds, seed, steps, cfg)
                    for k in KEYS:
                        m[arm][f"{ds}_{k}"].append(numbers[k])
                    shown.setdefault((arm, ds), x)
                    log(f"{arm} {ds} seed {seed}: {numbers['counted']} modes counted, {numbers['diagnosis']}")
        m["control"] = self.measure_control(seeds)
        return self.finish(
            m,
            self.tables(m, seeds),
            self.params(steps, seeds),
            self.figures(shown, seeds),
            self.recipes(steps),
        )

    @staticmethod
    def arm_seed(ds: str, seed: int, steps: int, cfg: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from compute import datasets

        data = datasets.load(ds, seed)
        model, _ = common.train_model("gan", data, seed=seed, steps=steps, **cfg, **SHARED)
        x = model.sample(N_SAMPLES, seed=10_000 + seed)
        return x, judged(x, data)

    @staticmethod
    def measure_control(seeds: list[int]) -> dict[str, list[str]]:
        from compute import datasets

        out: dict[str, list[str]] = {f"{ds}_{c}": [] for ds in DATASETS for c in ("exact", "noise")}
        for ds in DATASETS:
            for seed in seeds:
                data = datasets.load(ds, seed)
                for case, x in control_samples(data, seed).items():
                    out[f"{ds}_{case}"].append(judged(x, data)["diagnosis"])
        return out

    @staticmethod
    def tables(m: dict[str, Any], seeds: list[int]) -> list[Table]:
        rows = []
        for ds in DATASETS:
            rows += [
                (f"{ds}: modes counted, judge_2d (of {NUM_MODES[ds]})", f"{ds}_counted", 1),
                (f"{ds}: high-quality fraction", f"{ds}_hq", 3),
                (f"{ds}: mode-weight TV on HQ samples", f"{ds}_tv", 3),
                (f"{ds}: spread ratio (1 = exact)", f"{ds}_spread", 2),
                (f"{ds}: literature: modes with >= 1 HQ sample", f"{ds}_lit_modes", 1),
            ]
        labels = tuple(label for _, label, _ in ARMS)
        arms = tuple(arm for arm, _, _ in ARMS)
        return [
            common.metric_table(f"Mean ± std over seeds, {N_SAMPLES} samples each", m, rows, labels, arms),
            common.seed_table(
                "Per seed (diagnosis by judge_2d)",
                m,
                [(f"{ds} {k}", f"{ds}_{k}") for ds in DATASETS for k in ("counted", "hq", "diagnosis")],
                arms,
            ),
            Table(
                "Negative control: the same judge_2d on exact samples and on uniform noise over the box",
                ["dataset", "seed", "exact samples", "uniform noise"],
                [
                    [ds, seed, m["control"][f"{ds}_exact"][i], m["control"][f"{ds}_noise"][i]]
                    for ds in DATASETS
                    for i, seed in enumerate(seeds)
                ],
            ),
        ]

    @staticmethod
    def figures(shown: dict[tuple[str, str], Any], seeds: list[int]) -> dict[str, bytes]:
        from compute import datasets

        return {
            f"samples_{ds}": common.scatter_panels(
                [(label, shown[(arm, ds)]) for arm, label, _ in ARMS], datasets.load(ds, seeds[0])
            )
            for ds in DATASETS
        }

    @staticmethod
    def params(steps: int, seeds: list[int]) -> dict[str, Any]:
        return {
            "datasets": list(DATASETS),
            "generator_steps": steps,
            "seeds": seeds,
            "samples": N_SAMPLES,
            **common.arm_configs(SHARED, REPRODUCE, FIX),
            "beside": ALSO,
            "criterion": "compute.metrics.judge_2d",
        }

    @staticmethod
    def recipes(steps: int) -> list[dict[str, Any]]:
        base = {"dataset": DATASETS[0], "steps": steps, "seed": 0}
        return common.arm_recipes("gan-2d", {**base, **REPRODUCE, **SHARED}, {**base, **FIX, **SHARED})
