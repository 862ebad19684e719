"""Diffusion = hierarchical VAE (Ho et al. 2020, eq. 5; Luo 2022, "Understanding Diffusion Models: A
Unified Perspective"; Kingma et al. 2021, "Variational Diffusion Models").

DDPM is a VAE with T latent layers x_1..x_T, each as large as the data, whose encoder is the fixed
Gaussian chain q(x_{1:T} | x_0) = q(x_T | x_0) prod_{t>=2} q(x_{t-1} | x_t, x_0) (no parameters). Its
ELBO is the VAE's, E_q[log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0)], and in closed form a sum of per-layer
terms: a reconstruction -L_0, T - 1 Gaussian KLs L_{t-1} and a prior KL L_T.

Measured on ring8 (where the true density is known):
1. the family's bound equals the sum of its per-step terms (``elbo_terms``);
2. the same number from a *generic VAE estimator* that uses no KL formula: sample the latent chain
   x_1..x_T from the encoder, score log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0) -- agreement within its
   Monte Carlo standard error;
3. the bound next to the VAE's ELBO (and IWAE), the flows' likelihoods (RealNVP exact when the family
   is available, flow matching by the ODE change of variables, an exact AR model on bins) and the true
   NLL of the data distribution on the same test points -- every bound must sit above the truth;
4. the caveat: DDPM is trained with L_simple, which weights the eps-MSE of every step equally, while
   the ELBO's weight on step t is w_t = c1_t^2 (1 - abar_t) / (2 var_t abar_t) -- the spread of w_t
   over t (orders of magnitude) is how far the trained objective is from the bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from compute.experiments import figures as draw
from compute.experiments.base import ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common

LOG_2PI = math.log(2 * math.pi)


def _gauss(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor | float) -> torch.Tensor:
    """log N(x; mean, var I) summed over the last dim, (N, D) -> (N,)."""
    var = torch.as_tensor(var, dtype=x.dtype, device=x.device)
    return (-0.5 * (x - mean) ** 2 / var - 0.5 * torch.log(var) - 0.5 * LOG_2PI).sum(-1)


@torch.no_grad()
def trajectory_elbo(model: Any, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One-sample VAE ELBO log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0) per example (nats, data units).

    The latents are drawn forward, x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) xi (the encoder), and
    log q is factorised in the reverse order, q(x_T | x_0) prod_{t>=2} q(x_{t-1} | x_t, x_0): the same
    distribution, so this is the ELBO estimator of any VAE. Expectation = the DDPM bound of Ho eq. 5.
    2-D (points2d) diffusion models with eps-prediction only."""
    c = model.config
    if c.prediction != "eps" or model.spec.kind != "points2d":
        raise ValueError("trajectory_elbo covers eps-prediction models on points2d data")
    z0 = model.to_model_space(x)
    n = len(z0)
    sched = model.schedule
    abar, beta = sched.alpha_bar, sched.beta

    def randn() -> torch.Tensor:
        return torch.randn(tuple(z0.shape), generator=generator).to(model.device)

    def x0_hat(zt: torch.Tensor, t: int) -> torch.Tensor:
        return (zt - (1 - abar[t]).sqrt() * model.eps(zt, t)) / abar[t].sqrt()

    total = torch.zeros(n, dtype=torch.float64, device=model.device)
    prev = abar[1].sqrt() * z0 + beta[1].sqrt() * randn()  # x_1 ~ q(x_1 | x_0)
    total += _gauss(z0, x0_hat(prev, 1), beta[1]).double()  # log p(x_0 | x_1)
    for t in range(2, c.T + 1):
        zt = (1 - beta[t]).sqrt() * prev + beta[t].sqrt() * randn()  # x_t ~ q(x_t | x_{t-1})
        c1, c2 = sched.c1[t], sched.c2[t]
        log_p = _gauss(prev, c1 * x0_hat(zt, t) + c2 * zt, sched.model_var[t])
        log_q = _gauss(prev, c1 * z0 + c2 * zt, sched.posterior_var[t])
        total += (log_p - log_q).double()
        prev = zt
    ab_T = abar[c.T]
    total += (_gauss(prev, torch.zeros_like(prev), 1.0) - _gauss(prev, ab_T.sqrt() * z0, 1 - ab_T)).double()
    return (total + model.log_det).cpu()


def elbo_weights(model: Any) -> torch.Tensor:
    """w_t (t = 2..T): the ELBO's weight on ||eps - eps_hat||^2 at step t (L_simple uses 1 for all t)."""
    t = torch.arange(2, model.config.T + 1)
    ab, var, c1 = (
        v.double().cpu()[t] for v in (model.schedule.alpha_bar, model.schedule.model_var, model.schedule.c1)
    )
    return c1**2 * (1 - ab) / (2 * var * ab)


def verdict(s: dict[str, Any]) -> Verdict:
    """fails: the bound is not the sum of its per-step terms (> 1e-4 nats); holds: additionally the generic
    VAE estimator agrees within 4 standard errors (+ 0.02 nats) and the bound is >= the true NLL (within
    3 standard errors); partly-holds otherwise."""
    d = s["diffusion"]
    text = (
        f"The DDPM bound is the sum of its {s['T']:.0f} per-layer terms (residual "
        f"{common.num(s['terms_err'])}"
        f" nats) and a generic VAE estimator over sampled latent chains gives {d['nll_mc']:.3f} +- "
        f"{s['mc_se']:.3f} vs {d['nll']:.3f} nats; as a likelihood bound it sits {s['gap_true']:+.3f} nats "
        f"above the true NLL {s['true_nll']:.3f}, at {d['nll']:.3f} next to the VAE's ELBO "
        f"{s['vae']['nll']:.3f} and {s['flow_label']} {s['flow_nll']:.3f}; the caveat: L_simple weights "
        "every "
        f"step equally where the ELBO's weights span {s['weight_span_decades']:.1f} decades -- the top "
        "layer, "
        f"weighted {s.get('top_weight_ratio', math.nan):.0f}x the mean by the ELBO, alone costs "
        f"{d.get('kl_last', math.nan):.2f} nats of the bound"
    )
    if s["terms_err"] > 1e-4:
        return Verdict("fails", text + ".")
    agree = abs(d["nll_mc"] - d["nll"]) <= 4 * s["mc_se"] + 0.02
    valid = s["gap_true"] >= -3 * s["gap_se"]
    if agree and valid:
        return Verdict("holds", text + ".")
    return Verdict("partly-holds", text + " (the Monte Carlo check or the bound's validity is off).")


class DiffusionHierarchicalVAE(common.Unification):
    slug: ClassVar[str] = "diffusion-hierarchical-vae"
    title: ClassVar[str] = (
        "Diffusion = hierarchical VAE: the DDPM ELBO as per-layer KLs, next to VAE, flows and truth"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, registry

        ring = datasets.load("ring8")
        steps = scale.steps(3000, 20)
        steps_other = scale.steps(2000, 20)  # the comparison models (VAE, flows, AR)
        n = common.pick(scale, 200, 1000)
        flow_name = "realnvp" if registry.is_available("realnvp") else None

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            test = ring.test[:n]
            true_ll = ring.spec.true_log_density(test).double()
            m: dict[str, Any] = {"true_nll": float(-true_ll.mean())}
            log(f"seed {seed}: diffusion ({steps} steps)")
            diff = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
            common.train(diff, ring, steps, seed)
            terms = diff.elbo_terms(test)
            bound = terms.log_likelihood_bound().double().cpu()
            ll = diff.log_likelihood(test).values.double()
            mc = trajectory_elbo(diff, test, torch.Generator().manual_seed(900 + seed))
            m["terms_err"] = float((bound - ll).abs().max())
            m["diffusion"] = {
                "nll": float(-bound.mean()),
                "nll_mc": float(-mc.mean()),
                "decoder": float(terms.decoder.mean()),
                "kl_sum": float(terms.kl.sum(1).mean()),
                "kl_last": float(
                    terms.kl[:, -1].mean()
                ),  # the layer t = T (abar_T ~ 2e-9: x0_hat ~ 1/alpha_T)
                "prior": float(terms.prior.mean()),
                "log_det": float(terms.log_det.mean()),
            }
            m["mc_se"] = float(mc.std() / math.sqrt(len(mc)))
            gap = -bound - (-true_ll)
            m["gap_true"], m["gap_se"] = float(gap.mean()), float(gap.std() / math.sqrt(len(gap)))
            w = elbo_weights(diff)
            m["weight_span_decades"] = float(torch.log10(w.max() / w.min()))
            m["top_weight_ratio"] = float(w[-1] / w.mean())  # the ELBO's weight on the layer t = T
            m["T"] = float(diff.config.T)

            log(f"seed {seed}: VAE, {flow_name or 'flow matching'}, AR grid ({steps_other} steps each)")
            vae = common.build_model("vae", ring, seed=seed)
            common.train(vae, ring, steps_other, seed)
            m["vae"] = {
                "nll": float(-vae.log_likelihood(test).values.double().mean()),
                "nll_iwae": float(
                    -vae.log_likelihood_iwae(test, k=common.pick(scale, 16, 256)).values.double().mean()
                ),
                "encoder_params": float(sum(p.numel() for p in vae.encoder.parameters())),
            }
            if flow_name:
                flow = common.build_model(flow_name, ring, seed=seed)
                common.train(flow, ring, steps_other, seed)
                m["flow_nll"] = float(-flow.log_likelihood(test).values.double().mean())
            fm = common.build_model(
                "flow-matching",
                ring,
                seed=seed,
                likelihood_nfe=common.pick(scale, 10, 100),
                **common.RING_NETWORK,
            )
            common.train(fm, ring, steps_other, seed)
            m["fm_nll"] = float(-fm.log_likelihood(test).values.double().mean())
            ar = common.build_model("ar-grid", ring, seed=seed, bins=common.pick(scale, 64, 256))
            common.train(ar, ring, steps_other, seed, batch_size=512)
            m["ar_nll"] = float(-ar.log_likelihood(test).values.double().mean())
            if not flow_name:
                m["flow_nll"] = m["fm_nll"]
            per_seed.append(m)
            if seed == 0:
                keep = {
                    "kl": terms.kl.mean(0).cpu(),
                    "t": terms.timesteps,
                    "w": w,
                    "diff": diff,
                    "decoder": float(terms.decoder.mean()),
                    "prior": float(terms.prior.mean()),
                }

        summary = common.summarise(per_seed)
        summary["flow_label"] = "RealNVP's exact NLL" if flow_name else "flow matching's ODE NLL"
        summary["terms_err"] = max(d["terms_err"] for d in per_seed)
        v = verdict(summary)
        T = int(summary["T"])

        def nll_row(
            label: str, kind: str, path: tuple[str, ...], layers: str = "-", params: str = "-"
        ) -> list:
            nll = common.collect(per_seed, *path)
            gap = [x - d["true_nll"] for x, d in zip(nll, per_seed, strict=True)]
            return [label, kind, fmt(nll, 3), fmt(gap, 3), layers, params]

        rows = [
            ["true data density", "exact", fmt([d["true_nll"] for d in per_seed], 3), "0", "-", "-"],
            [
                "diffusion (DDPM, hierarchical VAE)",
                "bound (ELBO, closed-form KLs)",
                fmt(common.collect(per_seed, "diffusion", "nll"), 3),
                fmt([d["gap_true"] for d in per_seed], 3),
                f"{T} layers x 2 dims",
                "0 (fixed Gaussian chain)",
            ],
            nll_row(
                "  same bound, generic VAE estimator",
                "bound (one sampled chain / example)",
                ("diffusion", "nll_mc"),
                "",
                "",
            ),
            nll_row(
                "VAE",
                "bound (ELBO)",
                ("vae", "nll"),
                "1 layer x 2 dims",
                f"{int(summary['vae']['encoder_params']):,}",
            ),
            nll_row("VAE, IWAE", "estimate (importance-weighted)", ("vae", "nll_iwae"), "", ""),
        ]
        if flow_name:
            rows.append(nll_row("RealNVP", "exact", ("flow_nll",)))
        rows += [
            nll_row("flow matching", "estimate (ODE change of variables)", ("fm_nll",)),
            nll_row("AR on bins (piecewise uniform)", "exact", ("ar_nll",)),
        ]
        tables = [
            Table(
                "Test NLL on ring8, nats per example (lower is better; a bound can never beat the truth)",
                ["model", "kind", "NLL", "minus true NLL", "latent layers", "encoder parameters"],
                rows,
            ),
            Table(
                "The DDPM bound split into its VAE terms (nats, mean over test points)",
                ["term", "value"],
                [
                    [
                        "L_0 = -log p(x_0 | x_1) (reconstruction)",
                        fmt(common.collect(per_seed, "diffusion", "decoder"), 3),
                    ],
                    [
                        f"sum of {T - 1} layer KLs L_1..L_{T - 1}",
                        fmt(common.collect(per_seed, "diffusion", "kl_sum"), 3),
                    ],
                    [
                        f"  of which the top layer L_{T - 1} (x0_hat = (x_T - sigma eps_hat) / alpha_T, "
                        "alpha_T ~ 5e-5)",
                        fmt(common.collect(per_seed, "diffusion", "kl_last"), 3),
                    ],
                    [
                        "L_T = KL(q(x_T | x_0) || N(0, I)) (prior)",
                        fmt(common.collect(per_seed, "diffusion", "prior"), 4),
                    ],
                    [
                        "- log|dz/dx| (standardisation)",
                        fmt([-x for x in common.collect(per_seed, "diffusion", "log_det")], 3),
                    ],
                    ["= -ELBO", fmt(common.collect(per_seed, "diffusion", "nll"), 3)],
                    ["max |sum of terms - family's bound|", common.num(summary["terms_err"])],
                    ["Monte Carlo SE of the generic estimator", fmt([d["mc_se"] for d in per_seed], 3)],
                    [
                        "ELBO weight span over t (decades; L_simple: 0)",
                        fmt([d["weight_span_decades"] for d in per_seed], 2),
                    ],
                ],
            ),
        ]
        figs = {"diffusion_hierarchical_vae": self._figure(keep, per_seed, summary)}
        params = {
            "data": "ring8",
            "steps": steps,
            "steps_comparison_models": steps_other,
            "test_points": n,
            "network": common.RING_NETWORK,
            "T": T,
            "flow": flow_name or "flow-matching (RealNVP unavailable)",
            "seeds": len(per_seed),
        }
        recipes = [
            {"role": "diffusion", "recipe": "ddpm-2d", "config": {"dataset": "ring8", "steps": steps}},
            {"role": "VAE", "recipe": "vae-2d", "config": {"dataset": "ring8", "steps": steps}},
        ]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(v, tables, measurements, params, figs, recipes)

    @staticmethod
    def _figure(keep: dict[str, Any], per_seed: list[dict[str, Any]], summary: dict[str, Any]) -> bytes:
        fig, axes = draw.panel_row(3)
        ax = axes[0]
        ax.semilogy(keep["t"].numpy(), keep["kl"].clamp_min(1e-8).numpy(), lw=1)
        ax.set_xlabel("layer t (diffusion step)")
        ax.set_ylabel("KL L_{t-1}, nats")
        ax.set_title(
            f"per-layer KL terms (L_0 = {keep['decoder']:.2f}, L_T = {keep['prior']:.1e})", fontsize=9
        )
        ax.grid(alpha=0.3)
        ax = axes[1]
        w = keep["w"]
        ax.semilogy(range(2, len(w) + 2), (w / w.mean()).numpy(), label="ELBO weight w_t")
        ax.axhline(1.0, color="k", ls="--", label="L_simple (uniform)")
        ax.set_xlabel("step t")
        ax.set_ylabel("weight on ||eps - eps_hat||^2 (mean 1)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title("the trained loss is not the bound", fontsize=9)
        ax = axes[2]
        names = [
            "truth",
            "DDPM\nbound",
            "VAE\nELBO",
            "IWAE",
            "flow\n(exact)" if "RealNVP" in summary["flow_label"] else "FM\nODE",
            "AR bins",
        ]
        vals = [
            summary["true_nll"],
            summary["diffusion"]["nll"],
            summary["vae"]["nll"],
            summary["vae"]["nll_iwae"],
            summary["flow_nll"],
            summary["ar_nll"],
        ]
        ax.bar(range(len(vals)), vals, color=["k", "C0", "C1", "C1", "C2", "C3"])
        ax.set_xticks(range(len(vals)), names, fontsize=8)
        ax.axhline(summary["true_nll"], color="k", lw=0.8)
        ax.set_ylabel("test NLL, nats (lower is better)")
        ax.set_title("likelihoods on ring8", fontsize=9)
        return draw.to_png(fig)
