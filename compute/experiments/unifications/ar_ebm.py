"""Autoregressive models and EBMs are in bijection (Blondel, Sander, Vivier-Ardisson, Liu & Roulet 2025,
"Autoregressive Language Models are Secretly Energy-Based Models").

On a discrete domain small enough to enumerate, every identity of the bijection can be computed
exactly instead of argued:

1. AR -> EBM. E(x) = -log p_AR(x) is an energy whose partition function sum_x exp(-E(x)) is exactly 1:
   the chain rule of normalised conditionals needs no normaliser. Checked by enumeration.
2. EBM -> AR. For any energy E over sequences x_1..x_L the soft Bellman recursion of maximum-entropy RL
   (reward 0 until the terminal reward -E) gives the soft values

       V_L(x_1..L) = -E(x),   V_t(x_1..t) = log sum_v exp V_{t+1}(x_1..t, v),   log Z = V_0,

   and the optimal policy pi(x_{t+1} | x_1..t) = exp(V_{t+1} - V_t) is an AR model whose joint is
   exactly exp(-E) / Z. With E = -log p_AR + c it returns the AR conditionals (and V_0 = -c).

Two domains, both ring8 discretised: (A) the ``ar-grid`` family, p(b1) p(b2 | b1) over 32 x 32 bins (L = 2);
(B) the ``char-transformer`` family on 6-token coarse-to-fine sequences: a 64 x 64 grid cell (bx, by)
written as base-4 digits (bx_2, by_2, bx_1, by_1, bx_0, by_0), 4^6 = 4,096 sequences (the order of
next-scale prediction). On (B) an independent EBM (an MLP energy of the cell centre, trained by exact
maximum likelihood, log Z by enumeration) is turned into an AR model by the recursion.

Identities (hold by construction, shown, never the evidence): Z = 1 for any AR model in float64, and
the recursion returning the AR's conditionals from E = -log p_AR + c and an EBM's Boltzmann joint.

The evidence uses two models trained *independently* on domain B: a causal transformer (AR) and the
cell-energy MLP (EBM). Every distribution is enumerated exactly, the true one too (the ring8 mixture
integrated over each cell). Prediction: the AR that the soft Bellman recursion induces from the trained
EBM predicts held-out sequences as well as the AR trained directly -- paired test NLL at most 3
standard errors plus the AR's own misfit KL(p_true || p_AR) worse. Reported next to it: whether the gap
KL(p_AR || pi_EBM) between the two trained models is explained by their misfits to the truth,
KL(p_true || p_AR) + KL(p_true || p_EBM) (KL has no triangle inequality: it can go either way).
Negative control: the
same rule on the *myopic* normaliser pi(v | prefix) ~ exp(-E(prefix, v, 0, ..., 0)) -- per-token
softmax of the energy with the rest of the sequence padded, the usual mistake of reading a sequence
energy as logits; a valid AR model, but not the EBM's.

The caveat, measured: sampling stays different -- the recursion needs all V^L energies once
(exponential in L), after which ancestral sampling costs L lookups, while a random-walk Metropolis
chain on the energy needs many steps to reach the same total variation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from compute.experiments import figures as draw
from compute.experiments.base import Evidence, ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common

# --------------------------------------------------------------------------------------------
# The two maps, exact on enumerable domains (float64).


def soft_bellman(energy: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """AR conditionals of the Boltzmann distribution exp(-E)/Z by the soft Bellman recursion.

    ``energy``: (V,)*L table of E(x_1..x_L). Returns (conditionals, log Z): ``conditionals[t]`` has
    shape (V,)*(t+1) and holds log pi(x_{t+1} = last index | x_1..t = leading indices), t = 0..L-1.
    """
    L = energy.dim()
    values = [torch.empty(0)] * (L + 1)
    values[L] = -energy  # terminal reward
    for t in range(L - 1, -1, -1):  # V_t(prefix) = log sum_v exp V_{t+1}(prefix, v)
        values[t] = torch.logsumexp(values[t + 1], dim=-1)
    conditionals = [values[t + 1] - values[t].unsqueeze(-1) for t in range(L)]
    return conditionals, values[0]


def myopic_conditionals(energy: torch.Tensor) -> list[torch.Tensor]:
    """The negative control's conditionals: log softmax over the next token of -E(prefix, v, 0, ..., 0),
    the energy with the unseen suffix padded by token 0 (normalised at each step, so a valid AR model,
    but blind to how much probability each continuation carries)."""
    L = energy.dim()
    out = []
    for t in range(L):
        logits = -energy[(...,) + (0,) * (L - t - 1)] if t < L - 1 else -energy
        out.append(torch.log_softmax(logits, dim=-1))
    return out


def paired_gap(log_q: torch.Tensor, log_p: torch.Tensor, idx: torch.Tensor, key: str) -> dict[str, float]:
    """Mean and standard error of -log q + log p over the sequences ``idx`` (paired NLL difference)."""
    d = (log_p - log_q)[idx]
    return {key: float(d.mean()), f"{key}_se": float(d.std() / math.sqrt(len(d)))}


def kl(log_p: torch.Tensor, log_q: torch.Tensor) -> float:
    """KL(p || q) = sum p (log p - log q) over enumerated states (terms with p = 0 count 0)."""
    p = log_p.exp()
    return float(torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum())


def true_cell_log_probs(dataset: Any, side: int) -> torch.Tensor:
    """log P(cell) (side, side) of a 2-D Gaussian mixture integrated exactly over the cells of
    :func:`compute.datasets.quantize` (float64; the mass outside the box is renormalised away)."""
    lo, hi = dataset.spec.bounds
    edges = torch.linspace(lo, hi, side + 1, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    probs = torch.zeros(side, side, dtype=torch.float64)
    weights = dataset.mode_weights.double()
    for (mx, my), w in zip(dataset.modes.double(), weights, strict=True):
        px = normal.cdf((edges - mx) / dataset.mode_std).diff()  # (side,)
        py = normal.cdf((edges - my) / dataset.mode_std).diff()
        probs += w * px[:, None] * py[None, :]
    return (probs / probs.sum()).clamp_min(1e-300).log()


def joint_from_conditionals(conditionals: list[torch.Tensor]) -> torch.Tensor:
    """log p(x_1..L) = sum_t log pi(x_{t+1} | x_1..t), as a (V,)*L table (broadcast over the suffix)."""
    L = len(conditionals)
    out = torch.zeros((), dtype=conditionals[0].dtype)
    for t, c in enumerate(conditionals):
        out = out + c.reshape(*c.shape, *([1] * (L - t - 1)))
    return out


def sample_ancestral(conditionals: list[torch.Tensor], n: int, generator: torch.Generator) -> torch.Tensor:
    """n sequences (n, L) drawn token by token from the conditionals (L lookups per sample)."""
    seq = torch.zeros(n, 0, dtype=torch.long)
    for c in conditionals:
        logits = c[tuple(seq.T)] if seq.shape[1] else c  # (n, V) or (V,)
        probs = logits.exp().expand(n, -1) if logits.dim() == 1 else logits.exp()
        nxt = torch.multinomial(probs.float(), 1, generator=generator)
        seq = torch.cat([seq, nxt], 1)
    return seq


def tv(log_p: torch.Tensor, counts: torch.Tensor) -> float:
    """Total variation between exp(log_p) and the empirical distribution of ``counts`` (same shape)."""
    emp = counts.double() / counts.sum()
    return 0.5 * float((log_p.exp() - emp).abs().sum())


# --------------------------------------------------------------------------------------------
# Domain B: ring8 on a 64 x 64 grid as 6 base-4 tokens, coarse to fine.

ENERGY_CONSTANT = 3.7  # an arbitrary additive constant in the energy: the recursion must not care
DIGITS = 3  # base-4 digits per coordinate: 4^3 = 64 cells per axis
BASE = 4


def cells_to_tokens(cells: torch.Tensor) -> torch.Tensor:
    """(N, 2) cell indices in [0, 64) -> (N, 6) tokens (bx_2, by_2, bx_1, by_1, bx_0, by_0)."""
    out = []
    for d in range(DIGITS - 1, -1, -1):
        out += [(cells[:, 0] // BASE**d) % BASE, (cells[:, 1] // BASE**d) % BASE]
    return torch.stack(out, 1)


def tokens_to_cells(tokens: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`cells_to_tokens`: (N, 6) -> (N, 2)."""
    bx = sum(tokens[:, 2 * i] * BASE ** (DIGITS - 1 - i) for i in range(DIGITS))
    by = sum(tokens[:, 2 * i + 1] * BASE ** (DIGITS - 1 - i) for i in range(DIGITS))
    return torch.stack([bx, by], 1)


def all_sequences(vocab: int, length: int) -> torch.Tensor:
    """Every sequence in lexicographic order, (V^L, L): row i is the base-V expansion of i."""
    grids = torch.meshgrid(*[torch.arange(vocab)] * length, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], 1)


@torch.no_grad()
def transformer_conditionals(model: Any, vocab: int, length: int) -> list[torch.Tensor]:
    """log p(x_{t+1} | x_1..t) of a causal char-transformer for every prefix, float64 tables (V,)*(t+1).

    One teacher-forced pass over all V^L sequences; position t's row depends on x_1..t only, so the
    table is read at suffix 0 (the other suffixes hold the same numbers)."""
    model.eval()
    seqs = all_sequences(vocab, length).to(model.device)
    bos = torch.full_like(seqs[:, :1], model.bos)  # the begin-of-sequence input id
    inputs = torch.cat([bos, seqs[:, :-1]], 1)  # teacher forcing
    logits = torch.cat([model(chunk) for chunk in inputs.split(8192)])  # (V^L, L, V)
    logp = F.log_softmax(logits.double().cpu(), dim=-1).reshape(*([vocab] * length), length, vocab)
    out = []
    for t in range(length):
        index = (slice(None),) * t + (0,) * (length - t) + (t,)
        out.append(logp[index])  # (V,)*t + (V,)
    return out


def ar_grid_conditionals(model: Any) -> list[torch.Tensor]:
    """[log p(b1) (B,), log p(b2 | b1) (B, B)] of the ar-grid family, normalised in float64."""
    with torch.no_grad():
        marginal = model.marginal().double().cpu().log_softmax(0)
        cond = model.conditionals(torch.arange(model.bins)).double().cpu().log_softmax(-1)
    return [marginal, cond]


class CellEnergy(nn.Module):
    """E(cell) for a 2-D grid: an MLP on the cell centre in [-2, 2]^2 with random Fourier features.

    (N, 2) long cells -> (N,) energies; ``table()`` gives all cells (n, n)."""

    def __init__(self, n_cells: int, hidden: int = 128, fourier: int = 32, scale: float = 2.0):
        super().__init__()
        self.n = n_cells
        self.register_buffer("b", 2 * math.pi * scale * torch.randn(2, fourier))
        self.net = nn.Sequential(
            nn.Linear(2 + 2 * fourier, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, cells: torch.Tensor) -> torch.Tensor:
        u = (cells.float() + 0.5) / self.n * 4 - 2  # (N, 2) in [-2, 2]
        proj = u @ self.b
        return self.net(torch.cat([u, proj.sin(), proj.cos()], 1)).squeeze(-1)

    def table(self) -> torch.Tensor:
        idx = torch.arange(self.n, device=self.b.device)
        cells = torch.cartesian_prod(idx, idx)
        return self(cells).reshape(self.n, self.n)


def metropolis_tv(
    log_p_cells: torch.Tensor, n: int, checkpoints: list[int], generator: torch.Generator
) -> list[float]:
    """TV to exp(log_p_cells) of n random-walk Metropolis chains (+-1 cell per axis, from uniform
    starts) after each number of steps in ``checkpoints``; one energy evaluation per step and chain."""
    side = log_p_cells.shape[0]
    x = torch.randint(0, side, (n, 2), generator=generator)
    out, done = [], 0
    for k in sorted(checkpoints):
        for _ in range(k - done):
            prop = (x + torch.randint(-1, 2, (n, 2), generator=generator)).clamp(0, side - 1)
            log_a = log_p_cells[prop[:, 0], prop[:, 1]] - log_p_cells[x[:, 0], x[:, 1]]
            accept = torch.rand(n, generator=generator, dtype=torch.float64).log() < log_a
            x = torch.where(accept[:, None], prop, x)
        done = k
        counts = torch.zeros(side * side).index_add_(0, x[:, 0] * side + x[:, 1], torch.ones(n))
        out.append(tv(log_p_cells, counts.reshape(side, side)))
    return out


# --------------------------------------------------------------------------------------------
# Evidence and verdict


def nll_rule(gap: float, se: float, misfit_ar: float) -> common.Check:
    """The prediction, for the soft-Bellman AR and the control alike: on held-out sequences the induced
    AR's NLL exceeds the trained AR's by at most 3 paired standard errors plus the AR's own misfit
    KL(p_true || p_AR) (an induced model that trails the AR by less than the AR's distance from the
    truth predicts the data as well as it)."""
    allowed = 3 * se + misfit_ar
    text = f"test NLL induced - trained AR = {gap:+.4f} nats (allowed <= {allowed:.4f})"
    return common.Check(gap <= allowed, text)


def explained(s: dict[str, Any]) -> str:
    """Whether the two trained models' gap is explained by their misfits (reported, not the rule: KL
    has no triangle inequality, so this can go either way)."""
    bound = s["misfit_ar"] + s["misfit_ebm"]
    verb = "within" if s["kl_ar_induced"] <= bound else "beyond"
    return (
        f"KL(AR || induced) = {common.num(s['kl_ar_induced'])} nats, {verb} the misfits "
        f"KL(true || AR) + KL(true || EBM) = {common.num(bound)}"
    )


def evidence(s: dict[str, Any]) -> Evidence:
    return common.evidence(
        claim="AR models and EBMs are in bijection: the soft Bellman recursion turns any energy into the "
        "AR model of its Boltzmann distribution",
        prediction="the AR induced from an EBM trained on the data predicts held-out data as well as an AR "
        "trained directly (paired test NLL within 3 SE plus the AR's own misfit)",
        control="the same EBM turned into an AR by a myopic normaliser (per-token softmax of the energy "
        "with the suffix padded)",
        outcome=nll_rule(s["nll_gap"], s["nll_gap_se"], s["misfit_ar"]),
        control_outcome=nll_rule(s["nll_gap_myopic"], s["nll_gap_myopic_se"], s["misfit_ar"]),
        identities=(
            f"|log Z| of the AR models = {common.num(s['log_z_err'])} (normalised conditionals)",
            f"soft Bellman recovers the AR's conditionals to {common.num(s['bellman_err'])} nats and the "
            f"EBM's Boltzmann joint to {common.num(s['ebm_joint_err'])}",
        ),
    )


def verdict(s: dict[str, Any]) -> Verdict:
    """holds: the prediction (:func:`nll_rule`) is met and the myopic control rejected; fails: the induced
    AR predicts held-out data worse than the rule allows; partly-holds: the control is not rejected."""
    ev, outcome = evidence(s), nll_rule(s["nll_gap"], s["nll_gap_se"], s["misfit_ar"])
    text = (
        f"Trained independently on ring8 as 6 coarse-to-fine tokens, a transformer AR (KL "
        f"{common.num(s['misfit_ar'])} nats from the true distribution, test NLL {s['ar_test_nll']:.3f}) and "
        f"a cell-energy EBM (KL {common.num(s['misfit_ebm'])}) meet through the soft Bellman recursion: the "
        f"AR it induces from the EBM scores test NLL {s['ebm_test_nll']:.3f}, a myopic normaliser "
        f"{s['myopic_test_nll']:.3f}; {explained(s)}; the caveat: the same EBM sampled by "
        f"{s['mcmc_steps_last']} "
        f"random-walk Metropolis steps is still at TV {common.num(s['mcmc_tv_last'])} from its Boltzmann "
        f"distribution, ancestral sampling of the recovered conditionals at {common.num(s['ancestral_tv'])}, "
        f"after {s['bellman_evals']:,} energy evaluations to build them"
    )
    return common.judged(ev, "holds" if outcome.passed else "fails", text)


class ArEbmBijection(common.Unification):
    slug: ClassVar[str] = "ar-ebm-bijection"
    title: ClassVar[str] = (
        "AR <-> EBM: the soft-Bellman AR of a trained EBM against an independently trained AR"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets
        from compute.datasets import Dataset, quantize
        from compute.families.base import DataSpec

        ring = datasets.load("ring8")
        side = BASE**DIGITS
        budget = {
            "bins_a": common.pick(scale, 16, 32),
            "steps_a": scale.steps(1500, 20),
            "steps_b": scale.steps(2000, 20),
            "steps_e": scale.steps(1000, 20),
            "samples": common.pick(scale, 2000, 20000),
            "mcmc": common.pick(scale, [1, 10, 100], [1, 10, 100, 1000]),
        }
        cells_train = quantize(ring.train, ring.spec.bounds, side)
        tok_spec = DataSpec(kind="tokens", shape=(2 * DIGITS,), vocab_size=BASE)
        tok_data = Dataset(
            name="ring8-coarse-to-fine",
            spec=tok_spec,
            train=cells_to_tokens(cells_train),
            test=cells_to_tokens(quantize(ring.test, ring.spec.bounds, side)),
        )
        cells = tokens_to_cells(all_sequences(BASE, 2 * DIGITS))
        log_true = true_cell_log_probs(ring, side)[cells[:, 0], cells[:, 1]]  # (4^6,) sequence order

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            log(f"seed {seed}: ar-grid ({budget['bins_a']} bins), char-transformer on 6 tokens, cell EBM")
            m: dict[str, Any] = {"A": self._domain_a(ring, budget, seed)}
            ar_b = common.build_model(
                "char-transformer", tok_data, seed=seed, n_layer=2, n_head=2, n_embd=32, weight_decay=0.0
            )
            common.train(ar_b, tok_data, budget["steps_b"], seed, batch_size=256)
            conds_b = transformer_conditionals(ar_b, BASE, 2 * DIGITS)
            m["B"] = self._identities(conds_b, ENERGY_CONSTANT)
            ebm = self._train_ebm(side, cells_train, budget["steps_e"], seed, common.device())
            with torch.no_grad():
                e_cells = ebm.table().double().cpu()  # (64, 64)
            energy_seq = e_cells[cells[:, 0], cells[:, 1]].reshape(*([BASE] * (2 * DIGITS)))
            found, seed_keep = self._compare(conds_b, energy_seq, log_true, _flat_index(tok_data.test, BASE))
            m.update(found)
            m.update(self._sampling(seed_keep["conds_e"], e_cells, seed_keep["boltzmann"], budget, seed))
            per_seed.append(m)
            if seed == 0:
                keep = {**seed_keep, "cells": cells, "mcmc": m["mcmc_tv"], "anc": m["ancestral_tv"]}

        summary = self._summary(per_seed, budget["mcmc"])
        ev = evidence(summary)
        tables = self._tables(per_seed, budget)
        figs = {"ar_ebm": self._figure(keep, side, budget["mcmc"], budget["samples"])}
        params = {
            "data": "ring8 discretised",
            "domain_a": f"ar-grid {budget['bins_a']}x{budget['bins_a']}",
            "domain_b": "64x64 grid as 6 base-4 tokens",
            "steps_ar_grid": budget["steps_a"],
            "steps_transformer": budget["steps_b"],
            "steps_ebm": budget["steps_e"],
            "energy_constant": ENERGY_CONSTANT,
            "seeds": len(per_seed),
            "samples": budget["samples"],
        }
        recipes = [{"role": "AR model", "recipe": "ar-grid-2d", "config": {"dataset": "ring8", "bins": 32}}]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(verdict(summary), tables, measurements, params, figs, recipes, evidence=ev)

    def _domain_a(self, ring: Any, budget: dict[str, Any], seed: int) -> dict[str, Any]:
        """Domain A (ar-grid, L = 2): the identities, and its discrete test NLL."""
        ar_a = common.build_model(
            "ar-grid", ring, seed=seed, bins=budget["bins_a"], hidden=64, layers=1, fourier_features=8
        )
        common.train(ar_a, ring, budget["steps_a"], seed, batch_size=512)
        out = self._identities(ar_grid_conditionals(ar_a), ENERGY_CONSTANT)
        with torch.no_grad():
            ll = ar_a.log_likelihood(ring.test).values.double() + ar_a.log_bin_area
        out["test_nll_discrete"] = float(-ll.mean())
        return out

    @staticmethod
    def _compare(
        conds_ar: list[torch.Tensor], energy_seq: torch.Tensor, log_true: torch.Tensor, test_idx: torch.Tensor
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The evidence on domain B: misfits of both trained models to the true distribution, and the
        trained AR against the AR induced from the EBM (soft Bellman) and against the control (myopic)."""
        logp_ar = joint_from_conditionals(conds_ar).reshape(-1)
        conds_e, _ = soft_bellman(energy_seq)
        joint_e = joint_from_conditionals(conds_e)
        boltzmann = -energy_seq - torch.logsumexp(-energy_seq.reshape(-1), 0)
        induced = joint_e.reshape(-1)
        myopic = joint_from_conditionals(myopic_conditionals(energy_seq)).reshape(-1)
        out = {
            "misfit_ar": kl(log_true, logp_ar),
            "misfit_ebm": kl(log_true, boltzmann.reshape(-1)),
            "misfit_myopic": kl(log_true, myopic),
            "kl_ar_induced": kl(logp_ar, induced),
            "kl_induced_ar": kl(induced, logp_ar),
            "kl_ar_myopic": kl(logp_ar, myopic),
            "ebm_joint_err": float((joint_e - boltzmann).abs().max()),  # identity
            "ar_test_nll": float(-logp_ar[test_idx].mean()),
            **paired_gap(induced, logp_ar, test_idx, "nll_gap"),
            **paired_gap(myopic, logp_ar, test_idx, "nll_gap_myopic"),
            "ebm_test_nll": float(-boltzmann.reshape(-1)[test_idx].mean()),
            "myopic_test_nll": float(-myopic[test_idx].mean()),
        }
        keep = {
            "logp_ar": logp_ar,
            "boltzmann": boltzmann,
            "joint_e": joint_e,
            "myopic": myopic,
            "conds_e": conds_e,
        }
        return out, keep

    @staticmethod
    def _sampling(
        conds_e: list[torch.Tensor],
        e_cells: torch.Tensor,
        boltzmann: torch.Tensor,
        budget: dict[str, Any],
        seed: int,
    ) -> dict[str, Any]:
        """The caveat: ancestral sampling of the induced AR vs Metropolis on the energy (TV to exp(-E)/Z)."""
        n = budget["samples"]
        g = torch.Generator().manual_seed(1000 + seed)
        anc = sample_ancestral(conds_e, n, g)
        counts = torch.zeros(BASE ** (2 * DIGITS)).index_add_(0, _flat_index(anc, BASE), torch.ones(len(anc)))
        log_p_cells = -e_cells - torch.logsumexp(-e_cells.reshape(-1), 0)
        checkpoints = budget["mcmc"]
        mcmc = metropolis_tv(log_p_cells, n, checkpoints, g)
        return {
            "ancestral_tv": tv(boltzmann.reshape(-1), counts),
            "mcmc_tv": {str(k): v for k, v in zip(checkpoints, mcmc, strict=True)},
        }

    @staticmethod
    def _summary(per_seed: list[dict[str, Any]], checkpoints: list[int]) -> dict[str, Any]:
        summary = common.summarise(per_seed)
        domains = [d[k] for d in per_seed for k in ("A", "B")]
        last = str(checkpoints[-1])
        summary.update(  # identities: the worst seed and domain, not the mean
            log_z_err=max(d["log_z_err"] for d in domains),
            bellman_err=max(d["bellman_err"] for d in domains),
            bellman_log_z_err=max(d["bellman_log_z_err"] for d in domains),
            ebm_joint_err=max(d["ebm_joint_err"] for d in per_seed),
            mcmc_tv_last=summary["mcmc_tv"][last],
            mcmc_steps_last=int(last),
            bellman_evals=BASE ** (2 * DIGITS),
        )
        return summary

    @staticmethod
    def _tables(per_seed: list[dict[str, Any]], budget: dict[str, Any]) -> list[Table]:
        def col(*path: str, digits: int = 3) -> str:
            return fmt(common.collect(per_seed, *path), digits)

        def worst(domain: str, key: str) -> str:
            return common.num(max(d[domain][key] for d in per_seed))

        bins_a = budget["bins_a"]
        states = BASE ** (2 * DIGITS)
        return [
            Table(
                "The evidence (domain B, nats, exact by enumeration): two independently trained models "
                "through the recursion; the prediction: the induced AR's test NLL within 3 paired SE plus "
                "the AR's misfit",
                ["distribution", "KL(true || it) (misfit)", "KL(trained AR || it)", "test NLL", "minus AR's"],
                [
                    ["trained AR (char-transformer)", col("misfit_ar"), "0", col("ar_test_nll"), "0"],
                    ["trained EBM, exp(-E)/Z", col("misfit_ebm"), "-", col("ebm_test_nll"), "-"],
                    [
                        "AR induced from the EBM (soft Bellman)",
                        col("misfit_ebm"),
                        col("kl_ar_induced"),
                        col("ebm_test_nll"),
                        col("nll_gap", digits=4),
                    ],
                    [
                        "control: myopic normaliser of the EBM",
                        col("misfit_myopic"),
                        col("kl_ar_myopic"),
                        col("myopic_test_nll"),
                        col("nll_gap_myopic", digits=4),
                    ],
                ],
            ),
            Table(
                f"Identities by enumeration, {common.IDENTITY} (float64; worst over seeds)",
                ["domain", "states", "|log Z_AR|", "max |log pi_Bellman - log pi_AR|", "|V_0 + c|"],
                [
                    [
                        f"A: ar-grid, L = 2, V = {bins_a}",
                        bins_a**2,
                        worst("A", "log_z_err"),
                        worst("A", "bellman_err"),
                        worst("A", "bellman_log_z_err"),
                    ],
                    [
                        f"B: char-transformer, L = 6, V = {BASE}",
                        states,
                        worst("B", "log_z_err"),
                        worst("B", "bellman_err"),
                        worst("B", "bellman_log_z_err"),
                    ],
                    [
                        "B: cell EBM -> soft Bellman AR (joint vs exp(-E)/Z)",
                        states,
                        "-",
                        common.num(max(d["ebm_joint_err"] for d in per_seed)),
                        "-",
                    ],
                ],
            ),
            Table(
                "Sampling the same EBM (domain B): total variation to its Boltzmann distribution",
                ["sampler", "energy evaluations", "TV"],
                [
                    [
                        "soft Bellman table, then ancestral",
                        f"{states:,} once + 6 lookups per sample",
                        col("ancestral_tv"),
                    ]
                ]
                + [
                    [f"random-walk Metropolis, {k} steps", f"{k} per sample", col("mcmc_tv", str(k))]
                    for k in budget["mcmc"]
                ],
            ),
        ]

    @staticmethod
    def _identities(conds_ar: list[torch.Tensor], const: float) -> dict[str, Any]:
        """|log Z| of the AR joint and the soft-Bellman recovery of its conditionals from E = -log p + c."""
        logp = joint_from_conditionals(conds_ar)
        log_z = torch.logsumexp(logp.reshape(-1), 0)
        conds_b, log_z_b = soft_bellman(-logp + const)
        err = max(float((cb - ca).abs().max()) for cb, ca in zip(conds_b, conds_ar, strict=True))
        return {
            "log_z_err": abs(float(log_z)),
            "bellman_err": err,
            "bellman_log_z_err": abs(float(log_z_b) + const),
        }

    @staticmethod
    def _train_ebm(side: int, cells: torch.Tensor, steps: int, seed: int, dev: str) -> CellEnergy:
        """Exact maximum likelihood: loss = E_data[E] + log sum_cells exp(-E) (the gradient is exact)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ebm = CellEnergy(side).to(dev)
        opt = torch.optim.Adam(ebm.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            batch = cells[torch.randint(0, len(cells), (512,), generator=g)].to(dev)
            loss = ebm(batch).mean() + torch.logsumexp(-ebm.table().reshape(-1), 0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return ebm.eval()

    @staticmethod
    def _figure(keep: dict[str, Any], side: int, checkpoints: list[int], n: int) -> bytes:
        fig, axes = draw.panel_row(4, (15, 3.7))
        cells = keep["cells"]

        def grid_of(logp: torch.Tensor) -> Any:
            img = torch.full((side, side), float("nan"), dtype=torch.float64)
            img[cells[:, 0], cells[:, 1]] = logp.reshape(-1)
            return img.T.numpy()  # x to the right, y up

        lo = float(keep["boltzmann"].max()) - 12
        for ax, (title, lp) in zip(
            axes[:3],
            [
                ("trained AR (char-transformer): log p_AR", keep["logp_ar"]),
                ("trained EBM -> soft Bellman -> AR", keep["joint_e"]),
                ("control: myopic normaliser of the EBM", keep["myopic"]),
            ],
            strict=True,
        ):
            ax.imshow(grid_of(lp.clamp(min=lo)), origin="lower", cmap="viridis")
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[3]
        ax.plot(checkpoints, [keep["mcmc"][str(k)] for k in checkpoints], "o-", label="Metropolis on E")
        ax.axhline(keep["anc"], color="k", ls="--", label=f"ancestral (n = {n})")
        ax.set_xscale("log")
        ax.set_xlabel("energy evaluations per sample")
        ax.set_ylabel("TV to exp(-E)/Z")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title("sampling the same EBM", fontsize=9)
        return draw.to_png(fig)


def _flat_index(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """(N, L) tokens -> (N,) row index in :func:`all_sequences` order (base-V number, first token most
    significant)."""
    L = tokens.shape[1]
    weights = vocab ** torch.arange(L - 1, -1, -1)
    return (tokens.long().cpu() * weights).sum(1)
