"""Privacy leakage / memorisation: a model trained long on a tiny subset copies it.

Reproduce: MADE (an exact autoregressive model of the 17-level 8x8 digits, no dropout or weight decay)
trained for the full step budget on only 32 training digits, i.e. hundreds of passes over each. Fix
("more data"): the same model and steps on all 1,437 training digits. The node's fixes (deduplication,
differential privacy) act on the same lever: how much any single training example can shape the model.

Metric (in the spirit of Carlini et al. 2023 and van den Burg & Williams 2021): for each of 500 samples,
the Euclidean distance d_train to its nearest *training* digit and d_held to its nearest *held-out*
digit, with both reference sets of the same size (the 32 training digits and 32 test digits for the
tiny model; 360 training digits and the 360 test digits for the full one), so that a model that
generalises has d_train ~ d_held. Reported: the median ratio d_train / d_held and the share of samples
with d_train < d_held / 3 ("copies"). Verdict per seed: the failure shows when more than 25 % of the tiny
model's samples are copies; the fix beats it when the full model's copy share is lower and its median
ratio higher.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

MODEL: dict[str, Any] = {"variant": "natural", "hidden": 256, "dropout": 0.0, "weight_decay": 0.0}
TINY = 32
FULL_STEPS = 1500
N_SAMPLES = 500
COPY_RATIO = 1 / 3
COPY_FAIL = 0.25


def digits_subset(n: int | None, seed: int):
    """The digits with the first n of a seeded permutation of the training split (all when None)."""
    import torch

    from compute import datasets

    data = datasets.load("digits", 0)
    train, labels = data.train, data.train_labels
    if n is not None:
        idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(5_000 + seed))[:n]
        train, labels = train[idx], labels[idx]
    return dataclasses.replace(data, name=f"digits-{n or 'all'}", train=train, train_labels=labels)


def nn_distances(samples: Any, reference: Any) -> tuple[Any, Any]:
    """Distance (N,) from each sample to its nearest reference row and that row's index."""
    import torch

    d = torch.cdist(samples.double(), reference.double())
    return d.min(1)


class Memorisation(common.FailureMode):
    slug = "memorisation"
    title = "Memorisation: a MADE trained long on 32 digits copies them; on 1,437 it does not"

    claim = "A model trained long on a tiny dataset reproduces its training examples; more data prevents it."
    prediction = (
        "More than 25 % of the tiny model's samples are copies (d_train < d_held / 3) on every seed; the "
        "model trained on all digits has a lower copy share and a higher median d_train / d_held."
    )
    control_text = (
        "Unseen real digits (from the test split, not among the 32 held-out references) in place of the "
        "tiny model's samples, scored by the same copy detector against the same 32 training and 32 "
        "held-out digits: real digits are not copies, so the share must stay at or below 25 %."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        c = common.per_seed(m, "control", "copy_share")
        return common.control_over_seeds(
            [x > COPY_FAIL for x in c], f"{common.pm_pct(c, 1)} of unseen real digits read as copies"
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rc, fc = common.both_arms(m, "copy_share")
        rr, fr = common.both_arms(m, "median_ratio")
        failure = [c > COPY_FAIL for c in rc]
        fixed = [f < r and fx > rx for f, r, fx, rx in zip(fc, rc, fr, rr, strict=True)]
        summary = (
            f"trained on {m.get('tiny', TINY)} digits, {common.pm_pct(rc, 1)} of samples were copies "
            f"(d_train < d_held / 3; median d_train / d_held {common.pm(rr, 2)}); trained on all "
            f"{m.get('full_n', 1437)}: {common.pm_pct(fc, 1)} copies, median ratio {common.pm(fr, 2)}"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "memorisation")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        steps, seeds = common.budget(scale, FULL_STEPS)
        n_samples = N_SAMPLES if scale.name == "full" else 100
        full_n = len(digits_subset(None, 0).train)
        m: dict[str, Any] = {"seeds": seeds, "tiny": TINY, "full_n": full_n, "control": {"copy_share": []}}
        shown: dict[str, Any] = {}
        for arm, n in (("reproduce", TINY), ("fix", None)):
            out: dict[str, list[Any]] = {
                "copy_share": [],
                "median_ratio": [],
                "median_d_train": [],
                "median_d_held": [],
            }
            for seed in seeds:
                data = digits_subset(n, seed)
                model, _ = common.train_model("made", data, seed=seed, steps=steps, **MODEL)
                x = model.sample(n_samples, seed=10_000 + seed).reshape(n_samples, -1)
                g = torch.Generator().manual_seed(6_000 + seed)
                k = len(data.train) if n is not None else len(data.test)
                train_flat, test_flat = (
                    data.train.reshape(len(data.train), -1),
                    data.test.reshape(len(data.test), -1),
                )
                train_ref = train_flat[torch.randperm(len(train_flat), generator=g)[:k]]
                held_perm = torch.randperm(len(test_flat), generator=g)
                held_ref = test_flat[held_perm[:k]]
                if n is not None:  # the control: unseen real digits (not among held_ref) as "samples"
                    real = test_flat[held_perm[k : k + n_samples]]
                    c_ratio = nn_distances(real, train_ref)[0] / nn_distances(real, held_ref)[0].clamp_min(
                        1e-9
                    )
                    m["control"]["copy_share"].append(float((c_ratio < COPY_RATIO).double().mean()))
                d_train, nn_idx = nn_distances(x, train_ref)
                d_held, _ = nn_distances(x, held_ref)
                ratio = d_train / d_held.clamp_min(1e-9)
                out["copy_share"].append(float((ratio < COPY_RATIO).double().mean()))
                out["median_ratio"].append(float(ratio.median()))
                out["median_d_train"].append(float(d_train.median()))
                out["median_d_held"].append(float(d_held.median()))
                if seed == seeds[0]:
                    order = torch.argsort(ratio)[:32]
                    shown[arm] = (x[order], train_ref[nn_idx[order]])
                log(
                    f"{arm} seed {seed}: copies {out['copy_share'][-1]:.3f}, median ratio "
                    f"{out['median_ratio'][-1]:.3f}"
                )
            m[arm] = out

        return self.report(m=m, n_samples=n_samples, steps=steps, seeds=seeds, full_n=full_n, shown=shown)

    def report(
        self, *, m: Any, n_samples: Any, steps: Any, seeds: Any, full_n: Any, shown: Any
    ) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        import torch

        rows = [
            ("share of samples that copy a training digit (d_train < d_held / 3)", "copy_share", 3),
            ("median d_train / d_held", "median_ratio", 3),
            ("median distance to nearest training digit", "median_d_train", 3),
            ("median distance to nearest held-out digit", "median_d_held", 3),
        ]
        tables = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds, {n_samples} samples, {steps} steps",
                m,
                rows,
                (f"{TINY} training digits (reproduce)", f"all {full_n} training digits (fix)"),
            ),
            common.seed_table("Per seed", m, [("copies", "copy_share"), ("median ratio", "median_ratio")]),
            common.metric_table(
                "Negative control: unseen real digits scored as if they were the tiny model's samples",
                m,
                [("share read as copies", "copy_share", 3)],
                ("unseen real digits (control)",),
                ("control",),
            ),
        ]
        panels = []
        for arm, lab in (("reproduce", f"{TINY} digits"), ("fix", f"{full_n} digits")):
            samples, nearest = shown[arm]
            rows_img = torch.stack(
                [samples[:32].reshape(-1, 8, 8), nearest[:32].reshape(-1, 8, 8)], 1
            )  # pairs
            panels.append((f"{lab}: sample | nearest training digit", rows_img.reshape(-1, 1, 8, 8)))
        figures = {"nearest_neighbours": common.digit_panels(panels, nrow=8)}
        recipes = [
            {
                "role": "fix",
                "recipe": "made-digits",
                "config": {"dataset": "digits", "steps": steps, "seed": 0, "variant": MODEL["variant"]},
            }
        ]
        params = {
            "model": {"name": "made", **MODEL},
            "steps": steps,
            "seeds": seeds,
            "tiny_subset": TINY,
            "samples": n_samples,
            "copy_ratio": COPY_RATIO,
            "recipe_note": "the site's runs train on the whole digits split, so the recipe runs the "
            "fix arm; the 32-digit subset exists only here",
        }
        return self.finish(m, tables, params, figures, recipes)
