"""Score-based diffusion as a time-indexed EBM (Song et al. 2021, score SDE; Salimans & Ho 2021,
"Should EBMs model the energy or the score?"; Du et al. 2023, "Reduce, Reuse, Recycle").

Two diffusion models on ring8 with the same DDPM training loss, schedule, sampler, width and steps:

- *unconstrained*: the family's eps-network, an MLP R^2 x [0, 1] -> R^2 (any vector field);
- *energy*: eps_theta(z, t) = grad_z phi_theta(z, t) with a scalar MLP phi, so the score
  s = -eps / sigma_t = -grad_z E_theta(z, t) with E_theta = phi_theta / sigma_t is a gradient field by
  construction, and p_theta,t(z) = exp(-E_theta(z, t)) / Z_t is a density at every noise level.
  phi = 1/2 sigma_t |z|^2 + MLP(z, fourier(z), emb(t)): the quadratic is the exact potential for
  unit-Gaussian data, the MLP learns the rest (its Fourier features are half as fast as the eps-net's,
  see ``ENERGY_FOURIER_SCALE``).

Identity (holds by construction, shown, never the evidence): the energy network's Jacobian is
symmetric (it is a Hessian), so its antisymmetric share is ~0 whatever it learned.

The evidence -- something that could fail: the trained energy is a *density* of the noised data at
every level. exp(-E_theta(z, t)) / Z_t (log Z_t by quadrature on a grid) is compared with the true p_t
of the noised mixture (closed form: a mixture with means alpha_t mu_k and variance alpha_t^2 s^2 +
sigma_t^2) through KL(p_t || p_theta,t) = E_{p_t}[log p_t - log p_theta,t] at several sigma_t.
Prediction: KL <= :data:`KL_MAX` nats at every level. Negative control: the same energy network at its
initial weights (untrained), scored by the same code and threshold. Also measured: both models sample
the data (the verdict-grade 2-D criterion and MMD^2 to fresh data), and the caveat -- how far the
unconstrained field is from conservative: the antisymmetric share of its Jacobian,
E||J - J^T||_F / E||J + J^T||_F at points of p_t (0 for any gradient field).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from compute.experiments import figures as draw
from compute.experiments.base import Evidence, ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common
from compute.families.denoising import SinusoidalEmbedding, silu_mlp

SIGMA_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.95)  # noise levels sigma_t = sqrt(1 - abar_t) (model units)
# Frequency std of the energy's random Fourier features (the eps-net's is 3): eps is the *gradient* of the
# energy, so every feature's frequency multiplies it once more and the field gets rougher at equal scale.
# On seed 0 (3,000 steps) scale 3 / 2 / 1.5 gave 62 / 89 / 95 % high-quality samples; 1.5 is used.
ENERGY_FOURIER_SCALE = 1.5
KL_MAX = 0.1  # nats: the energy's density must be this close to the true p_t at every level


class EnergyEpsNet(nn.Module):
    """A diffusion eps-network that is a gradient field: eps(z, t) = grad_z phi(z, t).

    z (B, D), t (B,) in [0, 1] (step / T) -> (B, D). ``energy(z, t)`` = phi / sigma_t (B,), so that
    the score -eps / sigma_t equals -grad_z energy. ``sigmas`` (T + 1,) = sqrt(1 - abar_t).
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        depth: int,
        time_dim: int,
        fourier: int,
        fourier_scale: float,
        sigmas: torch.Tensor,
    ):
        super().__init__()
        self.time = SinusoidalEmbedding(time_dim)
        self.register_buffer("fourier_b", 2 * math.pi * fourier_scale * torch.randn(dim, fourier))
        self.register_buffer("sigmas", sigmas.float().clamp_min(1e-6))
        self.net = silu_mlp(
            dim + 2 * fourier + time_dim, hidden, depth, 1
        )  # smooth: eps's Jacobian is its Hessian

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        T = len(self.sigmas) - 1
        return self.sigmas[(t * T).round().long().clamp(0, T)]

    def potential(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # (B, D), (B,) -> (B,)
        proj = z @ self.fourier_b
        h = torch.cat([z, proj.sin(), proj.cos(), self.time(t)], 1)
        return 0.5 * self._sigma(t) * z.pow(2).sum(1) + self.net(h).squeeze(-1)

    def energy(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.potential(z, t) / self._sigma(t)

    def forward(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        create = torch.is_grad_enabled()  # training (and Jacobians) differentiate through the gradient
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.potential(z, t).sum(), z, create_graph=create)
        return grad


def energy_network(model: Any, seed: int) -> EnergyEpsNet:
    """An energy-parameterised eps-network sized like ``model``'s own (common.RING_NETWORK), for its
    schedule; the same seed gives the same weights, the global RNG is left alone."""
    size = common.RING_NETWORK
    sigmas = (1 - model.schedule.alpha_bar.double()).sqrt()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return EnergyEpsNet(
            2,
            size["hidden"],
            size["depth"],
            size["time_dim"],
            size["fourier_features"],
            ENERGY_FOURIER_SCALE,
            sigmas,
        )


def mixture_log_density(z: torch.Tensor, means: torch.Tensor, var: float) -> torch.Tensor:
    """log of the equal-weight isotropic Gaussian mixture at z (N, D); float64 (N,)."""
    z, means = z.double(), means.double()
    d2 = torch.cdist(z, means).pow(2)
    log_n = -0.5 * d2 / var - 0.5 * z.shape[1] * math.log(2 * math.pi * var)
    return torch.logsumexp(log_n, 1) - math.log(len(means))


def jacobian_asymmetry(field: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> float:
    """E||J - J^T||_F / E||J + J^T||_F of a field R^D -> R^D at the points z (N, D); 0 for gradients."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        out = field(z)
        rows = [
            torch.autograd.grad(out[:, i].sum(), z, retain_graph=i + 1 < out.shape[1])[0]
            for i in range(out.shape[1])
        ]
    jac = torch.stack(rows, 1).double()  # (N, D, D): J[n, i, j] = d out_i / d z_j
    anti = (jac - jac.transpose(1, 2)).flatten(1).norm(dim=1).mean()
    sym = (jac + jac.transpose(1, 2)).flatten(1).norm(dim=1).mean()
    return float(anti / sym.clamp_min(1e-30))


def density_rule(kls: dict[str, float]) -> common.Check:
    """The prediction, for the trained energy and the control alike: KL(p_t || exp(-E)/Z_t) <= KL_MAX
    at every noise level (``kls``: level -> KL in nats; a non-finite KL fails)."""
    worst = max(kls, key=lambda k: kls[k] if math.isfinite(kls[k]) else math.inf)
    ok = all(math.isfinite(v) and v <= KL_MAX for v in kls.values())
    return common.Check(
        ok, f"KL(p_t || exp(-E)/Z_t) at most {common.num(kls[worst])} nats (sigma_t = {worst})"
    )


def evidence(s: dict[str, Any]) -> Evidence:
    return common.evidence(
        claim="a diffusion model is a time-indexed EBM: with a scalar energy network its score is -grad E "
        "and exp(-E(x, t))/Z_t is a density of the noised data",
        prediction=f"the trained energy's exp(-E)/Z_t is within {KL_MAX} nats (KL) of the true p_t at every "
        "noise level",
        control="the same energy network at its initial weights (untrained)",
        outcome=density_rule(s["kl"]),
        control_outcome=density_rule(s["kl_control"]),
        identities=(
            "Jacobian antisymmetry of the energy network's field "
            f"{common.num(max(s['asym_energy'].values()))} (a Hessian is symmetric)",
        ),
    )


def verdict(s: dict[str, Any]) -> Verdict:
    """fails: the energy's density misses the true p_t (:func:`density_rule`) or has no finite log Z;
    holds: the prediction is met, the untrained control rejected and the energy model samples as well as
    the unconstrained one (:func:`common.as_good_as`, width-sensitive); partly-holds otherwise."""
    e, u = s["energy"], s["unconstrained"]
    ev, outcome = evidence(s), density_rule(s["kl"])
    asym_u = max(s["asym_unconstrained"].values())
    text = (
        f"The energy-parameterised model's exp(-E(x,t))/Z_t against the true noised density p_t "
        f"({outcome.text}); it samples {e['modes']:.0f}/{e['num_modes']:.0f} modes, MMD^2 "
        f"{common.num(e['mmd2_e3'])}e-3 (2-D criterion met on {100 * e['judge']:.0f} % of seeds) vs the "
        f"unconstrained {u['modes']:.0f}/{u['num_modes']:.0f}, {common.num(u['mmd2_e3'])}e-3 "
        f"({100 * u['judge']:.0f} %); the caveat: the unconstrained field is not a gradient -- up to "
        f"{100 * asym_u:.1f} % of its Jacobian is antisymmetric"
    )
    if not outcome.passed or not s["log_z_finite"]:
        return common.judged(ev, "fails", text)
    if common.as_good_as(e, u):
        return common.judged(ev, "holds", text)
    return common.judged(
        ev, "partly-holds", text + " (the energy model's samples lag the unconstrained one's)"
    )


class DiffusionAsEBM(common.Unification):
    slug: ClassVar[str] = "diffusion-as-ebm"
    title: ClassVar[str] = (
        "Diffusion as a time-indexed EBM: an energy-parameterised score vs an unconstrained one"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets

        ring = datasets.load("ring8")
        steps = scale.steps(3000, 20)
        budget = {
            "n": common.pick(scale, 400, 2000),
            "nfe": common.pick(scale, 20, 100),
            "n_kl": common.pick(scale, 500, 4000),
            "grid_n": common.pick(scale, 120, 360),
        }
        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            m: dict[str, Any] = {}
            models = {}
            for arm in ("unconstrained", "energy"):
                log(f"seed {seed}: training the {arm} diffusion model ({steps} steps)")
                models[arm], m[arm], samples = self._arm(ring, arm, steps, seed, budget)
                keep.setdefault(arm, samples)
            log(f"seed {seed}: densities (trained, untrained) and Jacobians at sigma_t in {SIGMA_LEVELS}")
            control = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
            control.use_network(energy_network(control, seed))  # initial weights: the negative control
            m.update(self._density(models["energy"], ring, seed, budget))
            m["kl_control"] = self._density(control, ring, seed, budget)["kl"]
            m.update(self._asymmetry(models, ring, seed))
            per_seed.append(m)
            keep.setdefault("energy_model", models["energy"])
            keep.setdefault("unc_model", models["unconstrained"])

        summary = common.summarise(per_seed)
        summary["log_z_finite"] = all(common.finite(*d["log_z"].values()) for d in per_seed)
        ev = evidence(summary)
        tables = self._tables(per_seed)
        figs = {"diffusion_as_ebm": self._figure(keep, ring, list(per_seed[0]["kl"])[1])}
        params = {
            "data": "ring8",
            "steps": steps,
            "samples": budget["n"],
            "sampler": "ancestral",
            "nfe": budget["nfe"],
            "network": common.RING_NETWORK,
            "energy_fourier_scale": ENERGY_FOURIER_SCALE,
            "sigma_levels": list(SIGMA_LEVELS),
            "kl_samples": budget["n_kl"],
            "kl_max": KL_MAX,
            "control": "energy network at its initial weights",
            "quadrature_grid": budget["grid_n"],
            "seeds": len(per_seed),
        }
        recipes = [
            {
                "role": "unconstrained score",
                "recipe": "ddpm-2d",
                "config": {"dataset": "ring8", "steps": steps},
            },
            {"role": "energy at one noise level", "recipe": "ebm-dsm-2d", "config": {"dataset": "ring8"}},
        ]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(verdict(summary), tables, measurements, params, figs, recipes, evidence=ev)

    @staticmethod
    def _arm(
        ring: Any, arm: str, steps: int, seed: int, budget: dict[str, int]
    ) -> tuple[Any, dict[str, float], torch.Tensor]:
        """Train one arm (unconstrained eps-net or energy-parameterised), sample it, score the samples."""
        model = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
        if arm == "energy":
            model.use_network(energy_network(model, seed))
        info = common.train(model, ring, steps, seed)
        n = budget["n"]
        samples, t_sample = common.timed(
            lambda: model.sample(n, sampler="ancestral", nfe=budget["nfe"], seed=seed)
        )
        scores = {
            **common.quality_2d(samples, ring, seed),
            "train_s_per_1k_steps": 1e3 * info["seconds"] / steps,
            "sample_ms_per_1k": 1e3 * t_sample * 1000 / n,
            "params": common.network_size(model),
        }
        return model, scores, samples

    @staticmethod
    def _levels(model: Any) -> list[tuple[str, int, float, float]]:
        """(key, step, alpha_t, sigma_t) of each level in SIGMA_LEVELS on ``model``'s schedule."""
        sig = (1 - model.schedule.alpha_bar.double()).sqrt()
        out = []
        for level in SIGMA_LEVELS:
            step = int((sig[1:] - level).abs().argmin()) + 1
            out.append((f"{level:g}", step, float(model.alpha_bar(step).sqrt()), float(sig[step])))
        return out

    def _density(self, model: Any, ring: Any, seed: int, budget: dict[str, int]) -> dict[str, Any]:
        """KL(p_t || exp(-E)/Z_t) and log Z_t at each level (model z coordinates) of an energy model."""
        from compute.metrics import grid_log_mass

        T = model.config.T
        modes_z = (ring.modes - model.shift) / model.scale
        std_z = ring.mode_std / model.scale
        g = torch.Generator().manual_seed(500 + seed)  # the same draws for the model and its control
        net = model.ema_network
        out: dict[str, dict[str, float]] = {"kl": {}, "log_z": {}, "steps_at": {}}
        for key, step, a, s in self._levels(model):
            n_kl = budget["n_kl"]
            z0 = (ring.sample(n_kl, g) - model.shift) / model.scale
            zt = a * z0 + s * torch.randn(n_kl, 2, generator=g)  # exact draws from p_t

            def neg_energy(z: torch.Tensor, step: int = step) -> torch.Tensor:
                with torch.no_grad():
                    t = torch.full((len(z),), step / T, device=model.device)
                    return -net.energy(z.to(model.device), t).cpu()

            log_z = grid_log_mass(neg_energy, (-4.5, 4.5), budget["grid_n"])
            log_true = mixture_log_density(zt, a * modes_z, a**2 * std_z**2 + s**2)
            out["kl"][key] = float((log_true - (neg_energy(zt).double() - log_z)).mean())
            out["log_z"][key] = log_z
            out["steps_at"][key] = float(step)
        return out

    def _asymmetry(self, models: dict[str, Any], ring: Any, seed: int) -> dict[str, Any]:
        """Jacobian antisymmetry of both fields at 500 points of each p_t (the energy's: an identity)."""
        energy_model, unc = models["energy"], models["unconstrained"]
        T = energy_model.config.T
        g = torch.Generator().manual_seed(600 + seed)
        out: dict[str, dict[str, float]] = {"asym_unconstrained": {}, "asym_energy": {}}
        for key, step, a, s in self._levels(energy_model):
            z0 = (ring.sample(500, g) - energy_model.shift) / energy_model.scale
            pts = (a * z0 + s * torch.randn(500, 2, generator=g)).to(energy_model.device)
            tt = torch.full((500,), step / T, device=energy_model.device)
            out["asym_unconstrained"][key] = jacobian_asymmetry(lambda z, tt=tt: unc.ema_network(z, tt), pts)
            net = energy_model.ema_network
            out["asym_energy"][key] = jacobian_asymmetry(lambda z, tt=tt, net=net: net(z, tt), pts)
        return out

    @staticmethod
    def _tables(per_seed: list[dict[str, Any]]) -> list[Table]:
        levels = list(per_seed[0]["kl"])
        return [
            Table(
                "Samples (ancestral, same sampler and NFE for both)",
                [
                    "score network",
                    *common.QUALITY_COLUMNS,
                    "meets 2-D criterion (share of seeds)",
                    "train s / 1k steps",
                    "sampling ms / 1k samples",
                ],
                [
                    [
                        arm,
                        *common.quality_cells(per_seed, arm),
                        fmt(common.collect(per_seed, arm, "judge"), 2),
                        fmt(common.collect(per_seed, arm, "train_s_per_1k_steps"), 1),
                        fmt(common.collect(per_seed, arm, "sample_ms_per_1k"), 0),
                    ]
                    for arm in ("unconstrained", "energy")
                ],
            ),
            Table(
                f"Per noise level: the evidence (KL <= {KL_MAX} at every level) and the control; Jacobian "
                f"antisymmetry (energy network: {common.IDENTITY})",
                [
                    "sigma_t",
                    "step t",
                    "log Z_t (energy)",
                    "KL(p_t || exp(-E)/Z_t), nats",
                    "KL, control (untrained energy)",
                    "Jacobian antisymmetry, unconstrained",
                    "Jacobian antisymmetry, energy",
                ],
                [
                    [
                        lv,
                        int(per_seed[0]["steps_at"][lv]),
                        fmt(common.collect(per_seed, "log_z", lv), 3),
                        fmt(common.collect(per_seed, "kl", lv), 3),
                        fmt(common.collect(per_seed, "kl_control", lv), 3),
                        fmt(common.collect(per_seed, "asym_unconstrained", lv), 4),
                        common.num(max(common.collect(per_seed, "asym_energy", lv))),
                    ]
                    for lv in levels
                ],
            ),
        ]

    @staticmethod
    def _figure(keep: dict[str, Any], ring: Any, level: str) -> bytes:
        fig, axes = draw.panel_row(4)
        draw.scatter(axes[0], keep["unconstrained"], ring, "unconstrained eps-net: samples")
        draw.scatter(axes[1], keep["energy"], ring, "energy-parameterised: samples")
        model, unc = keep["energy_model"], keep["unc_model"]
        sig = (1 - model.schedule.alpha_bar.double()).sqrt()
        step = int((sig[1:] - float(level)).abs().argmin()) + 1
        T = model.config.T
        axis = torch.linspace(-2.6, 2.6, 160)
        gx, gy = torch.meshgrid(axis, axis, indexing="xy")
        pts = torch.stack([gx.flatten(), gy.flatten()], 1).to(model.device)
        tt = torch.full((len(pts),), step / T, device=model.device)
        with torch.no_grad():
            energy = model.ema_network.energy(pts, tt).cpu().reshape(160, 160)
        ax = axes[2]
        ax.contourf(
            gx.numpy(),
            gy.numpy(),
            (-energy - (-energy).max()).clamp(min=-12).numpy(),
            levels=14,
            cmap="viridis",
        )
        ax.set_title(f"energy model: -E(z, t) at sigma_t = {level} (standardised z)", fontsize=8)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        # curl of the unconstrained field on the same grid
        small = torch.linspace(-2.6, 2.6, 60)
        sx, sy = torch.meshgrid(small, small, indexing="xy")
        p = torch.stack([sx.flatten(), sy.flatten()], 1).to(model.device).requires_grad_(True)
        ts = torch.full((len(p),), step / T, device=model.device)
        with torch.enable_grad():
            out = unc.ema_network(p, ts)
            d1 = torch.autograd.grad(out[:, 1].sum(), p, retain_graph=True)[0][:, 0]
            d0 = torch.autograd.grad(out[:, 0].sum(), p)[0][:, 1]
        curl = (d1 - d0).detach().cpu().reshape(60, 60)
        lim = float(curl.abs().max()) or 1.0
        ax = axes[3]
        im = ax.imshow(
            curl.numpy(), origin="lower", extent=(-2.6, 2.6, -2.6, 2.6), cmap="RdBu_r", vmin=-lim, vmax=lim
        )
        ax.set_title(f"unconstrained eps-net: curl, sigma_t = {level}\n(0 for a gradient field)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046)
        return draw.to_png(fig)
