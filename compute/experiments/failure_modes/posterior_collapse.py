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

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

DATASET = "grid25"
SHARED: dict[str, Any] = {"decoder": "autoregressive", "hidden": 256, "lr": 3e-3}
REPRODUCE: dict[str, Any] = {"variant": "gaussian"}
FIX: dict[str, Any] = {"variant": "free-bits", "free_bits": 0.5}
FULL_STEPS = 3000
N_TEST = 2000
KL_COLLAPSED = 0.05  # nats


class PosteriorCollapse(common.FailureMode):
    slug = "posterior-collapse"
    title = "Posterior collapse: autoregressive-decoder VAE without vs with free bits (25-Gaussian grid)"

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
            f"active units (reconstructions on the input's mode: {common.pm_pct(r['recon_mode_match'], 1)} "
            "%, "
            f"chance 4 %); free bits: KL {common.pm(f['kl'], 3)} nats, {common.pm(f['active_units'], 1)} "
            "active "
            f"units, {common.pm_pct(f['recon_mode_match'], 1)} % on the input's mode"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "collapse")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets, metrics

        steps, seeds = common.budget(scale, FULL_STEPS)
        m: dict[str, Any] = {"seeds": seeds}
        recon_examples: dict[str, Any] = {}
        curves: dict[str, list[list[tuple[float, float]]]] = {"reproduce": [], "fix": []}
        for arm, cfg in (("reproduce", REPRODUCE), ("fix", FIX)):
            out: dict[str, list[Any]] = {
                k: [] for k in ("kl", "active_units", "recon", "elbo", "recon_mode_match")
            }
            for seed in seeds:
                data = datasets.load(DATASET, seed)
                rec = common.Recorder(["kl"], every=max(1, steps // 100))
                model, _ = common.train_model(
                    "vae", data, seed=seed, steps=steps, callbacks=[rec], **cfg, **SHARED
                )
                curves[arm].append(rec.points["kl"])
                x = data.test[:N_TEST]
                with torch.no_grad():
                    terms = model.elbo_terms(x)
                    kl = float(terms.kl_per_dim.sum(-1).mean())
                    recon = float(-terms.recon.mean())
                    xr = reconstruct(model, x[:500], seed)
                idx_x, _ = metrics.nearest_mode(x[:500], data.modes)
                idx_r, _ = metrics.nearest_mode(xr, data.modes)
                out["kl"].append(kl)
                out["recon"].append(recon)
                out["elbo"].append(-(recon + kl))
                out["active_units"].append(model.active_units(x))
                out["recon_mode_match"].append(float((idx_x == idx_r).double().mean()))
                if seed == seeds[0]:
                    recon_examples[arm] = reconstruction_panel(model, data, seed)
                log(
                    f"{arm} seed {seed}: KL {kl:.3f} AU {out['active_units'][-1]} recon {recon:.3f} "
                    f"match {out['recon_mode_match'][-1]:.2f}"
                )
            m[arm] = out

        rows = [
            ("KL(q(z|x) || p(z)), nats", "kl", 3),
            ("active units (of 2)", "active_units", 1),
            ("reconstruction -E log p(x|z), nats", "recon", 3),
            ("ELBO, nats", "elbo", 3),
            ("reconstruction on the input's mode (chance 0.04)", "recon_mode_match", 3),
        ]
        tables = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds, {N_TEST} test points",
                m,
                rows,
                ("Gaussian VAE (reproduce)", "free bits λ=0.5 (fix)"),
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
            ),
        ]
        data0 = datasets.load(DATASET, seeds[0])
        figures = {
            "reconstructions": reconstruction_figure(recon_examples, data0),
            "kl_curve": common.curve_figure(
                {"plain VAE": curves["reproduce"], "free bits": curves["fix"]},
                "step",
                "KL(q(z|x) || p(z)), nats (train batch)",
                "KL term during training (one line per seed)",
            ),
        }
        base = {"dataset": DATASET, "steps": steps, "seed": 0}
        recipes = common.arm_recipes("vae-2d", {**base, **REPRODUCE, **SHARED}, {**base, **FIX, **SHARED})
        params = {
            "dataset": DATASET,
            "steps": steps,
            "seeds": seeds,
            **common.arm_configs(SHARED, REPRODUCE, FIX),
            "kl_collapsed_below": KL_COLLAPSED,
            "test_points": N_TEST,
        }
        return self.result(self.verdict(m), tables, m, params, figures, recipes)


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
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.9))
    lo, hi = data.spec.bounds
    for ax, (arm, title) in zip(
        axes, (("reproduce", "plain VAE (reproduce)"), ("fix", "free bits (fix)")), strict=True
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
