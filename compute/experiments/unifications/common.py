"""Shared pieces of the unification experiments: budgets, training loops, 2-D sample quality,
and the small bookkeeping every experiment repeats (figures: compute/experiments/figures.py).

Conventions. Every experiment follows one template: arms per seed -> measurements -> tables ->
figures -> verdict. It trains its models through the families' own ``train_step`` on reproducible
batches (:func:`compute.trainer.batches`), measures per seed, stores the per-seed numbers in
``measurements`` and the mean over seeds in ``measurements["summary"]``; its ``evidence`` and
``verdict`` functions read only ``summary`` so that they can be unit-tested on hand-made numbers.

Evidence. Each experiment states a prediction that could fail and runs a *negative control* -- a
configuration where the claim should not hold -- through the very same rule (one function applied
to both arms, same thresholds). A verdict is "holds" only when the prediction passes *and* the
control is rejected; a rule that passes its control proves nothing and the verdict is withdrawn to
"partly-holds" (:func:`compute.experiments.base.guard`). Algebraic identities may be shown, labelled
:data:`IDENTITY`, never as evidence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from compute.experiments.base import Evidence, Experiment, ExperimentKind, Scale, Verdict, guard, mean_std

# shared with the failure-mode experiments; re-exported so that every experiment reads common.X
from compute.experiments.base import build_model as build_model
from compute.experiments.base import device as device
from compute.experiments.base import seeds_of as seeds_of

# The network every ring8 experiment gives its diffusion and flow-matching models: 3 x 128 on 32 Fourier
# features, small enough for 3,000 steps on a CPU core yet sharp enough for 0.02-wide modes.
RING_NETWORK: dict[str, Any] = {"hidden": 128, "depth": 3, "time_dim": 32, "fourier_features": 32}


class Unification(Experiment):
    """An experiment that measures in what sense two families agree and where the caveat bites."""

    kind: ClassVar[ExperimentKind] = "unification"


# --------------------------------------------------------------------------------------------
# Evidence: a prediction, a negative control, one rule for both

IDENTITY = "identity (holds by construction)"  # the label of algebra shown next to the evidence


@dataclass(frozen=True)
class Check:
    """One arm judged by an experiment's prediction rule: passed or not, and the numbers why."""

    passed: bool
    text: str


def evidence(
    claim: str,
    prediction: str,
    control: str,
    outcome: Check,
    control_outcome: Check,
    identities: Sequence[str] = (),
) -> Evidence:
    """The record of :class:`compute.experiments.base.Evidence` from one rule applied to both arms;
    ``identities`` get the :data:`IDENTITY` label."""
    return Evidence(
        claim=claim,
        prediction=prediction,
        outcome=f"{'met' if outcome.passed else 'not met'}: {outcome.text}",
        control=control,
        control_outcome=f"{'passed' if control_outcome.passed else 'rejected'}: {control_outcome.text}",
        control_rejected=not control_outcome.passed,
        identities=tuple(f"{line} -- {IDENTITY}" for line in identities),
    )


def judged(ev: Evidence, code: str, text: str) -> Verdict:
    """The verdict ``code`` an experiment's rule gave, with both outcomes in its text, through
    :func:`compute.experiments.base.guard` (a control that passes the rule withdraws "holds")."""
    sentence = (
        f"{text.rstrip('.')}. Prediction {ev.outcome}; negative control ({ev.control}) {ev.control_outcome}."
    )
    return guard(Verdict(code, sentence), ev)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Budgets


def pick(scale: Scale, smoke: Any, full: Any) -> Any:
    """The smoke value in CI, the full one on the site (sizes that do not scale linearly)."""
    return smoke if scale.name == "smoke" else full


# --------------------------------------------------------------------------------------------
# Training


def train(
    model: Any,
    dataset: Any,
    steps: int,
    seed: int,
    batch_size: int | None = None,
    labels: bool = False,
    step_fn: Callable[..., dict[str, float]] | None = None,
) -> dict[str, float]:
    """``steps`` calls of ``step_fn`` (default ``model.train_step``) on reproducible batches of
    ``dataset`` (fresh draws for 2-D sets, reshuffled epochs otherwise). Labels are passed only
    when ``labels`` (the experiments here are unconditional). Returns the last losses plus
    ``seconds`` (wall time) and ``steps``."""
    from compute.trainer import batches, seed_everything

    seed_everything(seed)
    bs = batch_size or int(getattr(getattr(model, "config", None), "batch_size", 256))
    data = batches(dataset, bs, seed)
    fn = step_fn or model.train_step
    dev = getattr(model, "device", torch.device("cpu"))
    losses: dict[str, float] = {}
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = next(data)
        x = x.to(dev)
        losses = fn(x, y.to(dev) if (labels and y is not None) else None)
    return {**{k: float(v) for k, v in losses.items()}, "seconds": time.perf_counter() - t0, "steps": steps}


def network_size(model: Any) -> float:
    """Parameters of a denoising family's network (its EMA copy, of the same size, not counted)."""
    return float(sum(p.numel() for p in model.ema_network.parameters()))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# 2-D sample quality


def reference(dataset: Any, n: int, seed: int) -> torch.Tensor:
    """n fresh draws from the true 2-D distribution (never the training set)."""
    return dataset.sample(n, torch.Generator().manual_seed(10_000 + seed))


def quality_2d(
    samples: torch.Tensor, dataset: Any, seed: int = 0, ref: torch.Tensor | None = None
) -> dict[str, float]:
    """PacGAN mode statistics (mixtures), MMD^2 and energy distance to fresh data, PRDC recall.

    ``mmd2_e3`` is MMD^2 x 1000 (multi-bandwidth RBF at the data's own scale, unbiased); ``judge``
    and ``modes_counted`` come from the verdict-grade 2-D criterion (:func:`judge`)."""
    from compute import metrics

    samples = samples.detach().cpu().float()
    finite = torch.isfinite(samples).all(1)
    fake = samples[finite]
    ref = reference(dataset, len(samples), seed) if ref is None else ref
    out: dict[str, float] = {"non_finite": 1.0 - float(finite.float().mean())}
    if dataset.modes is not None:
        st = metrics.mode_stats(samples, dataset.modes, dataset.mode_std, dataset.mode_weights)
        out.update(
            modes=float(st["modes_captured"]),
            num_modes=float(st["num_modes"]),
            hq=st["hq_fraction"],
            tv=st["mode_weight_tv"],
            spread=st["spread_ratio"],
        )
        out.update(judge(samples, dataset))
    if len(fake) >= 10:
        out["mmd2_e3"] = 1e3 * metrics.mmd(ref, fake)
        out["energy_distance"] = metrics.energy_distance(ref, fake)
        pr = metrics.prdc(ref[:2000], fake[:2000])
        out["precision"], out["recall"] = pr["precision"], pr["recall"]
    else:
        out.update(mmd2_e3=float("nan"), energy_distance=float("nan"), precision=0.0, recall=0.0)
    return out


def judge(samples: torch.Tensor, dataset: Any) -> dict[str, float]:
    """The verdict-grade 2-D criterion (:func:`compute.metrics.judge_2d`) as numbers: ``judge`` 1.0 when
    the samples meet it, else 0.0 (a float, so that the mean over seeds is the share of seeds that meet
    it) and ``modes_counted``, the modes holding a real share of their expected high-quality mass."""
    from compute import metrics

    j = metrics.judge_2d(samples.detach().cpu().float(), dataset)
    return {"judge": float(j.meets), "modes_counted": float(j.modes_counted)}


MMD_NOISE_E3 = 0.5  # MMD^2 x 1e3 allowed for sampling noise in "as good as" (2,000 points)


def as_good_as(arm: dict[str, float], ref: dict[str, float]) -> bool:
    """ "``arm`` samples as well as ``ref``" for two :func:`quality_2d` dicts (means over seeds): ``arm``
    meets the verdict-grade 2-D criterion on at least the share of seeds ``ref`` does, and its MMD^2 --
    at the data's own scale, so blurred or collapsed samples score worse than exact ones -- is within
    2 max(ref, 0) + :data:`MMD_NOISE_E3`."""
    return arm["judge"] >= ref["judge"] and arm["mmd2_e3"] <= 2 * max(ref["mmd2_e3"], 0.0) + MMD_NOISE_E3


# --------------------------------------------------------------------------------------------
# Aggregation over seeds


def summarise(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of every numeric leaf (nested dicts kept), e.g. [{"a": 1, "b": {"c": 2}}, ...]."""
    if not per_seed:
        return {}
    out: dict[str, Any] = {}
    for key, first in per_seed[0].items():
        if isinstance(first, dict):
            out[key] = summarise([d[key] for d in per_seed])
        elif isinstance(first, bool):
            out[key] = all(bool(d[key]) for d in per_seed)
        elif isinstance(first, int | float):
            out[key] = mean_std([float(d[key]) for d in per_seed])[0]
    return out


def collect(per_seed: Sequence[dict[str, Any]], *path: str) -> list[float]:
    """[d[path[0]][path[1]]... for d in per_seed]: one value per seed."""
    out = []
    for d in per_seed:
        v: Any = d
        for p in path:
            v = v[p]
        out.append(float(v))
    return out


def cell(per_seed: Sequence[dict[str, Any]], *path: str, digits: int = 2, factor: float = 1.0) -> str:
    """'mean ± std' over seeds of the value at ``path`` in each seed's measurements, times ``factor``."""
    from compute.experiments.base import fmt

    return fmt([factor * x for x in collect(per_seed, *path)], digits)


# the headers of quality_cells; the first two are the PacGAN / VEEGAN literature numbers, shown as such
QUALITY_COLUMNS = ["modes (PacGAN)", "high-quality % (PacGAN)", "MMD^2 x 1e3", "recall"]


def quality_cells(per_seed: Sequence[dict[str, Any]], *path: str) -> list[str]:
    """Modes, high-quality %, MMD^2 x 1e3 and recall of the :func:`quality_2d` dict at ``path``."""
    return [
        cell(per_seed, *path, "modes", digits=1),
        cell(per_seed, *path, "hq", digits=1, factor=100),
        cell(per_seed, *path, "mmd2_e3", digits=2),
        cell(per_seed, *path, "recall", digits=3),
    ]


def num(x: float, digits: int = 3) -> str:
    """A short number for verdict sentences: 3 significant digits, scientific when tiny."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.1e}"
    return f"{x:.{digits}g}"


def finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)
