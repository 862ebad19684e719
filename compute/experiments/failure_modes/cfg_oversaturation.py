"""CFG over-saturation: a guidance-scale sweep of a class-conditional diffusion model on the digits.

Classifier-free guidance (Ho & Salimans 2022) samples with eps_u + w (eps_c - eps_u); for w well above 1
the predicted clean image x0_hat overshoots the pixel range and the usual static clip of x0_hat to the
range turns the overshoot into saturated, pure-ink pixels, while diversity (recall) drops. Reproduce: a
sweep of w up to 12 with static clipping. Fix: the node's "cap the guidance scale": the same model,
seeds and sampler with w capped at 2. Dynamic thresholding (Saharia et al. 2022, Imagen, sec. 2.3:
s = max(1, the 99.5th percentile of |x0_hat|) per sample, x0_hat <- clip(x0_hat, -s, s) / s), the
node's third fix, is measured beside them at every w.

The denoiser is the diffusion family's MLP on the flattened 8x8 digits (64 coordinates, class label
embedded, label dropout 0.1): it trains in about a minute on a CPU, faster than the 16-channel U-Net of
the ``cfg-digits`` recipe (about 90 s for its 3000 steps), and the sweep needs many samples per w.
"Run it yourself" launches that recipe at the extreme and the capped w. Sampling is DDIM (eta = 0), 50
steps.

Metrics per w (50 samples per class): saturation = the share of pixels at the top intensity level (the
test digits' own share is the reference); precision and recall (Naeem et al. 2020) in the feature space
of compute.features against the test digits; class accuracy of the samples by the same classifier;
within-class diversity = mean pairwise feature distance inside a class, relative to the test digits'.
Verdict per seed, at the largest w: the failure shows when static clipping saturates at least 1.25x as
many pixels as the digits have; the capped guidance beats it when its saturation is closer to the
digits' and its recall is higher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

MODEL: dict[str, Any] = {"fourier_features": 0, "hidden": 256, "depth": 3, "label_dropout": 0.1}
FULL_STEPS = 3000
GUIDANCE = (1.0, 2.0, 4.0, 8.0, 12.0)
W_CAP = 2.0
NFE = 50
PER_CLASS = 50
PERCENTILE = 0.995
SAT_FACTOR = 1.25
LEVELS = 17
ARMS = (
    ("reproduce", "static clipping (reproduce)"),
    ("fix", f"guidance capped at w = {W_CAP:g} (fix)"),
    ("dynamic", "dynamic thresholding"),
)


def flat_digits(seed: int = 0):
    """The digits as 64-coordinate vectors with labels, for the diffusion family's MLP denoiser."""
    import dataclasses

    from compute import datasets
    from compute.families.base import DataSpec

    data = datasets.load("digits", seed)
    spec = DataSpec(kind="points2d", shape=(64,), num_classes=10, bounds=(0.0, 1.0), levels=LEVELS)
    return dataclasses.replace(
        data, name="digits-flat", spec=spec, train=data.train.reshape(-1, 64), test=data.test.reshape(-1, 64)
    )


def saturation(x: Any) -> float:
    """Share of pixels at the top intensity level (x >= 1 - half a level)."""
    return float((x.clamp(0, 1) >= 1 - 0.5 / (LEVELS - 1)).double().mean())


class CFGOversaturation(common.FailureMode):
    slug = "cfg-oversaturation"
    title = "CFG over-saturation: a guidance sweep with static clipping vs capped guidance (digits)"

    claim = (
        "Classifier-free guidance far above 1 with a static clip of x0_hat saturates pixels and loses "
        "diversity; capping the guidance scale avoids it."
    )
    prediction = (
        "At the largest w, static clipping saturates at least 1.25x as many pixels as the test digits have, "
        "on every seed; capped at w = 2 the saturation is closer to the digits' and recall is higher."
    )
    control_text = (
        "The same saturation detector (>= 1.25x the digits' share) on the same model sampled at w = 1 (no "
        "extra guidance), where the claim says nothing saturates: it must not fire."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        at_one = [row[m["guidance"].index(1.0)] for row in m["reproduce"]["saturation_by_w"]]
        return common.control_over_seeds(
            [s >= SAT_FACTOR * m["data_saturation"] for s in at_one],
            f"at w = 1 the model saturated {common.pm_pct(at_one, 1)} of pixels "
            f"(test digits {100 * m['data_saturation']:.1f} %)",
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        w = m["guidance"][-1]
        data_sat = m["data_saturation"]
        rs, fs = common.both_arms(m, "sat_high")
        rr, fr = common.both_arms(m, "recall_high")
        failure = [s >= SAT_FACTOR * data_sat for s in rs]
        fixed = [
            abs(f - data_sat) < abs(r - data_sat) and b > a for f, r, a, b in zip(fs, rs, rr, fr, strict=True)
        ]
        dyn = m.get("dynamic", {})
        summary = (
            f"at w = {w:g} static clipping saturated {common.pm_pct(rs, 1)} of pixels (test digits: "
            f"{100 * data_sat:.1f} %) with recall {common.pm(rr, 3)} and precision "
            f"{common.pm(m['reproduce'].get('precision_high', []), 3)}; capped at w = "
            f"{m.get('w_cap', W_CAP):g}: "
            f"{common.pm_pct(fs, 1)} saturated, recall {common.pm(fr, 3)}, precision "
            f"{common.pm(m['fix'].get('precision_high', []), 3)}"
        )
        if dyn.get("sat_high"):
            summary += (
                f" (dynamic thresholding at w = {w:g}: {common.pm_pct(dyn['sat_high'], 1)} saturated, "
                f"recall {common.pm(dyn.get('recall_high', []), 3)})"
            )
        return common.verdict_over_seeds(m, failure, fixed, summary, "over-saturation")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import features

        steps, seeds = common.budget(scale, FULL_STEPS)
        per_class = PER_CLASS if scale.name == "full" else 10
        guidance = GUIDANCE if scale.name == "full" else (1.0, GUIDANCE[-1])
        data = flat_digits()
        test_img = data.test.reshape(-1, 1, 8, 8)
        ref_feats = features.features(test_img)
        data_div = class_diversity(ref_feats, data.test_labels)
        m: dict[str, Any] = {
            "seeds": seeds,
            "guidance": list(guidance),
            "w_cap": W_CAP,
            "data_saturation": saturation(data.test),
            "nfe": NFE,
        }
        keys = ("saturation", "precision", "recall", "accuracy", "diversity")
        for arm, _ in ARMS:
            m[arm] = {
                **{f"{k}_by_w": [] for k in keys},
                **{f"{k}_high": [] for k in ("sat", "precision", "recall", "accuracy", "diversity")},
            }
        shown: dict[Any, Any] = {}
        for seed in seeds:
            model, _ = common.train_model("diffusion", data, seed=seed, steps=steps, **MODEL)
            labels = torch.arange(10).repeat_interleave(per_class)
            cache: dict[tuple[float, bool], dict[str, float]] = {}
            for arm, _ in ARMS:
                rows: dict[str, list[float]] = {k: [] for k in keys}
                for w in guidance:
                    w_used = min(w, W_CAP) if arm == "fix" else w
                    dynamic = arm == "dynamic"
                    if (w_used, dynamic) not in cache:
                        cache[(w_used, dynamic)], img = score_guided(
                            model, labels, w_used, dynamic, 40_000 + seed, ref_feats, data_div
                        )
                        if seed == seeds[0]:
                            shown[(w_used, dynamic)] = img[torch.arange(0, len(img), max(1, per_class // 8))][
                                :64
                            ]
                    for k in keys:
                        rows[k].append(cache[(w_used, dynamic)][k])
                for k in keys:
                    m[arm][f"{k}_by_w"].append(rows[k])
                for k, src in (
                    ("sat", "saturation"),
                    ("precision", "precision"),
                    ("recall", "recall"),
                    ("accuracy", "accuracy"),
                    ("diversity", "diversity"),
                ):
                    m[arm][f"{k}_high"].append(rows[src][-1])
                log(
                    f"seed {seed} {arm}: saturation by w {[round(v, 3) for v in rows['saturation']]} "
                    f"recall {[round(v, 3) for v in rows['recall']]}"
                )

        table_rows = []
        for label, key, digits in (
            ("saturated pixels", "saturation", 3),
            ("precision", "precision", 3),
            ("recall", "recall", 3),
            ("class accuracy", "accuracy", 3),
            ("within-class diversity (data = 1)", "diversity", 2),
        ):
            for i, w in enumerate(guidance):
                table_rows.append(
                    [
                        f"{label}, w = {w:g}",
                        *[common.pm([run[i] for run in m[a][f"{key}_by_w"]], digits) for a, _ in ARMS],
                    ]
                )
        return self.report(
            table_rows=table_rows,
            m=m,
            seeds=seeds,
            per_class=per_class,
            guidance=guidance,
            shown=shown,
            steps=steps,
        )

    def report(
        self, *, table_rows: Any, m: Any, seeds: Any, per_class: Any, guidance: Any, shown: Any, steps: Any
    ) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        tables = [
            Table(
                f"Mean ± std over {len(seeds)} seeds, {10 * per_class} samples per w "
                f"(test digits: {100 * m['data_saturation']:.1f} % saturated pixels)",
                ["metric", *[lab for _, lab in ARMS]],
                table_rows,
            ),
            common.seed_table(
                "Per seed, largest w",
                m,
                [("saturation", "sat_high"), ("precision", "precision_high"), ("recall", "recall_high")],
                arms=tuple(a for a, _ in ARMS),
            ),
        ]
        curves = {
            key: {
                lab: [list(zip(guidance, run, strict=True)) for run in m[a][f"{key}_by_w"]]
                for a, lab in (
                    ("reproduce", "static clipping"),
                    ("fix", f"capped at w = {W_CAP:g}"),
                    ("dynamic", "dynamic thresholding"),
                )
            }
            for key in ("saturation", "precision", "recall")
        }
        w_hi = guidance[-1]
        figures = {
            "samples": common.digit_panels(
                [
                    (f"w = {W_CAP:g} (capped, fix)", shown[(min(w_hi, W_CAP), False)]),
                    (f"w = {w_hi:g}, static clip (reproduce)", shown[(w_hi, False)]),
                    (f"w = {w_hi:g}, dynamic threshold", shown[(w_hi, True)]),
                ],
                nrow=8,
            ),
            "saturation_vs_w": common.curve_figure(
                curves["saturation"],
                "guidance w",
                "share of saturated pixels",
                "Saturation vs guidance (one line per seed)",
                hline=(m["data_saturation"], "test digits"),
            ),
            "precision_recall_vs_w": _pr_figure(curves),
        }
        recipes = [
            {
                "role": "reproduce",
                "recipe": "cfg-digits",
                "config": {
                    "dataset": "digits",
                    "steps": 3000,
                    "seed": 0,
                    "guidance": w_hi,
                    "sample_nfe": NFE,
                },
            },
            {
                "role": "fix",
                "recipe": "cfg-digits",
                "config": {
                    "dataset": "digits",
                    "steps": 3000,
                    "seed": 0,
                    "guidance": W_CAP,
                    "sample_nfe": NFE,
                },
            },
        ]
        params = {
            "model": {"name": "diffusion", "denoiser": "MLP on flattened digits", **MODEL},
            "steps": steps,
            "seeds": seeds,
            "guidance": list(guidance),
            "w_cap": W_CAP,
            "nfe": NFE,
            "sampler": "ddim",
            "per_class": per_class,
            "dynamic_threshold_percentile": PERCENTILE,
            "recipe_note": "the site's cfg-digits recipe trains the 2-level U-Net; the numbers here come "
            "from the MLP denoiser",
        }
        return self.finish(m, tables, params, figures, recipes)


def _prdc(real: Any, fake: Any) -> dict[str, float]:
    from compute import metrics

    return metrics.prdc(real, fake)


def class_diversity(feats: Any, labels: Any) -> float:
    """Mean pairwise feature distance within each class, averaged over classes."""
    import torch

    out = []
    for c in labels.unique().tolist():
        f = feats[labels == c].double()
        if len(f) > 1:
            out.append(float(torch.pdist(f).mean()))
    return sum(out) / max(len(out), 1)


def score_guided(
    model: Any, labels: Any, w: float, dynamic: bool, seed: int, ref_feats: Any, data_div: float
) -> tuple[dict[str, float], Any]:
    """Sample at guidance ``w`` and score the samples against the test digits' features: saturation,
    precision, recall, class accuracy and within-class diversity (data = 1). Returns (scores, images)."""
    from compute import features

    x = guided_samples(model, labels, w, dynamic, seed=seed).clamp(0, 1)
    img = x.reshape(-1, 1, 8, 8)
    f = features.features(img)
    pr = _prdc(ref_feats, f)
    scores = {
        "saturation": saturation(x),
        "precision": pr["precision"],
        "recall": pr["recall"],
        "accuracy": float((features.predict(img) == labels).double().mean()),
        "diversity": class_diversity(f, labels) / data_div,
    }
    return scores, img


def guided_samples(model: Any, labels: Any, w: float, dynamic: bool, seed: int) -> Any:
    """DDIM (eta = 0) with classifier-free guidance w; x0_hat statically clipped to the data box, or
    dynamically thresholded (Saharia et al. 2022). Returns (N, 64) in data coordinates, CPU."""
    import torch

    from compute.families.diffusion import strided_timesteps

    model.eval()
    g = torch.Generator().manual_seed(seed)
    lo, hi = -2.0, 2.0  # the data box in the family's standardised coordinates (bounds (0, 1) -> [-2, 2])
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    n = len(labels)
    z = torch.randn((n, *model.spec.shape), generator=g).to(model.device)
    ts = strided_timesteps(model.config.T, NFE).tolist()
    with torch.no_grad():
        for i, t in enumerate(ts):
            s = ts[i + 1] if i + 1 < len(ts) else 0
            ab_t = model.alpha_bar(t)
            eps = model.eps(z, t, labels.to(model.device), guidance=w)
            x0 = (z - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
            u = (x0 - centre) / half  # the data box -> [-1, 1]
            if dynamic:
                q = torch.quantile(u.abs().reshape(n, -1), PERCENTILE, dim=1).clamp(min=1.0)
                u = torch.maximum(torch.minimum(u, q[:, None]), -q[:, None]) / q[:, None]
            else:
                u = u.clamp(-1, 1)
            x0 = centre + half * u
            if s == 0:
                z = x0
                break
            eps = (z - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
            ab_s = model.alpha_bar(s)
            z = ab_s.sqrt() * x0 + (1 - ab_s).sqrt() * eps
    return (z * model.scale + model.shift).cpu()


def _pr_figure(curves: dict[str, dict[str, list[list[tuple[float, float]]]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from compute.experiments.base import png

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    palette = ["#d62728", "#2ca02c", "#1f77b4"]
    colours = {label: palette[i % 3] for i, label in enumerate(next(iter(curves.values())))}
    for ax, key in zip(axes, ("precision", "recall"), strict=True):
        for label, runs in curves[key].items():
            for i, run in enumerate(runs):
                xs, ys = zip(*run, strict=True)
                ax.plot(
                    xs, ys, color=colours[label], marker="o", ms=3, lw=1.3, label=label if i == 0 else None
                )
        ax.set_xlabel("guidance w")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Precision and recall vs guidance (one line per seed)", fontsize=10)
    fig.tight_layout()
    return png(fig)
