"""Partition-function bias: short-run non-persistent contrastive divergence vs persistent chains.

The CD gradient E_data[grad E] - E_model[grad E] needs negatives drawn from p_theta = exp(-E) / Z.
Reproduce: each update's negatives are K = 5 Langevin steps started from uniform noise (short-run,
non-persistent; Nijkamp et al. 2019), which do not reach p_theta, so the estimate of grad log Z is
biased and training settles where the *sampler*, not the density, matches the data. Fix: the same K
steps continued from a replay buffer of persistent chains (Tieleman 2008; Du & Mordatch 2019), which
approach p_theta over many updates. Same network, data, seeds and number of updates.

Data: the checkerboard (uniform on 8 cells of [-4, 4]^2: a closed-form density and smooth enough for a
small energy MLP). Metrics:
- KL(p_data || p_theta) = E_test[-log p_theta] - H(p_data) in nats, with log Z *estimated* by midpoint
  quadrature on a 256 x 256 grid over the box (the EBM's ``log_likelihood``, kind "estimate");
- the bias itself: total variation between the negatives the update would use (5,000 of them) and
  p_theta, both binned on an 8 x 8 grid of the box (p_theta's bin masses by quadrature). Sampling noise
  alone gives about 0.03.
Verdict per seed: the failure shows when the short-run negatives are far from p_theta (TV > 0.15);
the fix beats it when the persistent model's KL to the data is lower than the short-run model's.
Negative control: 5,000 negatives drawn *from p_theta itself* (the short-run model's, by the same
256 x 256 quadrature: a cell with probability proportional to exp(-E), then uniform within it); the same
TV code must find them within 0.15 of p_theta.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

DATASET = "checkerboard"
K = 5
SHARED: dict[str, Any] = {"hidden": 64, "sgld_steps": K}
REPRODUCE: dict[str, Any] = {"variant": "cd-short-run"}
FIX: dict[str, Any] = {"variant": "cd-persistent"}
FULL_STEPS = 1500
N_NEGATIVES = 5000
BINS = 8
TV_FAIL = 0.15


class PartitionFunctionBias(common.FailureMode):
    slug = "partition-function-bias"
    claim = (
        "Short-run non-persistent contrastive divergence draws negatives far from the model's own density, "
        "so its estimate of grad log Z is biased; persistent chains reduce the bias."
    )
    prediction = (
        "The short-run negatives are more than TV 0.15 from p_θ (8 x 8 bins) on every seed, and the "
        "persistent-chain model ends with a lower KL to the data."
    )
    control_text = (
        "Negatives drawn from p_θ itself (by quadrature) for the short-run model, scored by the same binned "
        "TV: they must come within 0.15, or the TV test measures binning and sampling noise, not bias."
    )
    title = (
        "Partition-function bias: short-run non-persistent CD vs persistent CD (checkerboard, exact log Z)"
    )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rtv = common.per_seed(m, "reproduce", "negatives_tv")
        rkl, fkl = common.both_arms(m, "kl")
        failure = [tv > TV_FAIL for tv in rtv]
        fixed = [f < r for f, r in zip(fkl, rkl, strict=True)]
        summary = (
            f"short-run negatives were TV {common.pm(rtv, 3)} away from the model's own density "
            f"(persistent chains: {common.pm(m['fix']['negatives_tv'], 3)}); KL to the data "
            f"{common.pm(rkl, 3)} nats with short-run CD vs {common.pm(fkl, 3)} with persistent chains"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "the negative-sample bias")

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        tv = common.per_seed(m, "control", "negatives_tv")
        return common.control_over_seeds(
            [t > TV_FAIL for t in tv], f"negatives drawn from p_θ itself were TV {common.pm(tv, 3)} from it"
        )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, metrics

        steps, seeds = common.budget(scale, FULL_STEPS)
        n_neg = N_NEGATIVES if scale.name == "full" else 1000
        m: dict[str, Any] = {"seeds": seeds, "K": K, "control": {"negatives_tv": []}}
        curves: dict[str, list[list[tuple[float, float]]]] = {"reproduce": [], "fix": []}
        shown: dict[str, Any] = {}
        for arm, cfg in (("reproduce", REPRODUCE), ("fix", FIX)):
            out: dict[str, list[Any]] = {k: [] for k in ("kl", "negatives_tv", "negatives_mmd", "log_z")}
            for seed in seeds:
                data = datasets.load(DATASET, seed)
                entropy = metrics.true_entropy(data, n=50_000)
                every = max(1, steps // 6)
                model = common.build_model("ebm", data, seed=seed, **cfg, **SHARED)
                kl_cb = KLTracker(model, data, entropy, every)
                common.fit(model, data, seed=seed, steps=steps, callbacks=[kl_cb])
                kl = kl_of(model, data, entropy)
                negatives = model.sample(
                    n_neg,
                    seed=10_000 + seed,
                    steps=K,
                    init="buffer" if cfg["variant"] == "cd-persistent" else "noise",
                )
                tv = negatives_tv(model, negatives, data.spec.bounds)
                if arm == "reproduce":
                    exact = exact_negatives(model, data.spec.bounds, n_neg, 30_000 + seed)
                    m["control"]["negatives_tv"].append(negatives_tv(model, exact, data.spec.bounds))
                out["kl"].append(kl)
                out["negatives_tv"].append(tv)
                out["negatives_mmd"].append(metrics.mmd(data.test[:2000], negatives[:2000]))
                out["log_z"].append(model.log_partition())
                curves[arm].append(kl_cb.points + [(steps, kl)])
                if seed == seeds[0]:
                    shown[arm] = (negatives, density_grid(model, data.spec.bounds))
                log(f"{arm} seed {seed}: KL {kl:.3f} negatives TV {tv:.3f}")
            m[arm] = out

        return self.report(m=m, steps=steps, seeds=seeds, shown=shown, curves=curves, n_neg=n_neg)

    def report(
        self, *, m: Any, steps: Any, seeds: Any, shown: Any, curves: Any, n_neg: Any
    ) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        from compute import datasets

        rows = [
            ("KL(p_data || p_θ), nats (log Z: 256² quadrature, an estimate)", "kl", 3),
            ("TV(negatives, p_θ) on an 8×8 grid", "negatives_tv", 3),
            ("MMD² of negatives to data", "negatives_mmd", 4),
            ("log Z (256² quadrature, an estimate)", "log_z", 3),
        ]
        tables = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds, {steps} updates, K = {K} Langevin steps",
                m,
                rows,
                ("short-run CD (reproduce)", "persistent CD (fix)"),
            ),
            common.seed_table("Per seed", m, [("KL", "kl"), ("negatives TV", "negatives_tv")]),
            common.metric_table(
                "Negative control: negatives drawn from p_θ itself (short-run model), same TV code",
                m,
                [("TV(exact negatives, p_θ)", "negatives_tv", 3)],
                ("exact negatives (control)",),
                ("control",),
            ),
        ]
        figures = {
            "density_and_negatives": density_figure(shown, datasets.load(DATASET, seeds[0])),
            "kl_curve": common.curve_figure(
                {"short-run CD": curves["reproduce"], "persistent CD": curves["fix"]},
                "update",
                "KL(p_data || p_θ), nats",
                "KL during training (one line per seed)",
            ),
        }
        base = {"dataset": DATASET, "steps": steps, "seed": 0, "energy_l2": 0.1}
        recipes = common.arm_recipes("ebm-cd-2d", {**base, **REPRODUCE, **SHARED}, {**base, **FIX, **SHARED})
        params = {
            "dataset": DATASET,
            "steps": steps,
            "seeds": seeds,
            **common.arm_configs(SHARED, REPRODUCE, FIX),
            "negatives": n_neg,
            "bins": BINS,
            "tv_fail_above": TV_FAIL,
            "quadrature_grid": 256,
        }
        return self.finish(m, tables, params, figures, recipes)


class KLTracker:
    """Trainer callback: KL(p_data || p_theta) every ``every`` updates."""

    def __init__(self, model: Any, data: Any, entropy: float, every: int):
        self.model, self.data, self.entropy, self.every = model, data, entropy, every
        self.points: list[tuple[float, float]] = []

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        if step % self.every == 0:
            self.points.append((step, kl_of(self.model, self.data, self.entropy)))
            self.model.train()


def kl_of(model: Any, data: Any, entropy: float) -> float:
    """E_test[-log p_theta] - H(p_data), with log Z by quadrature."""
    ll = model.log_likelihood(data.test)
    return float(-ll.values.double().mean()) - entropy


def _fine_grid(bounds: tuple[float, float], n: int = 256) -> tuple[Any, Any]:
    import torch

    lo, hi = bounds
    h = (hi - lo) / n
    axis = lo + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1).float(), axis


def model_bin_mass(model: Any, bounds: tuple[float, float], bins: int = BINS) -> Any:
    """p_theta's mass in each of bins x bins cells of the box (quadrature on a 256^2 grid). (bins, bins)"""
    import torch

    grid, _ = _fine_grid(bounds)
    with torch.no_grad():
        neg_e = -torch.cat([model.energy(g).double() for g in grid.split(65_536)])
    p = torch.softmax(neg_e, 0).view(256, 256)
    f = 256 // bins
    return p.view(bins, f, bins, f).sum((1, 3))


def negatives_tv(model: Any, negatives: Any, bounds: tuple[float, float], bins: int = BINS) -> float:
    """TV between the binned negatives and p_theta's bin masses."""
    import torch

    lo, hi = bounds
    x = negatives.double()
    idx = ((x - lo) / (hi - lo) * bins).floor().long().clamp(0, bins - 1)
    hist = torch.zeros(bins, bins, dtype=torch.float64)
    hist.index_put_((idx[:, 0], idx[:, 1]), torch.ones(len(x), dtype=torch.float64), accumulate=True)
    hist /= hist.sum()
    return 0.5 * float((hist - model_bin_mass(model, bounds, bins)).abs().sum())


def exact_negatives(model: Any, bounds: tuple[float, float], n: int, seed: int) -> Any:
    """n draws from p_theta = exp(-E)/Z restricted to the box, by the 256^2 quadrature grid: a cell with
    probability proportional to exp(-E(centre)), then a uniform point inside the cell."""
    import torch

    grid, axis = _fine_grid(bounds)
    with torch.no_grad():
        neg_e = -torch.cat([model.energy(g).double() for g in grid.split(65_536)])
    g = torch.Generator().manual_seed(seed)
    cells = torch.multinomial(torch.softmax(neg_e, 0), n, replacement=True, generator=g)
    h = float(axis[1] - axis[0])
    return grid[cells] + h * (torch.rand(n, 2, generator=g) - 0.5)


def density_grid(model: Any, bounds: tuple[float, float], n: int = 128) -> Any:
    import torch

    lo, hi = bounds
    axis = torch.linspace(lo, hi, n)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    with torch.no_grad():
        e = model.energy(torch.stack([gx.flatten(), gy.flatten()], 1)).view(n, n)
    return torch.softmax(-e.flatten().double(), 0).view(n, n)


def density_figure(shown: dict[str, Any], data: Any) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from compute.experiments.base import png

    lo, hi = data.spec.bounds
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.5))
    titles = {"reproduce": "short-run CD", "fix": "persistent CD"}
    for j, arm in enumerate(("reproduce", "fix")):
        negatives, dens = shown[arm]
        ax = axes[2 * j]
        ax.imshow(dens.numpy(), origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
        ax.set_title(f"{titles[arm]}: p_θ = exp(-E)/Z", fontsize=9)
        ax = axes[2 * j + 1]
        x = negatives[:2000].numpy()
        ax.scatter(x[:, 0], x[:, 1], s=2, c="#d62728", alpha=0.5, linewidths=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_title(f"{titles[arm]}: its negatives", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return png(fig)
