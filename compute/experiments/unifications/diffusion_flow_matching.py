"""Diffusion and Gaussian-path flow matching share an algorithmic core (Gao et al. 2024, "Diffusion Meets
Flow Matching: Two Sides of the Same Coin"; Kingma & Gao 2023, "Understanding Diffusion Objectives as
the ELBO with Simple Data Augmentation"; Lipman et al. 2023; Song, Meng & Ermon 2021, DDIM).

A VP diffusion point x_s = alpha_s x + sigma_s eps and the straight (rectified-flow) path of flow
matching, y_t = t x + (1 - t) eps, are the same Gaussian path up to a rescaling:

    y = x_s / (alpha_s + sigma_s),   t = alpha_s / (alpha_s + sigma_s),   log-SNR = 2 log(t / (1 - t)).

So a trained eps-prediction model gives the path's velocity (the conditional target is u = x - eps):

    v(y, t) = E[x - eps | y] = x0_hat - eps_hat = (y - eps_hat)/t,  eps_hat = eps_theta((alpha + sigma) y, s)

with s the diffusion step of log-SNR lambda,

and, per sample, the flow-matching regression is the eps regression reweighted:

    || u - v_hat ||^2 = || eps - eps_hat ||^2 / t^2,    1 / t^2 = (1 + exp(-lambda / 2))^2.

Measured on ring8: (i) the loss identity on a batch (float32 residual); (ii) DDIM is *exactly* Euler's
method on that velocity over DDIM's own time grid (max deviation of the endpoints); (iii) the converted
velocity sampled by the flow-matching family's ODE integrator (Heun on its grid) vs the same model's
DDIM samples from the *same* initial noise -- per-sample distance, against the discretisation floor
(DDIM at N vs 4N steps); (iv) a flow-matching model trained directly, same network and steps; (v) both
models scored on the same eps regression, per log-SNR bin. The caveat -- the equivalence is not exact
in finite settings and schedules / weights still matter -- shows up in (iv)-(v) and in the figure of
the two objectives' weightings over log-SNR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from compute.experiments import figures as draw
from compute.experiments.base import ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common

# --------------------------------------------------------------------------------------------
# The reparameterisations (pure functions, float32 or float64).


def linear_to_vp(y: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_vp, alpha, sigma) of the VP point matching the linear-path point y at time t in (0, 1).

    alpha = sqrt(sigmoid(lambda)), sigma = sqrt(sigmoid(-lambda)), lambda = 2 log(t / (1 - t)); x_vp = (alpha
    + sigma) y. ``t`` is (B,) (or a scalar), broadcast over the trailing dimensions of y (B, ...)."""
    t = torch.as_tensor(t, dtype=y.dtype, device=y.device)
    lam = 2 * (torch.log(t) - torch.log1p(-t))
    alpha, sigma = torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()
    alpha_b, sigma_b = _bc(alpha, y), _bc(sigma, y)
    return (alpha_b + sigma_b) * y, alpha, sigma


def eps_to_velocity(y: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Velocity of the linear path from the noise prediction at the matching VP point: (y - eps) / t."""
    return (y - eps) / _bc(torch.as_tensor(t, dtype=y.dtype, device=y.device), y)


def velocity_to_eps(y: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inverse map, eps = y - t v (holds for the flow-matching family's sigma_min path too)."""
    return y - _bc(torch.as_tensor(t, dtype=y.dtype, device=y.device), y) * v


def fm_weight(lam: torch.Tensor) -> torch.Tensor:
    """The factor 1 / t^2 = (1 + exp(-lambda / 2))^2 that turns the eps loss into the velocity loss."""
    return (1 + torch.exp(-lam / 2)) ** 2


def _bc(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1))) if v.dim() else v


# --------------------------------------------------------------------------------------------
# A diffusion model read as a flow.


class ConvertedFlow:
    """The linear-path velocity of a trained eps-prediction diffusion model, shaped so that the
    flow-matching family's ODE integrator (``flow_matching.integrate_ode``) runs it.

    The integrator's time tau in [0, 1] is mapped onto [t_lo, t_hi], the span the diffusion was trained
    on (t_lo = t(step T) ~ 5e-5 for the cosine schedule, t_hi = t(step 1)); the start is the DDIM start
    x_T rescaled, and the end is denoised once (x0_hat at step 1), exactly as DDIM's last step does.
    ``clip``: clip x0_hat to the data box as the family's sampler does."""

    def __init__(self, diffusion: Any, clip: bool = True, time_grid: str = "quadratic"):
        self.diffusion = diffusion
        self.clip = clip
        self.time_grid = time_grid
        ab = diffusion.schedule.alpha_bar.double().cpu()
        self.lam_table = torch.log(ab[1:]) - torch.log1p(-ab[1:])  # (T,) decreasing in the step
        a, s = ab.sqrt(), (1 - ab).sqrt()
        self.t_of_step = (a / (a + s)).float()  # (T + 1,)
        T = diffusion.config.T
        self.t_lo, self.t_hi = float(self.t_of_step[T]), float(self.t_of_step[1])

    def step_of(self, t: torch.Tensor) -> torch.Tensor:
        """Continuous diffusion step s in [1, T] whose log-SNR equals 2 log(t / (1 - t))."""
        lam = (2 * (torch.log(t.double()) - torch.log1p(-t.double()))).cpu()
        table = self.lam_table.flip(0)  # increasing; table[j] is step T - j
        j = torch.searchsorted(table, lam.clamp(float(table[0]), float(table[-1]))).clamp(1, len(table) - 1)
        lo, hi = table[j - 1], table[j]
        frac = (lam - lo) / (hi - lo).clamp_min(1e-12)
        T = len(table)
        return (T - (j - 1) - frac).float()  # step of table index j - 1 + frac

    def eps_at(self, x_vp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """eps_theta(x_vp, s(t)) with the family's EMA network at a continuous step."""
        with torch.no_grad():
            return self.diffusion.eps_continuous(x_vp, self.step_of(t.expand(len(x_vp))))

    def field(self, y: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """v(y, t) (B, D) on the linear path, with the family's x0 clipping when ``clip``."""
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
        x_vp, alpha, sigma = linear_to_vp(y, t.to(y.device))
        eps = self.eps_at(x_vp, t)
        if not self.clip:
            return eps_to_velocity(y, t.to(y.device), eps)
        a, s = _bc(alpha, y), _bc(sigma, y)
        x0 = ((x_vp - s * eps) / a).clamp(-2.0, 2.0)  # the family's box for points2d
        eps = (x_vp - a * x0) / s
        return x0 - eps

    def velocity(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        """dy/dtau for the integrator: tau in [0, 1] -> t = t_lo + (t_hi - t_lo) tau."""
        t = self.t_lo + (self.t_hi - self.t_lo) * float(tau)
        return (self.t_hi - self.t_lo) * self.field(x, t)

    def start(self, n: int, seed: int) -> torch.Tensor:
        """The DDIM start x_T ~ N(0, I) (same generator as ``Diffusion.sample(seed=...)``) in y units."""
        d = self.diffusion
        x_T = torch.randn((n, *d.spec.shape), generator=torch.Generator().manual_seed(seed)).to(d.device)
        ab_T = d.alpha_bar(d.config.T)
        a, s = ab_T.sqrt(), (1 - ab_T).sqrt()
        return x_T / (a + s)

    def finish(self, y: torch.Tensor) -> torch.Tensor:
        """Denoise once at t_hi (x0_hat = y + (1 - t_hi) v) and map to data coordinates."""
        x0 = y + (1 - self.t_hi) * self.field(y, self.t_hi)
        return self.diffusion.from_model_space(x0)

    @torch.no_grad()
    def sample_fm(self, n: int, nfe: int, sampler: str, seed: int) -> torch.Tensor:
        """Samples with the flow-matching family's integrator (nfe evaluations, + 1 to denoise)."""
        from compute.families.flow_matching import integrate_ode

        y = integrate_ode(self.velocity, self.start(n, seed), nfe, sampler, self.time_grid)
        return self.finish(y)

    @torch.no_grad()
    def sample_euler_on_ddim_grid(self, n: int, nfe: int, seed: int) -> torch.Tensor:
        """Euler's method on v over DDIM's own (strided) timesteps: reproduces DDIM(eta = 0) exactly."""
        from compute.families.diffusion import strided_timesteps

        d = self.diffusion
        steps = strided_timesteps(d.config.T, nfe).tolist()
        y = self.start(n, seed)
        for i, s in enumerate(steps):
            t = float(self.t_of_step[s])
            t_next = float(self.t_of_step[steps[i + 1]]) if i + 1 < len(steps) else 1.0
            y = y + (t_next - t) * self.field(y, t)
        return d.from_model_space(y)


def same_coordinates() -> dict[str, Any]:
    """Flow-matching overrides that put its z in the diffusion family's coordinates (box -> [-2, 2]), so
    that both models learn the same Gaussian path on the same data."""
    import dataclasses

    from compute import registry

    fields = {f.name for f in dataclasses.fields(registry.get("flow-matching").Config)}
    return {"data_scale": 1.0} if "data_scale" in fields else {}


# --------------------------------------------------------------------------------------------


def verdict(s: dict[str, Any]) -> Verdict:
    """holds: the loss identity and DDIM = Euler hold to float32 precision, the FM solver on the converted
    velocity lands where DDIM does (>= 95 % same mode, median distance <= max(mode std, 2x the DDIM
    discretisation floor)), and flow matching trained directly is as good (all modes, MMD^2 x 1e3 <=
    2 max(x, 0)
    + 0.5, where 0.5 is about the sampling noise of MMD^2 x 1e3 at 2,000 points);
    partly-holds: the first two but not the last; fails otherwise."""
    identity = s["loss_identity_rel_err"] <= 1e-4 and s["ddim_euler_max_dev"] <= 1e-3
    agree = s["same_mode_fraction"] >= 0.95 and s["median_dist_conv_ddim"] <= max(
        s["mode_std"], 2 * s["median_dist_ddim_floor"]
    )
    ddim, fm = s["ddim"], s["fm_direct"]
    fm_ok = fm["modes"] >= fm["num_modes"] and fm["mmd2_e3"] <= 2 * max(ddim["mmd2_e3"], 0.0) + 0.5
    text = (
        f"The two losses coincide per sample up to the weight 1/t^2 (relative residual "
        f"{common.num(s['loss_identity_rel_err'])}); DDIM is Euler on the converted velocity (endpoints "
        "within "
        f"{common.num(s['ddim_euler_max_dev'])}); the flow-matching ODE solver on the converted eps-model "
        "puts "
        f"{100 * s['same_mode_fraction']:.1f} % of samples in the same mode as DDIM from the same noise "
        f"(median distance {common.num(s['median_dist_conv_ddim'])} vs DDIM's own N-vs-4N floor "
        f"{common.num(s['median_dist_ddim_floor'])}); flow matching trained directly reaches MMD^2 "
        f"{common.num(fm['mmd2_e3'])}e-3 vs diffusion {common.num(ddim['mmd2_e3'])}e-3"
    )
    if identity and agree and fm_ok:
        return Verdict("holds", text + ".")
    if identity and agree:
        return Verdict(
            "partly-holds", text + ": at this finite budget the directly trained flow differs (the caveat)."
        )
    return Verdict("fails", text + ".")


class DiffusionFlowMatching(common.Unification):
    slug: ClassVar[str] = "diffusion-flow-matching"
    title: ClassVar[str] = "Diffusion = Gaussian-path flow matching: an eps-model sampled as a flow"

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets

        ring = datasets.load("ring8")
        steps = scale.steps(3000, 20)
        n = common.pick(scale, 400, 2000)
        nfe = common.pick(scale, 20, 100)

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            log(f"seed {seed}: training diffusion and flow matching ({steps} steps each)")
            diff = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
            common.train(diff, ring, steps, seed)
            fm = common.build_model(
                "flow-matching", ring, seed=seed, **common.RING_NETWORK, **same_coordinates()
            )
            common.train(fm, ring, steps, seed)
            conv = ConvertedFlow(diff)
            ref = common.reference(ring, n, seed)
            m: dict[str, Any] = {}
            ddim = diff.sample(n, sampler="ddim", nfe=nfe, seed=seed)
            ddim_fine = diff.sample(n, sampler="ddim", nfe=4 * nfe, seed=seed)
            euler_ddim = conv.sample_euler_on_ddim_grid(n, nfe, seed)
            heun = conv.sample_fm(n, nfe, "heun", seed)
            euler = conv.sample_fm(n, nfe, "euler", seed)
            direct = fm.sample(n, sampler="heun", nfe=nfe, seed=seed)
            for name, x in [
                ("ddim", ddim),
                ("converted_heun", heun),
                ("converted_euler", euler),
                ("fm_direct", direct),
            ]:
                m[name] = common.quality_2d(x, ring, seed, ref)
            m["ddim_euler_max_dev"] = float((euler_ddim - ddim).abs().max())
            dist = (heun - ddim).norm(dim=1)
            m["median_dist_conv_ddim"] = float(dist.median())
            m["median_dist_euler_ddim"] = float((euler - ddim).norm(dim=1).median())
            m["median_dist_ddim_floor"] = float((ddim_fine - ddim).norm(dim=1).median())
            near = lambda x: torch.cdist(x.double(), ring.modes.double()).argmin(1)  # noqa: E731
            m["same_mode_fraction"] = float((near(heun) == near(ddim)).double().mean())
            m["mode_std"] = ring.mode_std
            m.update(self._losses(diff, fm, conv, ring, seed, common.pick(scale, 2000, 20000)))
            per_seed.append(m)
            if seed == 0:
                keep = {"ddim": ddim, "heun": heun, "direct": direct, "diff": diff, "fm": fm}

        summary = common.summarise(per_seed)
        v = verdict(summary)
        rows = []
        for name, label, evals in [
            ("ddim", "diffusion, DDIM (its own sampler)", nfe),
            ("converted_euler", "diffusion -> velocity, FM Euler", nfe + 1),
            ("converted_heun", "diffusion -> velocity, FM Heun", nfe + 1),
            ("fm_direct", "flow matching trained directly, Heun", nfe),
        ]:
            rows.append([label, evals, *common.quality_cells(per_seed, name)])
        bins = list(per_seed[0]["eps_mse_by_lambda"])
        tables = [
            Table(
                "Samples (same initial noise for the first three rows)",
                ["sampler", "network evaluations", *common.QUALITY_COLUMNS],
                rows,
            ),
            Table(
                "Agreement of the same eps-model sampled two ways (per sample, same noise)",
                ["quantity", "value"],
                [
                    [
                        "max |Euler on DDIM's grid - DDIM| (data units)",
                        common.num(max(common.collect(per_seed, "ddim_euler_max_dev"))),
                    ],
                    ["median |FM Heun - DDIM|", fmt(common.collect(per_seed, "median_dist_conv_ddim"), 4)],
                    ["median |FM Euler - DDIM|", fmt(common.collect(per_seed, "median_dist_euler_ddim"), 4)],
                    [
                        f"median |DDIM {nfe} - DDIM {4 * nfe}| (discretisation floor)",
                        fmt(common.collect(per_seed, "median_dist_ddim_floor"), 4),
                    ],
                    [
                        "same nearest mode, FM Heun vs DDIM",
                        fmt(common.collect(per_seed, "same_mode_fraction"), 3),
                    ],
                    ["mode std (data)", ring.mode_std],
                    [
                        "max_i |t^2 L_FM,i - L_eps,i| / mean L_eps (float32)",
                        common.num(max(common.collect(per_seed, "loss_identity_rel_err"))),
                    ],
                ],
            ),
            Table(
                "The same eps regression, per log-SNR bin: each model's E||eps - eps_hat||^2 (FM via eps = "
                "y - t v)",
                ["log-SNR bin", "diffusion", "flow matching", "velocity-loss weight 1/t^2 at bin centre"],
                [
                    [
                        b,
                        fmt(common.collect(per_seed, "eps_mse_by_lambda", b, "diffusion"), 4),
                        fmt(common.collect(per_seed, "eps_mse_by_lambda", b, "fm"), 4),
                        common.num(per_seed[0]["eps_mse_by_lambda"][b]["weight"]),
                    ]
                    for b in bins
                ],
            ),
        ]
        figs = {"diffusion_flow_matching": self._figure(keep, ring)}
        params = {
            "data": "ring8",
            "steps": steps,
            "samples": n,
            "nfe": nfe,
            "network": common.RING_NETWORK,
            "fm_variant": "cfm (sigma_min = 1e-3)",
            "fm_time_grid": "quadratic",
            "clip_x0": True,
            "seeds": len(per_seed),
        }
        recipes = [
            {"role": "diffusion (DDIM)", "recipe": "ddim-2d", "config": {"dataset": "ring8", "steps": steps}}
        ]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(v, tables, measurements, params, figs, recipes)

    @staticmethod
    @torch.no_grad()
    def _losses(diff: Any, fm: Any, conv: ConvertedFlow, ring: Any, seed: int, n: int) -> dict[str, Any]:
        """The loss identity on one batch and both models' eps regression per log-SNR bin."""
        from compute.families.flow_matching import linear_path

        g = torch.Generator().manual_seed(700 + seed)
        x = diff.to_model_space(ring.sample(n, g)).cpu()
        eps = torch.randn(n, 2, generator=g)
        t = 0.02 + 0.96 * torch.rand(n, generator=g)
        y = t[:, None] * x + (1 - t[:, None]) * eps
        x_vp, _, _ = linear_to_vp(y, t)
        eps_hat = conv.eps_at(x_vp.to(diff.device), t).cpu()
        v_hat = eps_to_velocity(y, t, eps_hat)
        l_fm = (x - eps - v_hat).pow(2).sum(1)
        l_eps = (eps - eps_hat).pow(2).sum(1)
        out: dict[str, Any] = {
            "loss_identity_rel_err": float((t**2 * l_fm - l_eps).abs().max() / l_eps.mean())
        }
        edges = [-8.0, -4.0, -1.0, 2.0, 5.0, 8.0]
        by_bin: dict[str, dict[str, float]] = {}
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            lam = lo + (hi - lo) * torch.rand(n, generator=g)
            tb = torch.sigmoid(lam / 2)
            yb = tb[:, None] * x + (1 - tb[:, None]) * eps
            x_vp, _, _ = linear_to_vp(yb, tb)
            e_d = conv.eps_at(x_vp.to(diff.device), tb).cpu()
            x_fm = fm.to_model_space(
                diff.from_model_space(x.to(diff.device))
            ).cpu()  # == x (same coordinates)
            y_fm, _ = linear_path(eps, x_fm, tb, fm.config.sigma)
            v_fm = fm.velocity(y_fm.to(fm.device), tb.to(fm.device)).cpu()
            e_f = velocity_to_eps(y_fm, tb, v_fm)
            by_bin[f"[{lo:g}, {hi:g})"] = {
                "diffusion": float((eps - e_d).pow(2).sum(1).mean()),
                "fm": float((eps - e_f).pow(2).sum(1).mean()),
                "weight": float(fm_weight(torch.tensor((lo + hi) / 2))),
            }
        out["eps_mse_by_lambda"] = by_bin
        return out

    @staticmethod
    def _figure(keep: dict[str, Any], ring: Any) -> bytes:
        from compute.families.diffusion import sample_timesteps
        from compute.families.flow_matching import sample_times

        fig, axes = draw.panel_row(4)
        draw.scatter(axes[0], keep["ddim"], ring, "diffusion, DDIM")
        draw.scatter(axes[1], keep["heun"], ring, "same eps-model -> velocity, FM Heun")
        draw.scatter(axes[2], keep["direct"], ring, "flow matching trained directly")
        # effective weight of each training objective on the eps-MSE, per unit of log-SNR
        diff, fm = keep["diff"], keep["fm"]
        g = torch.Generator().manual_seed(0)
        steps = sample_timesteps(200_000, diff.config.T, diff.config.time_sampling, g)
        ab = diff.schedule.alpha_bar.double().cpu()[steps]
        lam_d = (ab.log() - (-ab).log1p()).float()
        t_fm = sample_times(200_000, fm.config.time_sampling, g).clamp(1e-4, 1 - 1e-4)
        lam_f = 2 * (t_fm.log() - (-t_fm).log1p())
        edges = torch.linspace(-12, 14, 80)
        centres = 0.5 * (edges[1:] + edges[:-1])
        width = float(edges[1] - edges[0])
        h_d = torch.histogram(lam_d, edges).hist / (len(lam_d) * width)
        w_f = fm_weight(lam_f.double()).float()
        h_f = torch.histogram(lam_f, edges, weight=w_f).hist / (len(lam_f) * width)
        ax = axes[3]
        ax.plot(centres, h_d / h_d.sum() / width, label="DDPM L_simple (eps-MSE)")
        ax.plot(centres, h_f / h_f.sum() / width, label="flow matching (eps-MSE x 1/t^2)")
        ax.set_yscale("log")
        ax.set_xlabel("log-SNR lambda")
        ax.set_ylabel("weight on eps-MSE (normalised)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        ax.set_title("same regression, different time weighting", fontsize=8)
        return draw.to_png(fig)
