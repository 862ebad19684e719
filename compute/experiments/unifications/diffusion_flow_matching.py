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

Identities (hold by construction, shown, never the evidence): the loss identity on a batch (float32
residual) and DDIM being *exactly* Euler's method on the converted velocity over DDIM's own time grid.

The evidence, on ring8, from networks trained *separately* (same MLP, steps and data, >= 2 seeds): an
eps-prediction diffusion model and a Gaussian-path flow-matching model. Prediction: (a) the diffusion
model's converted velocity field agrees with the flow-matching field within their between-seed spread
-- on points of the path, the mean squared difference across families is at most
:data:`FIELD_RATIO_MAX` x the mean squared difference between seeds of one family (1.0 when the two
families learned the same field up to seed noise); (b) from shared initial noise, DDIM and the
flow-matching ODE land in the same mode as often as two seeds of one family do (within 5 points).
Negative control: a flow-matching model trained on a *non-Gaussian path* (uniform source noise of unit
variance) judged by the same rule. The caveat -- the equivalence is not exact in finite settings and
schedules / weights still matter -- shows in the samples of the directly trained flow, in both models'
eps regression per log-SNR bin and in the figure of the two objectives' weightings over log-SNR.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from compute.experiments import figures as draw
from compute.experiments.base import Evidence, ExperimentResult, Scale, Table, Verdict, fmt
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
# Evidence

FIELD_RATIO_MAX = 1.5  # cross-family field distance / between-seed distance allowed
SAME_MODE_SLACK = 0.05  # same-mode share across families may trail the between-seed share by this
NOISE_SEED = 4242  # the shared initial noise of every model's samples
T_RANGE = (0.1, 0.9)  # path times where the fields are compared (the converted field is (y - eps)/t)


def uniform_source(model: Any) -> None:
    """Make a flow-matching model draw its source noise uniform on [-sqrt 3, sqrt 3]^D (unit variance):
    its probability path is no longer Gaussian (the negative control); ``del model._randn`` undoes it."""

    def draw(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(shape, generator=generator or model.generator)
        return ((2 * u - 1) * math.sqrt(3.0)).to(model.device)

    model._randn = draw


@torch.no_grad()
def field_distance(fields: list[torch.Tensor], others: list[torch.Tensor]) -> float:
    """Mean over pairs of E||v_a - v_b||^2: all pairs across two lists, or distinct pairs within one."""
    if fields is others:
        pairs = list(itertools.combinations(fields, 2))
    else:
        pairs = list(itertools.product(fields, others))
    return sum(float((a - b).pow(2).sum(1).mean()) for a, b in pairs) / len(pairs)


def same_mode(a: list[torch.Tensor], b: list[torch.Tensor], modes: torch.Tensor) -> float:
    """Share of samples (same noise) whose nearest mode agrees, over all pairs (distinct within one list)."""
    near = [torch.cdist(x.double(), modes.double()).argmin(1) for x in a]
    other = near if a is b else [torch.cdist(x.double(), modes.double()).argmin(1) for x in b]
    pairs = list(itertools.combinations(near, 2)) if a is b else list(itertools.product(near, other))
    return sum(float((p == q).double().mean()) for p, q in pairs) / len(pairs)


def agreement_rule(a: dict[str, float]) -> common.Check:
    """The prediction, for the Gaussian-path flow and the control alike (``a``: one arm's numbers)."""
    ratio = a["cross"] / max(a["within"], 1e-12)
    lands = a["same_mode_cross"] >= a["same_mode_within"] - SAME_MODE_SLACK
    text = (
        f"field distance across families {common.num(a['cross'])} = {ratio:.2f}x the between-seed "
        f"{common.num(a['within'])} (<= {FIELD_RATIO_MAX}); same mode from shared noise "
        f"{100 * a['same_mode_cross']:.1f} % vs {100 * a['same_mode_within']:.1f} % between seeds"
    )
    return common.Check(ratio <= FIELD_RATIO_MAX and lands, text)


def evidence(s: dict[str, Any]) -> Evidence:
    return common.evidence(
        claim="diffusion and Gaussian-path flow matching learn the same field: an eps-prediction model is a "
        "velocity field after reparameterisation",
        prediction=f"separately trained eps and flow-matching networks: the converted velocity agrees with "
        f"the flow's within {FIELD_RATIO_MAX}x their between-seed spread, and samples from shared noise "
        "land in the same mode as often as between seeds",
        control="a flow-matching network trained on a non-Gaussian path (uniform source noise)",
        outcome=agreement_rule(s["agreement"]),
        control_outcome=agreement_rule(s["control"]),
        identities=(
            f"t^2 L_FM = L_eps per sample (relative residual {common.num(s['loss_identity_rel_err'])})",
            "DDIM = Euler on the converted velocity (endpoints within "
            f"{common.num(s['ddim_euler_max_dev'])})",
        ),
    )


def verdict(s: dict[str, Any]) -> Verdict:
    """holds: the prediction (:func:`agreement_rule`) is met, the non-Gaussian control rejected and the
    directly trained flow samples as well as DDIM (:func:`common.as_good_as`); partly-holds: the fields
    agree but the directly trained flow's samples lag (or the control is not rejected); fails otherwise."""
    ev, outcome = evidence(s), agreement_rule(s["agreement"])
    ddim, fm = s["ddim"], s["fm_direct"]
    text = (
        "A separately trained flow-matching network and an eps-prediction diffusion model read as a "
        f"velocity agree ({outcome.text}); flow matching trained directly reaches MMD^2 "
        f"{common.num(fm['mmd2_e3'])}e-3 "
        f"vs DDIM {common.num(ddim['mmd2_e3'])}e-3 (verdict-grade 2-D criterion met on "
        f"{100 * fm.get('judge', 0.0):.0f} % vs {100 * ddim.get('judge', 0.0):.0f} % of seeds)"
    )
    if not outcome.passed:
        return common.judged(ev, "fails", text)
    if common.as_good_as(fm, ddim):
        return common.judged(ev, "holds", text)
    return common.judged(
        ev, "partly-holds", text + ": at this budget the directly trained flow's samples lag"
    )


class DiffusionFlowMatching(common.Unification):
    slug: ClassVar[str] = "diffusion-flow-matching"
    title: ClassVar[str] = (
        "Diffusion = Gaussian-path flow matching: separately trained eps and velocity networks"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets

        ring = datasets.load("ring8")
        steps = scale.steps(3000, 20)
        n = common.pick(scale, 400, 2000)
        nfe = common.pick(scale, 20, 100)
        seeds = list(range(max(2, scale.seeds)))  # the between-seed spread needs two

        per_seed: list[dict[str, Any]] = []
        models: list[dict[str, Any]] = []
        samples: list[dict[str, torch.Tensor]] = []
        for seed in seeds:
            log(f"seed {seed}: diffusion, flow matching and the uniform-source control ({steps} steps each)")
            arms = self._train_arms(ring, steps, seed)
            m, x = self._seed_measurements(arms, ring, seed, n, nfe, scale)
            per_seed.append(m)
            models.append(arms)
            samples.append(x)
        summary = common.summarise(per_seed)
        summary.update(self._agreement(models, samples, ring, common.pick(scale, 1000, 4000)))
        ev = evidence(summary)
        tables = self._tables(per_seed, summary, nfe, ring)
        keep = {**samples[0], "diff": models[0]["diff"], "fm": models[0]["fm"]}
        figs = {"diffusion_flow_matching": self._figure(keep, ring)}
        params = {
            "data": "ring8",
            "steps": steps,
            "samples": n,
            "nfe": nfe,
            "network": common.RING_NETWORK,
            "fm_variant": "cfm (sigma_min = 1e-3)",
            "control": "flow matching with uniform source noise on [-sqrt 3, sqrt 3]^2",
            "field_points": common.pick(scale, 1000, 4000),
            "field_t_range": list(T_RANGE),
            "field_ratio_max": FIELD_RATIO_MAX,
            "noise_seed": NOISE_SEED,
            "seeds": len(per_seed),
        }
        recipes = [
            {"role": "diffusion (DDIM)", "recipe": "ddim-2d", "config": {"dataset": "ring8", "steps": steps}}
        ]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(verdict(summary), tables, measurements, params, figs, recipes, evidence=ev)

    @staticmethod
    def _train_arms(ring: Any, steps: int, seed: int) -> dict[str, Any]:
        """The eps-prediction diffusion model, the Gaussian-path flow and the non-Gaussian control."""
        diff = common.build_model("diffusion", ring, seed=seed, **common.RING_NETWORK)
        common.train(diff, ring, steps, seed)
        fm = common.build_model("flow-matching", ring, seed=seed, **common.RING_NETWORK, **same_coordinates())
        common.train(fm, ring, steps, seed)
        control = common.build_model(
            "flow-matching", ring, seed=seed, **common.RING_NETWORK, **same_coordinates()
        )
        uniform_source(control)
        common.train(control, ring, steps, seed)
        del control._randn  # sample from the shared Gaussian noise like the others
        return {"diff": diff, "fm": fm, "control": control}

    def _seed_measurements(
        self, arms: dict[str, Any], ring: Any, seed: int, n: int, nfe: int, scale: Scale
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Samples of every arm from the shared noise, their quality, and the identities."""
        diff, fm, control = arms["diff"], arms["fm"], arms["control"]
        conv = ConvertedFlow(diff)
        x = {
            "ddim": diff.sample(n, sampler="ddim", nfe=nfe, seed=NOISE_SEED),
            "heun": conv.sample_fm(n, nfe, "heun", NOISE_SEED),
            "direct": fm.sample(n, sampler="heun", nfe=nfe, seed=NOISE_SEED),
            "control": control.sample(n, sampler="heun", nfe=nfe, seed=NOISE_SEED),
        }
        ref = common.reference(ring, n, seed)
        m: dict[str, Any] = {
            name: common.quality_2d(x[key], ring, seed, ref)
            for name, key in [
                ("ddim", "ddim"),
                ("converted_heun", "heun"),
                ("fm_direct", "direct"),
                ("fm_control", "control"),
            ]
        }
        ddim_fine = diff.sample(n, sampler="ddim", nfe=4 * nfe, seed=NOISE_SEED)
        m["ddim_euler_max_dev"] = float(
            (conv.sample_euler_on_ddim_grid(n, nfe, NOISE_SEED) - x["ddim"]).abs().max()
        )
        m["median_dist_conv_ddim"] = float((x["heun"] - x["ddim"]).norm(dim=1).median())
        m["median_dist_ddim_floor"] = float((ddim_fine - x["ddim"]).norm(dim=1).median())
        m.update(self._losses(diff, fm, conv, ring, seed, common.pick(scale, 2000, 20000)))
        return m, x

    @staticmethod
    @torch.no_grad()
    def _agreement(
        models: list[dict[str, Any]], samples: list[dict[str, torch.Tensor]], ring: Any, n: int
    ) -> dict[str, Any]:
        """Field distances and same-mode shares across families and between seeds, for the
        Gaussian-path flow (``agreement``) and the control (``control``)."""
        g = torch.Generator().manual_seed(31337)
        diff0 = models[0]["diff"]
        x = diff0.to_model_space(ring.sample(n, g)).cpu()
        eps = torch.randn(n, 2, generator=g)
        t = T_RANGE[0] + (T_RANGE[1] - T_RANGE[0]) * torch.rand(n, generator=g)
        y = t[:, None] * x + (1 - t[:, None]) * eps  # points of the shared linear path (z coordinates)

        def velocity(model: Any) -> torch.Tensor:
            return model.velocity(y.to(model.device), t.to(model.device)).cpu()

        conv = [ConvertedFlow(m["diff"], clip=False).field(y.to(diff0.device), t).cpu() for m in models]
        fields = {arm: [velocity(m[arm]) for m in models] for arm in ("fm", "control")}
        ddim = [s["ddim"] for s in samples]
        within_conv = field_distance(conv, conv)
        same_ddim = same_mode(ddim, ddim, ring.modes)
        out: dict[str, Any] = {}
        for key, arm, sample_key in [("agreement", "fm", "direct"), ("control", "control", "control")]:
            arm_samples = [s[sample_key] for s in samples]
            out[key] = {
                "cross": field_distance(conv, fields[arm]),
                "within": 0.5 * (within_conv + field_distance(fields[arm], fields[arm])),
                "within_diffusion": within_conv,
                "same_mode_cross": same_mode(ddim, arm_samples, ring.modes),
                "same_mode_within": 0.5 * (same_ddim + same_mode(arm_samples, arm_samples, ring.modes)),
            }
        return out

    @staticmethod
    def _tables(per_seed: list[dict[str, Any]], summary: dict[str, Any], nfe: int, ring: Any) -> list[Table]:
        rows = [
            [
                label,
                evals,
                *common.quality_cells(per_seed, name),
                fmt(common.collect(per_seed, name, "judge"), 2),
            ]
            for name, label, evals in [
                ("ddim", "diffusion, DDIM (its own sampler)", nfe),
                ("converted_heun", "diffusion -> velocity, FM Heun", nfe + 1),
                ("fm_direct", "flow matching trained separately, Heun", nfe),
                ("fm_control", "control: flow matching on a uniform-source path, Heun", nfe),
            ]
        ]

        def evidence_row(label: str, a: dict[str, float]) -> list[Any]:
            return [
                label,
                common.num(a["cross"]),
                common.num(a["within"]),
                f"{a['cross'] / max(a['within'], 1e-12):.2f}",
                f"{100 * a['same_mode_cross']:.1f} %",
                f"{100 * a['same_mode_within']:.1f} %",
            ]

        bins = list(per_seed[0]["eps_mse_by_lambda"])
        return [
            Table(
                "Samples from the same initial noise (every arm, every seed)",
                [
                    "sampler",
                    "network evaluations",
                    *common.QUALITY_COLUMNS,
                    "meets 2-D criterion (share of seeds)",
                ],
                rows,
            ),
            Table(
                f"The evidence ({len(per_seed)} seeds per family): velocity fields on path points, t in "
                f"{list(T_RANGE)}, E||v_a - v_b||^2 in z units; the prediction needs ratio <= "
                f"{FIELD_RATIO_MAX} "
                f"and a same-mode share within {100 * SAME_MODE_SLACK:.0f} points of the between-seed one",
                [
                    "flow network",
                    "across families",
                    "between seeds",
                    "ratio",
                    "same mode across",
                    "same mode between",
                ],
                [
                    evidence_row("Gaussian path (the claim)", summary["agreement"]),
                    evidence_row("uniform-source path (negative control)", summary["control"]),
                ],
            ),
            Table(
                f"Identities, {common.IDENTITY}: the same eps-model sampled two ways (same noise)",
                ["quantity", "value"],
                [
                    [
                        "max |Euler on DDIM's grid - DDIM| (data units)",
                        common.num(max(common.collect(per_seed, "ddim_euler_max_dev"))),
                    ],
                    [
                        "max_i |t^2 L_FM,i - L_eps,i| / mean L_eps (float32)",
                        common.num(max(common.collect(per_seed, "loss_identity_rel_err"))),
                    ],
                    [
                        "median |FM Heun on the converted field - DDIM|",
                        fmt(common.collect(per_seed, "median_dist_conv_ddim"), 4),
                    ],
                    [
                        f"median |DDIM {nfe} - DDIM {4 * nfe}| (discretisation floor)",
                        fmt(common.collect(per_seed, "median_dist_ddim_floor"), 4),
                    ],
                    ["mode std (data)", ring.mode_std],
                ],
            ),
            Table(
                "The same eps regression, per log-SNR bin: each model's E||eps - eps_hat||^2 "
                "(FM via eps = y - t v)",
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
        draw.scatter(axes[1], keep["control"], ring, "control: FM on a uniform-source path")
        draw.scatter(axes[2], keep["direct"], ring, "flow matching trained separately")
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
