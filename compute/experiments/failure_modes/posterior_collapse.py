"""Posterior collapse: a VAE whose decoder can model the data without z, vs the same VAE with free bits.

Reproduce: a Gaussian VAE on the 25-Gaussian grid whose decoder is autoregressive (a MADE with a
mixture of Gaussians per conditional, p(x|z) = p(x1|z) p(x2|x1, z)): it can fit the grid on its own, so
the ELBO optimum sets q(z|x) = p(z) (Bowman et al. 2016; Chen et al. 2017). Fix: the same model trained
with free bits (Kingma et al. 2016, appendix C: sum_j max(lambda, KL_j), lambda = 0.5 nats per latent
dim), which removes the pressure on the first lambda nats of each latent. Same data, seeds and steps.

Metrics (on 2,000 test points): KL(q(z|x) || p(z)) in nats, active units (Burda et al. 2016:
Var_x E_q[z_j|x] > 0.01, of 2 latents), the reconstruction term -E_q log p(x|z), the ELBO, and the
share of reconstructions x' ~ p(x|z), z ~ q(z|x), that land on the same mode as x (1/25 if z is ignored).
Verdict per seed: collapse shows when the reproduce arm has no active unit and KL < 0.05 nats; the fix
beats it when it has more active units and a higher reconstruction-mode agreement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASET = "grid25"
SHARED: dict[str, Any] = {"decoder": "autoregressive", "hidden": 256, "lr": 3e-3}
REPRODUCE: dict[str, Any] = {"variant": "gaussian"}
FIX: dict[str, Any] = {"variant": "free-bits", "free_bits": 0.5}
FULL_STEPS = 3000
N_TEST = 2000
# Negative control: one change from the reproduce arm, a factorised Gaussian decoder with a fixed std
# of 1 (standardised units) that cannot model x without z (see compute.families.vae).
CONTROL: dict[str, Any] = {"variant": "gaussian", "decoder": "mlp", "decoder_std": 1.0}
ARMS = (
    ("reproduce", "Gaussian VAE (reproduce)", REPRODUCE),
    ("fix", "free bits λ=0.5 (fix)", FIX),
    ("control", "factorised decoder (control)", CONTROL),
)
KEYS = ("kl", "active_units", "recon", "elbo", "recon_mode_match")
KL_COLLAPSED = 0.05  # nats


class PosteriorCollapse(common.FailureMode):
    slug = "posterior-collapse"
    title = "Posterior collapse: autoregressive-decoder VAE without vs with free bits (25-Gaussian grid)"
    claim = "A VAE whose decoder can model the data alone ignores its latent code; free bits keep it in use."
    prediction = (
        "With the autoregressive decoder, no latent unit stays active and KL(q(z|x) || p(z)) < 0.05 nats on "
        "every seed; with free bits, more active units and more reconstructions on the input's mode."
    )
    control_text = (
        "The same VAE, data, seeds and steps with one change: a factorised Gaussian decoder (fixed std 1) "
        "that cannot model x without z. The same collapse detector (0 active units and KL < 0.05) "
        "must not fire."
    )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rk, ra = common.per_seed(m, "reproduce", "kl"), common.per_seed(m, "reproduce", "active_units")
        fa = common.per_seed(m, "fix", "active_units")
        rm, fm = (
            common.per_seed(m, "reproduce", "recon_mode_match"),
            common.per_seed(m, "fix", "recon_mode_match"),
        )
        failure = [a == 0 and k < KL_COLLAPSED for a, k in zip(ra, rk, strict=True)]
        fixed = [f > r and fmm > rmm for f, r, fmm, rmm in zip(fa, ra, fm, rm, strict=True)]
        r, f = m["reproduce"], m["fix"]
        summary = (
            f"the plain VAE kept KL {common.pm(r['kl'], 3)} nats with {common.pm(r['active_units'], 1)} of 2 "
            f"active units (reconstructions on the input's mode: {common.pm_pct(r['recon_mode_match'], 1)}, "
            f"chance 4 %); free bits: KL {common.pm(f['kl'], 3)} nats, {common.pm(f['active_units'], 1)} "
            "active "
            f"units, {common.pm_pct(f['recon_mode_match'], 1)} on the input's mode"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "collapse")

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        kl, au = common.per_seed(m, "control", "kl"), common.per_seed(m, "control", "active_units")
        flagged = [a == 0 and k < KL_COLLAPSED for a, k in zip(au, kl, strict=True)]
        return common.control_over_seeds(
            flagged,
            f"the same VAE with a factorised Gaussian decoder kept KL {common.pm(kl, 3)} nats and "
            f"{common.pm(au, 1)} of 2 active units",
        )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        steps, seeds = common.budget(scale, FULL_STEPS)
        m: dict[str, Any] = {"seeds": seeds}
        recon_examples: dict[str, Any] = {}
        curves: dict[str, list[list[tuple[float, float]]]] = {arm: [] for arm, _, _ in ARMS}
        for arm, _, cfg in ARMS:
            m[arm] = {k: [] for k in KEYS}
            for seed in seeds:
                numbers, curve, panel = measure_seed(cfg, seed, steps, panel=seed == seeds[0])
                for k in KEYS:
                    m[arm][k].append(numbers[k])
                curves[arm].append(curve)
                if panel is not None:
                    recon_examples[arm] = panel
                log(f"{arm} seed {seed}: " + ", ".join(f"{k} {numbers[k]:.3f}" for k in KEYS))
        return self.finish(
            m, tables(m, seeds), params(steps, seeds), figures(recon_examples, curves, seeds), recipes(steps)
        )


def measure_seed(
    cfg: dict[str, Any], seed: int, steps: int, panel: bool
) -> tuple[dict[str, float], list[tuple[float, float]], Any]:
    """Train one arm's VAE on one seed; its numbers on the test points, its KL curve, its panel."""
    import torch

    from compute import datasets, metrics

    data = datasets.load(DATASET, seed)
    rec = common.Recorder(["kl"], every=max(1, steps // 100))
    model, _ = common.train_model("vae", data, seed=seed, steps=steps, callbacks=[rec], **{**SHARED, **cfg})
    x = data.test[:N_TEST]
    with torch.no_grad():
        terms = model.elbo_terms(x)
        kl = float(terms.kl_per_dim.sum(-1).mean())
        recon = float(-terms.recon.mean())
        xr = reconstruct(model, x[:500], seed)
    idx_x, _ = metrics.nearest_mode(x[:500], data.modes)
    idx_r, _ = metrics.nearest_mode(xr, data.modes)
    numbers = {
        "kl": kl,
        "recon": recon,
        "elbo": -(recon + kl),
        "active_units": float(model.active_units(x)),
        "recon_mode_match": float((idx_x == idx_r).double().mean()),
    }
    return numbers, rec.points["kl"], reconstruction_panel(model, data, seed) if panel else None


def tables(m: dict[str, Any], seeds: list[int]) -> list[Table]:
    rows = [
        ("KL(q(z|x) || p(z)), nats", "kl", 3),
        ("active units (of 2)", "active_units", 1),
        ("reconstruction -E log p(x|z), nats", "recon", 3),
        ("ELBO, nats", "elbo", 3),
        ("reconstruction on the input's mode (chance 0.04)", "recon_mode_match", 3),
    ]
    arms = tuple(arm for arm, _, _ in ARMS)
    return [
        common.metric_table(
            f"Mean ± std over seeds, {N_TEST} test points",
            m,
            rows,
            tuple(label for _, label, _ in ARMS),
            arms,
        ),
        common.seed_table(
            "Per seed",
            m,
            [
                ("KL", "kl"),
                ("active units", "active_units"),
                ("recon", "recon"),
                ("mode match", "recon_mode_match"),
            ],
            arms,
        ),
    ]


def figures(
    recon_examples: dict[str, Any], curves: dict[str, list[list[tuple[float, float]]]], seeds: list[int]
) -> dict[str, bytes]:
    from compute import datasets

    return {
        "reconstructions": reconstruction_figure(recon_examples, datasets.load(DATASET, seeds[0])),
        "kl_curve": common.curve_figure(
            {label: curves[arm] for arm, label, _ in ARMS},
            "step",
            "KL(q(z|x) || p(z)), nats (train batch)",
            "KL term during training (one line per seed)",
        ),
    }


def params(steps: int, seeds: list[int]) -> dict[str, Any]:
    return {
        "dataset": DATASET,
        "steps": steps,
        "seeds": seeds,
        **common.arm_configs(SHARED, REPRODUCE, FIX),
        "control": CONTROL,
        "kl_collapsed_below": KL_COLLAPSED,
        "test_points": N_TEST,
    }


def recipes(steps: int) -> list[dict[str, Any]]:
    base = {"dataset": DATASET, "steps": steps, "seed": 0}
    return common.arm_recipes("vae-2d", {**base, **REPRODUCE, **SHARED}, {**base, **FIX, **SHARED})


def reconstruct(model: Any, x: Any, seed: int) -> Any:
    """One reconstruction x' ~ p(x | z), z ~ q(z | x) per row of x (data coordinates, CPU)."""
    import torch

    from compute.families.vae import Noise

    noise = Noise(torch.Generator().manual_seed(50_000 + seed), model.device)
    model.eval()
    with torch.no_grad():
        terms = model.elbo_terms(x, noise)
        z = terms.mu + torch.exp(0.5 * terms.logvar) * noise.randn(terms.mu.shape)
        u = model.decoder.sample(z, noise)
    return (u * model.scale + model.shift).reshape(len(x), *model.spec.shape).cpu()


def reconstruction_panel(model: Any, data: Any, seed: int, per_point: int = 150) -> list[tuple[Any, Any]]:
    """Five inputs (one per corner and the centre) and ``per_point`` reconstructions of each."""
    picks = [0, 4, 12, 20, 24]  # mode indices of grid25: corners and centre
    out = []
    for k in picks:
        x = data.modes[k].expand(per_point, 2).clone()
        out.append((data.modes[k], reconstruct(model, x, seed + k)))
    return out


def reconstruction_figure(examples: dict[str, list[tuple[Any, Any]]], data: Any) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from compute.experiments.base import png

    colours = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd"]
    fig, axes = plt.subplots(1, 3, figsize=(11.1, 3.9))
    lo, hi = data.spec.bounds
    for ax, (arm, title) in zip(
        axes,
        (
            ("reproduce", "plain VAE (reproduce)"),
            ("fix", "free bits (fix)"),
            ("control", "factorised decoder (control)"),
        ),
        strict=True,
    ):
        modes = data.modes.numpy()
        ax.scatter(modes[:, 0], modes[:, 1], s=60, facecolors="none", edgecolors="#999999", lw=0.8)
        for (x, xr), c in zip(examples.get(arm, []), colours, strict=False):
            r = xr.numpy()
            ax.scatter(r[:, 0], r[:, 1], s=4, c=c, alpha=0.5, linewidths=0)
            ax.scatter([float(x[0])], [float(x[1])], s=90, marker="*", c=c, edgecolors="black", lw=0.6)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{title}\nstars: inputs; dots: their reconstructions", fontsize=9)
    fig.tight_layout()
    return png(fig)
