"""Likelihood is not sample quality: the better model by likelihood draws the worse samples.

Theis, van den Oord & Bethge (2016), "A note on the evaluation of generative models", sec. 3: for any
model p and any noise distribution u, the mixture q = w p + (1 - w) u satisfies log q(x) >= log p(x) + log w,
so with w = 0.01 the log-likelihood drops by at most log 100 = 4.6 nats per example (0.10 bits/dim on
64 pixels) while 99 % of the samples are noise. Conversely a model that (nearly) copies its training
set draws excellent samples and has a poor test likelihood.

On the 8x8 digits (17 intensity levels), all three likelihoods exact:
- *base*: a MADE trained on the digits (exact discrete likelihood);
- *A (reproduce)*: 0.01 * MADE + 0.99 * uniform noise over the 17^64 images;
- *B*: the training set as a discrete kernel density: pick a training digit, keep each pixel with
  probability 0.95, else draw it uniformly from the other 16 levels (Theis et al.'s memorising model).
Test NLL in bits/dim ranks A above B; sample quality (Frechet distance and precision/recall in the
feature space of compute.features, against the *test* split, which neither model saw) ranks B far above
A. The "fix" is the node's: judge samples by a sample-quality metric, not by likelihood.

Verdict per seed: the failure shows when A has the better (lower) test NLL than B; the sample-quality
metric "beats" it when it ranks B above A (lower Frechet distance and higher precision). The bound
NLL(A) <= NLL(base) + log(100) is checked and reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

DATASET = "digits"
MADE: dict[str, Any] = {"hidden": 256, "num_masks": 8, "eval_masks": 8}
FULL_STEPS = 1500
WEIGHT = 0.01  # weight of the good model in A
KEEP = 0.95  # B: probability of keeping a training pixel
N_SAMPLES = 1000
LEVELS = 17


class LikelihoodVsQuality(common.FailureMode):
    slug = "likelihood-vs-quality"
    title = "Likelihood vs quality: 1 % MADE + 99 % noise beats a memorising model on NLL, loses on samples"

    claim = "A better test likelihood does not mean better samples: the two rankings can be opposite."
    prediction = (
        "A (1 % MADE + 99 % noise) gets a lower test NLL than the memorising model B on every seed, while "
        "its samples have a higher Frechet distance and a lower precision than B's."
    )
    control_text = (
        "The same inversion detector (the model with the lower NLL has both the higher Frechet distance and "
        "the lower precision) on a pair where likelihood and quality should agree: the MADE alone vs A."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        flagged = [
            inverted(m, "base", "reproduce", i) or inverted(m, "reproduce", "base", i)
            for i in range(len(m["seeds"]))
        ]
        nb, na = common.per_seed(m, "base", "nll_bpd"), common.per_seed(m, "reproduce", "nll_bpd")
        fb, fa = common.per_seed(m, "base", "fd"), common.per_seed(m, "reproduce", "fd")
        return common.control_over_seeds(
            flagged,
            f"the MADE alone had NLL {common.pm(nb, 3)} bits/dim and Frechet distance {common.pm(fb, 1)}, "
            f"A {common.pm(na, 3)} and {common.pm(fa, 1)}",
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        na, nb = common.both_arms(m, "nll_bpd")
        fa, fb = common.both_arms(m, "fd")
        pa, pb = common.both_arms(m, "precision")
        failure = [a < b for a, b in zip(na, nb, strict=True)]
        fixed = [x > y and p < q for x, y, p, q in zip(fa, fb, pa, pb, strict=True)]
        base = m.get("base", {})
        summary = (
            f"A = 1 % MADE + 99 % noise scored {common.pm(na, 3)} bits/dim (MADE alone "
            f"{common.pm(base.get('nll_bpd', []), 3)}, "
            f"bound +{math.log(1 / WEIGHT) / (64 * math.log(2)):.3f}) against the memorising model B's "
            f"{common.pm(nb, 3)}, yet its samples have Frechet distance {common.pm(fa, 1)} and precision "
            f"{common.pm(pa, 3)} against B's {common.pm(fb, 1)} and {common.pm(pb, 3)}"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "the likelihood/quality inversion")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets

        steps, seeds = common.budget(scale, FULL_STEPS)
        n_samples = N_SAMPLES if scale.name == "full" else 200
        data = datasets.load(DATASET, 0)
        keys = ("nll_bpd", "fd", "precision", "recall")
        m: dict[str, Any] = {
            "seeds": seeds,
            "weight": WEIGHT,
            "keep": KEEP,
            **{arm: {k: [] for k in keys} for arm in ("base", "reproduce", "fix")},
        }
        m["bound_holds"] = []
        shown: dict[str, Any] = {}
        dims = data.spec.dim
        for seed in seeds:
            model, _ = common.train_model("made", data, seed=seed, steps=steps, **MADE)
            test = data.test
            with torch.no_grad():
                lp_base = model.log_likelihood(test).values.double()  # (M,) nats
            lp_a = mixture_log_prob(lp_base, WEIGHT, dims)
            lp_b = memoriser_log_prob(data.train, test, KEEP)
            g = torch.Generator().manual_seed(20_000 + seed)
            x_base = model.sample(n_samples, seed=30_000 + seed).float()
            x_a = mixture_samples(x_base, WEIGHT, g)
            x_b = memoriser_samples(data.train, n_samples, KEEP, g)
            for arm, lp, x in (("base", lp_base, x_base), ("reproduce", lp_a, x_a), ("fix", lp_b, x_b)):
                q = quality(x, test)
                m[arm]["nll_bpd"].append(float(-lp.mean()) / (dims * math.log(2)))
                for k in ("fd", "precision", "recall"):
                    m[arm][k].append(q[k])
            m["bound_holds"].append(bool((lp_a >= lp_base + math.log(WEIGHT) - 1e-9).all()))
            if seed == seeds[0]:
                shown = {"base": x_base, "reproduce": x_a, "fix": x_b}
            log(
                f"seed {seed}: NLL bits/dim base {m['base']['nll_bpd'][-1]:.3f} A "
                f"{m['reproduce']['nll_bpd'][-1]:.3f} "
                f"B {m['fix']['nll_bpd'][-1]:.3f}; FD A {m['reproduce']['fd'][-1]:.1f} B "
                f"{m['fix']['fd'][-1]:.1f}"
            )

        return self.report(m=m, n_samples=n_samples, seeds=seeds, shown=shown, steps=steps)

    def report(self, *, m: Any, n_samples: Any, seeds: Any, shown: Any, steps: Any) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        rows = [
            ("test NLL, bits/dim (exact)", "nll_bpd", 3),
            ("Frechet distance to test digits", "fd", 2),
            ("precision", "precision", 3),
            ("recall", "recall", 3),
        ]
        table = common.metric_table(
            f"Mean ± std over {len(seeds)} seeds; {n_samples} samples, 360 test digits",
            m,
            rows,
            ("MADE alone", "A: 1 % MADE + 99 % noise", "B: memorised training set"),
            ("base", "reproduce", "fix"),
        )
        table.rows.append(
            [
                "log q_A >= log p_MADE + log 0.01 on every test digit",
                "",
                f"{sum(m['bound_holds'])} of {len(seeds)} seeds",
                "",
            ]
        )
        tables = [
            table,
            common.seed_table(
                "Per seed",
                m,
                [("NLL bits/dim", "nll_bpd"), ("FD", "fd"), ("precision", "precision")],
                arms=("base", "reproduce", "fix"),
            ),
        ]
        figures = {
            "samples": common.digit_panels(
                [
                    ("MADE alone", shown["base"]),
                    ("A: better NLL", shown["reproduce"]),
                    ("B: worse NLL", shown["fix"]),
                ]
            ),
        }
        recipes = [
            {
                "role": "reproduce",
                "recipe": "made-digits",
                "config": {"dataset": DATASET, "steps": steps, "seed": 0, "variant": "order-agnostic"},
            }
        ]
        params = {
            "dataset": DATASET,
            "made": MADE,
            "steps": steps,
            "seeds": seeds,
            "samples": n_samples,
            "mixture_weight": WEIGHT,
            "memoriser_keep": KEEP,
            "recipe_note": "the recipe trains the base MADE; A and B are built from it and from the "
            "training set after training",
        }
        return self.finish(m, tables, params, figures, recipes)


def inverted(m: dict[str, Any], better_nll: str, other: str, i: int) -> bool:
    """Seed i: does ``better_nll`` have the lower NLL yet both the higher Frechet distance and the lower
    precision than ``other``? (The likelihood/quality inversion, for any pair of arms.)"""
    nll = (m[better_nll]["nll_bpd"][i], m[other]["nll_bpd"][i])
    fd = (m[better_nll]["fd"][i], m[other]["fd"][i])
    prec = (m[better_nll]["precision"][i], m[other]["precision"][i])
    return nll[0] < nll[1] and fd[0] > fd[1] and prec[0] < prec[1]


def mixture_log_prob(lp_model: Any, weight: float, dims: int) -> Any:
    """log(w p(x) + (1 - w) u(x)) with u uniform over LEVELS^dims images. (M,) float64."""
    import torch

    log_u = torch.full_like(lp_model, -dims * math.log(LEVELS))
    return torch.logaddexp(lp_model + math.log(weight), log_u + math.log(1 - weight))


def mixture_samples(x_model: Any, weight: float, g: Any) -> Any:
    """Each sample from the model with probability w, else uniform noise over the levels."""
    import torch

    n = len(x_model)
    noise = torch.randint(0, LEVELS, x_model.shape, generator=g).float() / (LEVELS - 1)
    keep = (torch.rand(n, generator=g) < weight).view(n, *([1] * (x_model.dim() - 1)))
    return torch.where(keep, x_model, noise)


def _levels(x: Any) -> Any:
    import torch

    return torch.round(x.reshape(len(x), -1).clamp(0, 1) * (LEVELS - 1)).long()


def memoriser_log_prob(train: Any, x: Any, keep: float) -> Any:
    """log q_B(x) = log 1/N sum_i prod_d K(x_d | t_id), K = keep on a match, (1 - keep)/16 otherwise."""
    import torch
    import torch.nn.functional as F

    t, v = _levels(train), _levels(x)
    d = t.shape[1]
    oh_t = F.one_hot(t, LEVELS).reshape(len(t), -1).float()
    oh_v = F.one_hot(v, LEVELS).reshape(len(v), -1).float()
    matches = (oh_v @ oh_t.T).double()  # (M, N)
    log_k = matches * math.log(keep) + (d - matches) * math.log((1 - keep) / (LEVELS - 1))
    return torch.logsumexp(log_k, dim=1) - math.log(len(t))


def memoriser_samples(train: Any, n: int, keep: float, g: Any) -> Any:
    """Pick training digits; resample each pixel with probability 1 - keep to one of the other levels."""
    import torch

    idx = torch.randint(0, len(train), (n,), generator=g)
    t = _levels(train[idx])
    flip = torch.rand(t.shape, generator=g) >= keep
    other = (t + torch.randint(1, LEVELS, t.shape, generator=g)) % LEVELS
    out = torch.where(flip, other, t).float() / (LEVELS - 1)
    return out.reshape(n, *train.shape[1:])


def quality(samples: Any, reference: Any) -> dict[str, float]:
    """Frechet distance and precision/recall (k = 5) in the digit-classifier feature space."""
    from compute import features, metrics

    fs, fr = features.features(samples), features.features(reference)
    pr = metrics.prdc(fr, fs)
    return {"fd": metrics.frechet_distance(fr, fs), "precision": pr["precision"], "recall": pr["recall"]}
