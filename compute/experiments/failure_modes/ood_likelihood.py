"""Higher likelihood on out-of-distribution inputs: an exact-likelihood model of the digits, raw
likelihood vs a typicality test.

Nalisnick et al. (2019, "Do deep generative models know what they don't know?") found that flows (Glow),
autoregressive models (PixelCNN) and VAEs can all give inputs from elsewhere a *higher* likelihood than
their own test data, so -log p(x) fails as an out-of-distribution score. Model: MADE, an exact
autoregressive likelihood over the 17 intensity levels (the PixelCNN of their study, scaled down to 8x8).
A Gaussian VAE with a per-pixel categorical decoder did *not* show the effect on these sets in our runs
(AUROC >= 0.58 on all of them) and RealNVP on the digits is too slow for this CPU budget.
Both arms score batches of M = 8 inputs (as the typicality test does). Reproduce: score = the batch's
mean -log p(x). Fix: the typicality test of Nalisnick et al. (2019, "Detecting out-of-distribution
inputs to deep generative models using typicality"): score = |mean -log p(x) of the batch - the
typical NLL|, the latter estimated on 200 training digits held out of training (the model overfits a
little, so its NLL on the digits it trained on is atypically low); it flags atypically *high*
likelihoods as well as low ones. Reported beside them:
both scores on single inputs, and a single-input likelihood ratio against a pixel-independent
background model (in the spirit of Ren et al. 2019 and Schirrmeister et al. 2020).

In-distribution: the 360 test digits. OOD sets of 360 images each: constant images (every level),
inverted test digits (1 - x), uniform noise over the 17 levels, natural-image patches (8x8 average-pooled
32x32 crops of scikit-learn's two sample photographs, contrast-stretched), binarised test digits
(x >= 0.5 -> 1, else 0) and shrunken test digits (2x2-pooled into the central 4x4). Metric: AUROC of
each score for test-vs-OOD (1 = perfect, 0.5 = chance, < 0.5 = the OOD set looks *more* in-distribution
than the test digits).

Verdict per seed: the failure shows when the raw likelihood gives AUROC below 0.5 - 2 SD on at least one
OOD set, SD being the spread of the batch AUROC between two samples of one distribution of these sizes
(``fail_below``: 0.38 for 360 vs 360 inputs in batches of 8), so that chance alone does not pass;
the fix beats it when the typicality test gets AUROC > 0.5 and above the raw score's on every such set.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASET = "digits"
MODEL_NAME = "made"
MODEL: dict[str, Any] = {"hidden": 256}
RECIPE = "made-digits"
RECIPE_CONFIG: dict[str, Any] = {"variant": "order-agnostic", "lr": 2e-3}
FULL_STEPS = 1500
OOD_SETS = ("constant", "inverted", "noise", "natural patches", "binarised digits", "shrunken digits")
LEVELS = 17
N_VAL = 200  # training digits held out of training to estimate the typical NLL
BATCH_M = 8  # inputs per typicality test (Nalisnick et al. test batches of M >= 2)


class OODLikelihood(common.FailureMode):
    slug = "ood-likelihood"
    title = "Higher likelihood on OOD inputs: MADE on digits, raw likelihood vs a typicality test"

    claim = (
        "An exact-likelihood model can give out-of-distribution inputs a higher likelihood than its own "
        "test data; a typicality test does not fall for it."
    )
    prediction = (
        "On at least one OOD set the raw likelihood's batch AUROC lies below chance by more than twice its "
        "null spread (0.5 - 2 SD, SD from the set sizes), on every seed; the typicality test's AUROC "
        "is above 0.5 and above the raw score's on each such set."
    )
    control_text = (
        "200 training digits held out of training (in-distribution, unseen) in place of an OOD set, scored "
        "by the same batched raw likelihood: the detector (AUROC below 0.5 - 2 SD) must not fire."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        a = common.per_seed(m, "control", "auroc_heldout")
        bar = fail_below(m.get("n_test", 360), m.get("n_heldout", N_VAL), m.get("batch_size", BATCH_M))
        return common.control_over_seeds(
            [x < bar for x in a],
            f"test vs held-out training digits: raw AUROC {common.pm(a, 3)} (detector fires below {bar:.3f})",
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        labels, failure, fixed = [], [], []
        for i, seed in enumerate(m["seeds"]):
            raw = {s: m["reproduce"][f"auroc_{s}"][i] for s in m["ood_sets"]}
            typ = {s: m["fix"][f"auroc_{s}"][i] for s in m["ood_sets"]}
            bar = fail_below(m.get("n_test", 360), m.get("n_ood", 360), m.get("batch_size", BATCH_M))
            bad = [s for s, a in raw.items() if a is not None and a < bar]
            labels.append(seed)
            failure.append(bool(bad))
            fixed.append(
                bool(bad) and all(typ[s] is not None and typ[s] > 0.5 and typ[s] > raw[s] for s in bad)
            )
        parts = []
        for s in m["ood_sets"]:
            parts.append(
                f"{s} {common.pm(m['reproduce'][f'auroc_{s}'])} -> {common.pm(m['fix'][f'auroc_{s}'])}"
            )
        summary = (
            f"AUROC on batches of {m.get('batch_size', BATCH_M)} inputs, raw likelihood -> typicality test: "
            + "; ".join(parts)
        )
        return common.pair_verdict(
            common.PairOutcome(labels, failure, fixed), summary, "a higher likelihood on an OOD set"
        )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets

        steps, seeds = common.budget(scale, FULL_STEPS)
        data = datasets.load(DATASET, 0)
        test = data.test
        ood = ood_sets(test, seed=0)
        # The typicality centre comes from held-out digits: an overfitted model's training NLL is
        # lower than its test NLL and would make the test digits look atypical.
        val = data.train[-N_VAL:]
        data = dataclasses.replace(data, train=data.train[:-N_VAL], train_labels=data.train_labels[:-N_VAL])
        bg = PixelBackground(data.train)
        m: dict[str, Any] = {
            "seeds": seeds,
            "ood_sets": list(OOD_SETS),
            "model": MODEL_NAME,
            "reproduce": {f"auroc_{s}": [] for s in OOD_SETS},
            "fix": {f"auroc_{s}": [] for s in OOD_SETS},
            "ratio": {f"auroc_{s}": [] for s in OOD_SETS},
            "raw_single": {f"auroc_{s}": [] for s in OOD_SETS},
            "typicality_single": {f"auroc_{s}": [] for s in OOD_SETS},
            "batch_size": BATCH_M,
            "n_test": len(test),
            "n_ood": len(test),
            "n_heldout": len(val),
            "control": {"auroc_heldout": []},
            "nll_bpd": {"test": [], **{s: [] for s in OOD_SETS}},
        }
        hist: dict[str, Any] = {}
        for seed in seeds:
            model, _ = common.train_model(MODEL_NAME, data, seed=seed, steps=steps, **MODEL)
            with torch.no_grad():
                nll_test = nll(model, test)
                nll_val = nll(model, val)
                nll_ood = {s: nll(model, x) for s, x in ood.items()}
            centre = float(nll_val.mean())
            m["nll_bpd"]["test"].append(_bpd(nll_test))
            g = torch.Generator().manual_seed(80_000 + seed)
            batch_test = batch_means(nll_test, g)
            m["control"]["auroc_heldout"].append(auroc(batch_test, batch_means(nll_val, g)))
            for s in OOD_SETS:
                m["nll_bpd"][s].append(_bpd(nll_ood[s]))
                batch_ood = batch_means(nll_ood[s], g)
                m["reproduce"][f"auroc_{s}"].append(auroc(batch_test, batch_ood))
                m["fix"][f"auroc_{s}"].append(auroc((batch_test - centre).abs(), (batch_ood - centre).abs()))
                m["raw_single"][f"auroc_{s}"].append(auroc(nll_test, nll_ood[s]))
                m["typicality_single"][f"auroc_{s}"].append(
                    auroc((nll_test - centre).abs(), (nll_ood[s] - centre).abs())
                )
                m["ratio"][f"auroc_{s}"].append(
                    auroc(nll_test + bg.log_prob(test), nll_ood[s] + bg.log_prob(ood[s]))
                )
            if seed == seeds[0]:
                hist = {"test digits": nll_test, **nll_ood, "_train_mean": centre}
            log(
                f"seed {seed}: raw AUROC "
                + ", ".join(f"{s} {m['reproduce'][f'auroc_{s}'][-1]:.3f}" for s in OOD_SETS)
                + " | typicality "
                + ", ".join(f"{m['fix'][f'auroc_{s}'][-1]:.3f}" for s in OOD_SETS)
            )

        return self.report(m=m, seeds=seeds, hist=hist, test=test, ood=ood, steps=steps)

    def report(self, *, m: Any, seeds: Any, hist: Any, test: Any, ood: Any, steps: Any) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        rows = []
        for s in OOD_SETS:
            key = f"auroc_{s}"
            rows.append(
                [
                    f"test digits vs {s}",
                    *[
                        common.pm(m[a][key], 3)
                        for a in ("reproduce", "fix", "raw_single", "typicality_single", "ratio")
                    ],
                    common.pm(m["nll_bpd"][s], 2),
                ]
            )
        rows.append(["(test digits themselves)", "", "", "", "", "", common.pm(m["nll_bpd"]["test"], 2)])
        tables = [
            Table(
                f"AUROC, mean ± std over {len(seeds)} seeds (0.5 = chance; < 0.5: OOD looks more likely); "
                f"batches of {BATCH_M} inputs unless 'single'",
                [
                    "OOD set",
                    "raw likelihood (reproduce)",
                    "typicality test (fix)",
                    "raw, single input",
                    "typicality, single input",
                    "likelihood ratio vs pixel background, single input",
                    "NLL of the set, bits/dim",
                ],
                rows,
            )
        ]
        seed_rows = []
        for i, seed in enumerate(seeds):
            for s in OOD_SETS:
                seed_rows.append(
                    [seed, s, *[round(m[a][f"auroc_{s}"][i], 4) for a in ("reproduce", "fix", "ratio")]]
                )
        tables.append(Table("Per seed", ["seed", "OOD set", "raw", "typicality", "ratio"], seed_rows))
        figures = {
            "nll_histograms": nll_figure(hist),
            "ood_inputs": common.digit_panels(
                [("test digits", test[:64])] + [(s, x[:64]) for s, x in ood.items()]
            ),
        }
        recipes = [
            {
                "role": "reproduce",
                "recipe": RECIPE,
                "config": {"dataset": DATASET, "steps": steps, "seed": 0, **RECIPE_CONFIG},
            },
            {
                "role": "fix",
                "recipe": RECIPE,
                "config": {"dataset": DATASET, "steps": steps, "seed": 0, **RECIPE_CONFIG},
            },
        ]
        params = {
            "dataset": DATASET,
            "model": {"name": MODEL_NAME, **MODEL},
            "steps": steps,
            "seeds": seeds,
            "ood_sets": list(OOD_SETS),
            "recipe_note": "both roles train the same model; the fix is a different score of its likelihood",
        }
        return self.finish(m, tables, params, figures, recipes)


def fail_below(n_in: int, n_out: int, batch: int) -> float:
    """The raw score's failure bar: 0.5 - 2 SD of the batch AUROC when both sets come from one
    distribution. Batch means of ``batch`` draws from finite sets of n_in and n_out items shift apart by
    about sigma sqrt(1/n_in + 1/n_out) by chance, which the batch AUROC reads at the scale of the batch
    means' std sigma / sqrt(batch): AUROC ~ Phi(delta sqrt(batch / 2) / sigma), so
    SD ~ phi(0) sqrt(batch / 2) sqrt(1/n_in + 1/n_out) (delta method; 0.060 for 360 vs 360, batch 8)."""
    sd = (1 / math.sqrt(2 * math.pi)) * math.sqrt(batch / 2) * math.sqrt(1 / n_in + 1 / n_out)
    return 0.5 - 2 * sd


def batch_means(values: Any, g: Any, n_batches: int = 300) -> Any:
    """Means of ``n_batches`` random batches of BATCH_M of ``values`` (drawn with replacement)."""
    import torch

    idx = torch.randint(0, len(values), (n_batches, BATCH_M), generator=g)
    return values[idx].mean(1)


def nll(model: Any, x: Any) -> Any:
    """-log p(x) per image in nats: the family's own likelihood (exact, or a bound for a flow on
    dequantised pixels)."""
    import torch

    return -torch.cat([model.log_likelihood(xb).values.double() for xb in x.split(512)])


def _bpd(values: Any) -> float:
    return float(values.mean()) / (64 * math.log(2))


def auroc(in_scores: Any, out_scores: Any) -> float:
    """P(score(OOD) > score(in)) + 1/2 P(tie): AUROC with OOD as the positive class."""
    a, b = in_scores.double().flatten(), out_scores.double().flatten()
    if not len(a) or not len(b):
        return float("nan")
    greater = (b[:, None] > a[None, :]).double().mean()
    ties = (b[:, None] == a[None, :]).double().mean()
    return float(greater + 0.5 * ties)


def quantise(x: Any) -> Any:
    import torch

    return torch.round(x.clamp(0, 1) * (LEVELS - 1)) / (LEVELS - 1)


def ood_sets(test: Any, seed: int = 0) -> dict[str, Any]:
    """The OOD sets, each shaped like ``test`` (N, 1, 8, 8) on the 17 levels."""
    import torch
    import torch.nn.functional as F

    n = len(test)
    g = torch.Generator().manual_seed(seed)
    levels = torch.arange(n) % LEVELS
    constant = (levels.float() / (LEVELS - 1)).view(n, 1, 1, 1).expand(n, 1, 8, 8).clone()
    inverted = 1.0 - test
    noise = torch.randint(0, LEVELS, (n, 1, 8, 8), generator=g).float() / (LEVELS - 1)
    small = F.avg_pool2d(test, 2)  # (N, 1, 4, 4)
    shrunken = torch.zeros_like(test)
    shrunken[:, :, 2:6, 2:6] = small
    return {
        "constant": constant,
        "inverted": inverted,
        "noise": noise,
        "natural patches": natural_patches(n, g),
        "binarised digits": (test >= 0.5).float(),
        "shrunken digits": quantise(shrunken),
    }


def natural_patches(n: int, g: Any) -> Any:
    """8x8 patches of scikit-learn's sample photos: grey 32x32 crops, 4x4 average-pooled, stretched to [0, "
    "1]."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    try:
        from sklearn.datasets import load_sample_images

        images = [
            torch.from_numpy(np.asarray(im, dtype=np.float32).mean(axis=2) / 255.0)
            for im in load_sample_images().images
        ]
    except Exception:  # pillow missing: smooth random fields as the "other distribution"
        field = torch.rand(n, 1, 4, 4, generator=g)
        return quantise(F.interpolate(field, size=(8, 8), mode="bilinear", align_corners=False))
    out = []
    for i in range(n):
        im = images[i % len(images)]
        r = int(torch.randint(0, im.shape[0] - 32, (1,), generator=g))
        c = int(torch.randint(0, im.shape[1] - 32, (1,), generator=g))
        patch = F.avg_pool2d(im[r : r + 32, c : c + 32][None, None], 4)[0]  # (1, 8, 8)
        lo, hi = patch.min(), patch.max()
        out.append((patch - lo) / (hi - lo) if hi - lo > 1e-3 else torch.zeros_like(patch))
    return quantise(torch.stack(out))


class PixelBackground:
    """Independent categorical per pixel over the 17 levels (add-one smoothing), fit on the training set."""

    def __init__(self, train: Any):
        import torch

        lv = torch.round(train.reshape(len(train), -1).clamp(0, 1) * (LEVELS - 1)).long()  # (N, 64)
        counts = (
            torch.stack([torch.bincount(lv[:, d], minlength=LEVELS) for d in range(lv.shape[1])]).double() + 1
        )
        self.log_p = (counts / counts.sum(1, keepdim=True)).log()  # (64, L)

    def log_prob(self, x: Any) -> Any:
        import torch

        lv = torch.round(x.reshape(len(x), -1).clamp(0, 1) * (LEVELS - 1)).long()
        return self.log_p.gather(1, lv.T).T.sum(1)  # (N,)


def nll_figure(hist: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from compute.experiments.base import png

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
    series = {k: v for k, v in hist.items() if not k.startswith("_")}
    allv = np.concatenate([v.numpy() / (64 * math.log(2)) for v in series.values()])
    bins = np.linspace(np.percentile(allv, 0.5), np.percentile(allv, 99.5), 60)
    for (name, v), c in zip(series.items(), colours, strict=False):
        ax.hist(
            np.clip(v.numpy() / (64 * math.log(2)), bins[0], bins[-1]),
            bins=bins,
            alpha=0.5,
            color=c,
            label=name,
            density=True,
        )
    if "_train_mean" in hist:
        ax.axvline(
            hist["_train_mean"] / (64 * math.log(2)),
            color="black",
            ls="--",
            lw=1,
            label="typical NLL (held-out digits)",
        )
    ax.set_xlabel("-log p(x), bits/dim")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title("Negative log-likelihood of test digits and OOD inputs", fontsize=10)
    fig.tight_layout()
    return png(fig)
