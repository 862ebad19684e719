"""Diffusion = hierarchical VAE (Ho et al. 2020, eq. 5; Luo 2022, "Understanding Diffusion Models: A
Unified Perspective"; Kingma et al. 2021, "Variational Diffusion Models").

DDPM is a VAE with T latent layers x_1..x_T, each as large as the data, whose encoder is the fixed
Gaussian chain q(x_{1:T} | x_0) = q(x_T | x_0) prod_{t>=2} q(x_{t-1} | x_t, x_0) (no parameters). Its
ELBO is the VAE's, E_q[log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0)], and in closed form a sum of per-layer
terms: a reconstruction -L_0, T - 1 Gaussian KLs L_{t-1} and a prior KL L_T.

Measured on ring8 (where the true density is known):
1. identity (holds by construction): the family's bound is the sum of its per-step terms;
2. the evidence -- the bound computed two independent ways: the closed-form per-layer Gaussian KLs
   (``elbo_terms``) and a *generic VAE estimator* that uses no KL formula: sample the latent chain
   x_1..x_T from the encoder, score log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0). Prediction: they agree
   within 3 *paired* standard errors (both on the same test points, so the spread of the bound over
   points cancels), that interval is narrower than 2 nats (a third of the effect the page reports: the
   bound sits ~6 nats above the true NLL), and the bound is not below the truth. Negative control: the
   same estimator on chains whose noise is 25 % too large at every step (a mismatched schedule), on the
   first half of the test points -- the same rule must reject it;
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
from compute.experiments.base import Evidence, ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common
from compute.families.base import LIKELIHOOD_KIND_LABELS

LOG_2PI = math.log(2 * math.pi)


def _gauss(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor | float) -> torch.Tensor:
    """log N(x; mean, var I) summed over the last dim, (N, D) -> (N,)."""
    var = torch.as_tensor(var, dtype=x.dtype, device=x.device)
    return (-0.5 * (x - mean) ** 2 / var - 0.5 * torch.log(var) - 0.5 * LOG_2PI).sum(-1)


MC_BOUND = LIKELIHOOD_KIND_LABELS["mc-bound"]  # the one rule for likelihood labels (families.base)
RESOLUTION_NATS = 2.0  # the agreement interval (3 paired SE) must be narrower than this
MISMATCH = 1.25  # the control's encoder: every step's noise std 25 % too large


@torch.no_grad()
def trajectory_elbo(
    model: Any, x: torch.Tensor, generator: torch.Generator, noise_scale: float = 1.0
) -> torch.Tensor:
    """One-sample VAE ELBO log p(x_0, x_{1:T}) - log q(x_{1:T} | x_0) per example (nats, data units).

    The latents are drawn forward, x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) xi (the encoder), and
    log q is factorised in the reverse order, q(x_T | x_0) prod_{t>=2} q(x_{t-1} | x_t, x_0): the same
    distribution, so this is the ELBO estimator of any VAE. Expectation = the DDPM bound of Ho eq. 5.
    2-D (points2d) diffusion models with eps-prediction only. ``noise_scale`` != 1 draws the chain from a
    *mismatched* encoder (every step's noise std scaled) while scoring it under the model's own q: the
    negative control, whose expectation is no longer the model's bound."""
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
    prev = abar[1].sqrt() * z0 + noise_scale * beta[1].sqrt() * randn()  # x_1 ~ q(x_1 | x_0)
    total += _gauss(z0, x0_hat(prev, 1), beta[1]).double()  # log p(x_0 | x_1)
    for t in range(2, c.T + 1):
        zt = (1 - beta[t]).sqrt() * prev + noise_scale * beta[t].sqrt() * randn()  # x_t ~ q(x_t | x_{t-1})
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


def agreement(delta: float, se: float, gap_true: float, gap_se: float) -> common.Check:
    """The prediction rule, for the real estimator and the control alike: the generic estimate minus
    the analytic bound (``delta``, nats) lies within 3 paired standard errors, that interval is
    narrower than :data:`RESOLUTION_NATS`, and the estimate does not beat the true NLL (a bound)."""
    within = abs(delta) <= 3 * se
    sharp = 3 * se <= RESOLUTION_NATS
    valid = gap_true >= -3 * gap_se
    text = (
        f"generic - analytic = {delta:+.3f} nats, 3 paired SE = {3 * se:.3f} (<= {RESOLUTION_NATS}: "
        f"{'yes' if sharp else 'no'}), {gap_true:+.3f} nats above the true NLL"
    )
    return common.Check(within and sharp and valid, text)


def evidence(s: dict[str, Any]) -> Evidence:
    a, c = s["agreement"], s["control"]
    return common.evidence(
        claim="DDPM is a hierarchical VAE: its bound is the VAE ELBO of a fixed Gaussian encoder chain",
        prediction=(
            "the closed-form per-layer KL sum and a generic VAE ELBO estimator over latent chains sampled "
            f"from the encoder agree within 3 paired standard errors, an interval narrower than "
            f"{RESOLUTION_NATS} nats, and the bound sits above the true NLL"
        ),
        control=f"the generic estimator on chains from a mismatched encoder (noise std x {MISMATCH})",
        outcome=agreement(a["delta"], a["se"], s["gap_true"], s["gap_se"]),
        control_outcome=agreement(c["delta"], c["se"], c["gap_true"], s["gap_se"]),
        identities=(
            f"the family's bound equals the sum of its per-step terms (max residual "
            f"{common.num(s['terms_err'])} nats)",
        ),
    )


def verdict(s: dict[str, Any]) -> Verdict:
    """holds: the two independent computations of the bound agree (:func:`agreement`) and the mismatched
    encoder is rejected by the same rule; fails: they disagree; partly-holds: the control is not
    rejected (the comparison has no power)."""
    ev, outcome = (
        evidence(s),
        agreement(s["agreement"]["delta"], s["agreement"]["se"], s["gap_true"], s["gap_se"]),
    )
    d = s["diffusion"]
    text = (
        f"The DDPM bound computed from closed-form per-layer KLs ({d['nll']:.3f} nats) and by a generic "
        f"VAE estimator over sampled latent chains ({d['nll_mc']:.3f}) agree to "
        f"{s['agreement']['delta']:+.3f} +- {s['agreement']['se']:.3f} (paired SE); as a likelihood bound "
        f"it sits {s['gap_true']:+.3f} nats above the true NLL {s['true_nll']:.3f}, next to the VAE's ELBO "
        f"{s['vae']['nll']:.3f} and {s['flow_label']} {s['flow_nll']:.3f}; the caveat: L_simple weights "
        f"every step equally where the ELBO's weights span {s['weight_span_decades']:.1f} decades -- the "
        f"top layer, weighted {s.get('top_weight_ratio', math.nan):.0f}x the mean by the ELBO, alone costs "
        f"{d.get('kl_last', math.nan):.2f} nats of the bound"
    )
    return common.judged(ev, "holds" if outcome.passed else "fails", text)


def pooled(per_seed: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Mean difference over seeds and its standard error (independent seeds: SE / sqrt(seeds))."""
    deltas = [d[key]["delta"] for d in per_seed]
    ses = [d[key]["se"] for d in per_seed]
    n = len(per_seed)
    out = {"delta": sum(deltas) / n, "se": math.sqrt(sum(x * x for x in ses)) / n}
    if "gap_true" in per_seed[0][key]:
        out["gap_true"] = sum(d[key]["gap_true"] for d in per_seed) / n
    return out


class DiffusionHierarchicalVAE(common.Unification):
    slug: ClassVar[str] = "diffusion-hierarchical-vae"
    title: ClassVar[str] = (
        "Diffusion = hierarchical VAE: the DDPM ELBO two independent ways, next to VAE, flows and truth"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, registry

        ring = datasets.load("ring8")
        steps, steps_other = scale.steps(3000, 20), scale.steps(2000, 20)  # diffusion; VAE, flows, AR
        n = common.pick(scale, 200, 1000)
        flow_name = "realnvp" if registry.is_available("realnvp") else None
        test = ring.test[:n]

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            log(f"seed {seed}: diffusion ({steps} steps), its bound two ways and the control")
            m, seed_keep = self._diffusion_arm(ring, test, steps, seed)
            log(f"seed {seed}: VAE, {flow_name or 'flow matching'}, AR grid ({steps_other} steps each)")
            m.update(self._comparison_arms(ring, test, steps_other, seed, flow_name, scale))
            per_seed.append(m)
            keep = keep or seed_keep

        summary = common.summarise(per_seed)
        summary.update(
            flow_label="RealNVP's exact NLL" if flow_name else "flow matching's ODE NLL",
            terms_err=max(d["terms_err"] for d in per_seed),
            agreement=pooled(per_seed, "agreement"),
            control=pooled(per_seed, "control"),
        )
        ev = evidence(summary)
        tables = self._tables(per_seed, summary, flow_name)
        figs = {"diffusion_hierarchical_vae": self._figure(keep, summary)}
        params = {
            "data": "ring8",
            "steps": steps,
            "steps_comparison_models": steps_other,
            "test_points": n,
            "network": common.RING_NETWORK,
            "T": int(summary["T"]),
            "flow": flow_name or "flow-matching (RealNVP unavailable)",
            "control_noise_scale": MISMATCH,
            "resolution_nats": RESOLUTION_NATS,
            "seeds": len(per_seed),
        }
        recipes = [
            {"role": "diffusion", "recipe": "ddpm-2d", "config": {"dataset": "ring8", "steps": steps}},
            {"role": "VAE", "recipe": "vae-2d", "config": {"dataset": "ring8", "steps": steps}},
        ]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(verdict(summary), tables, measurements, params, figs, recipes, evidence=ev)

    @staticmethod
    def _diffusion_arm(
        ring: Any, test: torch.Tensor, steps: int, seed: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Train the diffusion model; its bound in closed form, by the generic estimator and by the
        estimator on the mismatched encoder (the control), paired on the same test points."""
        true_ll = ring.spec.true_log_density(test).double()
        diff = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
        common.train(diff, ring, steps, seed)
        terms = diff.elbo_terms(test)
        bound = terms.log_likelihood_bound().double().cpu()
        summed = (-(terms.decoder + terms.kl.sum(1) + terms.prior) + terms.log_det).double().cpu()
        mc = trajectory_elbo(diff, test, torch.Generator().manual_seed(900 + seed))
        half = len(test) // 2  # the control on half the points: its shift is large, its cost is not
        wrong = trajectory_elbo(
            diff, test[:half], torch.Generator().manual_seed(950 + seed), noise_scale=MISMATCH
        )
        sqrt_n = math.sqrt(len(test))

        def paired(estimate: torch.Tensor) -> dict[str, float]:
            k = len(estimate)
            diff_ = -estimate - (-bound[:k])  # NLL units: generic minus analytic, same points
            return {
                "delta": float(diff_.mean()),
                "se": float(diff_.std() / math.sqrt(k)),
                "gap_true": float((-estimate + true_ll[:k]).mean()),
            }

        gap = -bound + true_ll
        w = elbo_weights(diff)
        m: dict[str, Any] = {
            "true_nll": float(-true_ll.mean()),
            "terms_err": float((bound - summed).abs().max()),  # identity: the bound is the sum of its terms
            "diffusion": {
                "nll": float(-bound.mean()),
                "nll_mc": float(-mc.mean()),
                "nll_mismatched": float(-wrong.mean()),
                "decoder": float(terms.decoder.mean()),
                "kl_sum": float(terms.kl.sum(1).mean()),
                "kl_last": float(terms.kl[:, -1].mean()),  # the layer t = T (abar_T ~ 2e-9)
                "prior": float(terms.prior.mean()),
                "log_det": float(terms.log_det.mean()),
            },
            "agreement": paired(mc),
            "control": paired(wrong),
            "mc_se_unpaired": float(mc.std() / sqrt_n),
            "gap_true": float(gap.mean()),
            "gap_se": float(gap.std() / sqrt_n),
            "weight_span_decades": float(torch.log10(w.max() / w.min())),
            "top_weight_ratio": float(w[-1] / w.mean()),  # the ELBO's weight on the layer t = T
            "T": float(diff.config.T),
        }
        keep = {
            "kl": terms.kl.mean(0).cpu(),
            "t": terms.timesteps,
            "w": w,
            "decoder": float(terms.decoder.mean()),
            "prior": float(terms.prior.mean()),
            "paired": {"estimator": (-mc + bound).numpy(), "control": (-wrong + bound[:half]).numpy()},
        }
        return m, keep

    @staticmethod
    def _comparison_arms(
        ring: Any, test: torch.Tensor, steps: int, seed: int, flow_name: str | None, scale: Scale
    ) -> dict[str, Any]:
        """Test NLLs of the other likelihood families on the same points."""

        def nll(model: Any) -> float:
            return float(-model.log_likelihood(test).values.double().mean())

        vae = common.build_model("vae", ring, seed=seed)
        common.train(vae, ring, steps, seed)
        iwae = vae.log_likelihood_iwae(test, k=common.pick(scale, 16, 256)).values.double()
        out: dict[str, Any] = {
            "vae": {
                "nll": nll(vae),
                "nll_iwae": float(-iwae.mean()),
                "encoder_params": float(sum(p.numel() for p in vae.encoder.parameters())),
            }
        }
        fm = common.build_model(
            "flow-matching",
            ring,
            seed=seed,
            likelihood_nfe=common.pick(scale, 10, 100),
            **common.RING_NETWORK,
        )
        common.train(fm, ring, steps, seed)
        out["fm_nll"] = nll(fm)
        ar = common.build_model("ar-grid", ring, seed=seed, bins=common.pick(scale, 64, 256))
        common.train(ar, ring, steps, seed, batch_size=512)
        out["ar_nll"] = nll(ar)
        out["flow_nll"] = out["fm_nll"]
        if flow_name:
            flow = common.build_model(flow_name, ring, seed=seed)
            common.train(flow, ring, steps, seed)
            out["flow_nll"] = nll(flow)
        return out

    @staticmethod
    def _tables(
        per_seed: list[dict[str, Any]], summary: dict[str, Any], flow_name: str | None
    ) -> list[Table]:
        T = int(summary["T"])

        def nll_row(
            label: str, kind: str, path: tuple[str, ...], layers: str = "-", params: str = "-"
        ) -> list:
            nll = common.collect(per_seed, *path)
            gap = [x - d["true_nll"] for x, d in zip(nll, per_seed, strict=True)]
            return [label, kind, fmt(nll, 3), fmt(gap, 3), layers, params]

        rows = [
            ["true data density", "exact", fmt([d["true_nll"] for d in per_seed], 3), "0", "-", "-"],
            nll_row(
                "diffusion (DDPM, hierarchical VAE)",
                f"{MC_BOUND} (ELBO: closed-form KLs, one x_t per layer)",
                ("diffusion", "nll"),
                f"{T} layers x 2 dims",
                "0 (fixed Gaussian chain)",
            ),
            nll_row(
                "  same bound, generic VAE estimator",
                f"{MC_BOUND} (one sampled chain per point)",
                ("diffusion", "nll_mc"),
                "",
                "",
            ),
            nll_row(
                f"  control: chains from a mismatched encoder (noise x {MISMATCH})",
                "estimate (of a wrong encoder's ELBO)",
                ("diffusion", "nll_mismatched"),
                "",
                "",
            ),
            nll_row(
                "VAE",
                f"{MC_BOUND} (ELBO)",
                ("vae", "nll"),
                "1 layer x 2 dims",
                f"{int(summary['vae']['encoder_params']):,}",
            ),
            nll_row(
                "VAE, IWAE",
                f"{MC_BOUND} (IWAE)",
                ("vae", "nll_iwae"),
                "",
                "",
            ),
        ]
        if flow_name:
            rows.append(nll_row("RealNVP", "exact", ("flow_nll",)))
        rows += [
            nll_row("flow matching", "estimate (ODE change of variables)", ("fm_nll",)),
            nll_row("AR on bins (piecewise uniform)", "exact", ("ar_nll",)),
        ]
        a, c = summary["agreement"], summary["control"]
        evidence_rows = [
            ["generic estimator - closed form", f"{a['delta']:+.3f}", f"{a['se']:.3f}", f"{3 * a['se']:.3f}"],
            [
                f"control (noise x {MISMATCH}) - closed form",
                f"{c['delta']:+.3f}",
                f"{c['se']:.3f}",
                f"{3 * c['se']:.3f}",
            ],
        ]
        terms = [
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
            [f"max |sum of terms - family's bound|: {common.IDENTITY}", common.num(summary["terms_err"])],
            [
                "ELBO weight span over t (decades; L_simple: 0)",
                fmt([d["weight_span_decades"] for d in per_seed], 2),
            ],
        ]
        return [
            Table(
                "Test NLL on ring8, nats per example (lower is better; a bound can never beat the truth)",
                ["model", "kind", "NLL", "minus true NLL", "latent layers", "encoder parameters"],
                rows,
            ),
            Table(
                "The evidence: the bound two independent ways, paired on the same test points (nats; "
                f"pooled over seeds; agreement needs |difference| <= 3 SE and 3 SE <= {RESOLUTION_NATS})",
                ["comparison", "mean difference", "paired SE", "3 SE"],
                evidence_rows,
            ),
            Table(
                "The DDPM bound split into its VAE terms (nats, mean over test points)",
                ["term", "value"],
                terms,
            ),
        ]

    @staticmethod
    def _figure(keep: dict[str, Any], summary: dict[str, Any]) -> bytes:
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
        for key, label, color in [
            ("estimator", "generic estimator", "C0"),
            ("control", f"control (noise x {MISMATCH})", "C3"),
        ]:
            ax.hist(keep["paired"][key], bins=40, alpha=0.6, color=color, label=label)
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_xlabel("per-point NLL: generic - closed form (nats)")
        ax.set_ylabel("test points (seed 0)")
        ax.legend(fontsize=8)
        ax.set_title("the evidence and its negative control", fontsize=9)
        return draw.to_png(fig)
