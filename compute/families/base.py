"""The one interface every model family implements.

The trainer, the Celery task, the metrics and the experiments never name a family: they
build one through ``compute.registry`` and talk to it through :class:`Family` only.
A family file imports torch (never Django), takes a frozen config dataclass, a
:class:`DataSpec`, a seed and a device, and offers the methods below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import nn

# One rule for every family (issue 13). A log-likelihood number is
# - "exact":    log p(x) of the model itself, up to float rounding;
# - "bound":    a deterministic lower bound on log p(x), computed without sampling;
# - "mc-bound": a Monte-Carlo estimate of a lower bound: an average over sampled latents, timesteps or
#               dequantisation noise whose *expectation* is a bound (ELBO with sampled z or x_t, IWAE,
#               E_u over dequantisation noise); one value may exceed log p(x);
# - "estimate": a numerical or stochastic approximation with no bound guarantee (quadrature of log Z,
#               an ODE solve, a Hutchinson trace);
# - "unavailable": no likelihood (GAN).
# When approximations compound, the weakest guarantee names the number: exact > bound > mc-bound >
# estimate (a dequantisation bound evaluated by an ODE solve is an "estimate").
LikelihoodKind = Literal["exact", "bound", "mc-bound", "estimate", "unavailable"]
LIKELIHOOD_KINDS: tuple[str, ...] = ("exact", "bound", "mc-bound", "estimate", "unavailable")
LIKELIHOOD_KIND_LABELS: dict[str, str] = {
    "exact": "exact",
    "bound": "bound",
    "mc-bound": "Monte-Carlo estimate of a bound",
    "estimate": "estimate",
    "unavailable": "none",
}


def is_lower_bound(kind: str) -> bool:
    """True for kinds whose (expected) value is a lower bound on log p(x): -value over-states the NLL."""
    return kind in ("bound", "mc-bound")


DataKind = Literal["points2d", "image", "tokens"]


@dataclass(frozen=True)
class DataSpec:
    """What a family needs to know about its data, independent of where it came from.

    - ``points2d``: batches are float tensors (B, 2).
    - ``image``: batches are float tensors (B, C, H, W) in [0, 1]; ``levels`` intensity levels
      (17 for scikit-learn's 8x8 digits); ``num_classes`` when labels exist.
    - ``tokens``: batches are long tensors (B, seq_len) with values in [0, vocab_size).
    """

    kind: DataKind
    shape: tuple[int, ...]  # one example, e.g. (2,), (1, 8, 8), (seq_len,)
    levels: int | None = None  # discretisation levels of image pixels / 2-D bins
    num_classes: int | None = None  # class-conditional data (digits)
    vocab_size: int | None = None  # tokens
    # log p_data(x) in nats for x (N, 2), where the dataset has it in closed form.
    true_log_density: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, compare=False)
    bounds: tuple[float, float] | None = None  # square support used for grids / quadrature

    @property
    def dim(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass(frozen=True)
class LogLikelihood:
    """log p(x) per example in nats, shape (N,), and what kind of number it is.

    ``kind`` follows the one rule above ``LikelihoodKind``: ``exact``, ``bound`` (deterministic lower
    bound), ``mc-bound`` (Monte-Carlo estimate of a lower bound: ELBO, IWAE, dequantisation),
    ``estimate`` (quadrature, ODE solve, Hutchinson trace), or ``unavailable`` (GAN; ``values`` None).
    """

    values: torch.Tensor | None
    kind: LikelihoodKind

    @staticmethod
    def unavailable() -> LogLikelihood:
        return LogLikelihood(values=None, kind="unavailable")


class Family(nn.Module):
    """Base class for every family. Subclasses set the class variables and implement the methods.

    Contract (checked by tests/compute/test_family_contract.py over everything the registry lists):
    - ``train_step(batch, labels=None) -> dict[str, float]``: one optimisation step, returns
      named scalar losses; always contains the key ``"loss"``.
    - ``sample(n, labels=None, **knobs) -> Tensor``: ``n`` samples shaped like a batch
      (``(n, *spec.shape)``) on CPU; knobs such as ``nfe`` or ``guidance`` are family-specific.
    - ``log_likelihood(x) -> LogLikelihood`` in nats per example.
    - ``state_dict()`` / ``load_state_dict()``: from nn.Module; optimiser state is not included.
    - ``nfe``: network evaluations per sample with the current sampling settings.
    """

    name: ClassVar[str]  # registry name, e.g. "diffusion", "flow-matching", "made"
    family: ClassVar[str]  # one of the six: vae, gan, diffusion, flow, ebm, autoregressive
    variants: ClassVar[tuple[str, ...]]  # e.g. ("ddpm-linear", "ddpm-cosine")
    data_kinds: ClassVar[tuple[DataKind, ...]]  # which DataSpec kinds it supports
    Config: ClassVar[type]  # frozen dataclass with a ``variant: str`` field and defaults

    def __init__(self, config: Any, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__()
        self.config = config
        self.spec = spec
        self.seed = seed
        self.device = torch.device(device)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        return LogLikelihood.unavailable()

    @property
    def nfe(self) -> int:
        return 1

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


# --------------------------------------------------------------------------------------------
# Helpers for family constructors


def check_choice(name: str, value: str, valid: Sequence[str]) -> None:
    """Raise ValueError("sampler must be 'euler' or 'heun', not 'rk4'") unless ``value`` is valid."""
    if value not in valid:
        quoted = [f"{v!r}" for v in valid]
        options = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        raise ValueError(f"{name} must be {options}, not {value!r}")


def model_coordinates(
    spec: DataSpec, data_scale: float = 1.0, image: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, float]:
    """(shift, scale) of the standardisation z = (x - shift) / scale.

    points2d with ``spec.bounds``: the box maps to [-2, 2] / ``data_scale``, so ring8 and grid25 both
    get a per-coordinate std near 1; images: ``image`` (diffusion's (0.5, 0.5) maps pixels to
    2x - 1, flow matching dequantises on its own and keeps the identity); anything else: identity.
    """
    if spec.kind == "points2d" and spec.bounds is not None:
        lo, hi = spec.bounds
        return (lo + hi) / 2, (hi - lo) / 4 * data_scale
    if spec.kind == "image":
        return image
    return 0.0, 1.0
