"""Recipes: a node of the map tied to a runnable, bounded configuration of compute/.

A recipe names a model of ``compute.registry``, the datasets it may run on, the
hyperparameters a visitor may edit (each with a type, default and bounds) and the fixed ones,
and the caps (steps, wall time). ``validate`` turns untrusted input into a canonical config or
field-keyed errors; ``json_schema`` describes the same bounds for the API and the run panel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ParamKind = Literal["int", "float", "choice", "bool"]
POINTS2D = ("ring8", "grid25", "moons", "checkerboard", "swissroll", "pinwheel")
MIXTURES = ("ring8", "grid25")  # the 2-D sets with modes, where the verdict-grade bar can be judged
MAX_SEED = 2**31 - 1
# Training wall time of a 2-D demo that has not converged earlier. POST -> succeeded adds about 3 s
# (pick-up, final samples, scoring, figures): bench/demos.py measures the total against 10 s.
DEMO_SECONDS_2D = 5.0
# A demo scores its likelihood on this many test points (the board: the whole 2,500 of the protocol):
# the full-T diffusion ELBO on all of them would take longer than the demo trained.
DEMO_NLL_N = 1000


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    help: str = ""
    target: Literal["config", "train"] = "config"  # a model Config field, or a trainer setting

    def schema(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"enum": list(self.choices), "default": self.default, "description": self.help}
        if self.kind == "bool":
            return {"type": "boolean", "default": self.default, "description": self.help}
        schema: dict[str, Any] = {
            "type": "integer" if self.kind == "int" else "number",
            "default": self.default,
        }
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        schema["description"] = self.help
        return schema

    def clean(self, value: Any) -> Any:
        """The value, typed and within bounds, or ValueError with a message for the visitor."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"must be one of: {', '.join(map(str, self.choices))}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {'an integer' if self.kind == 'int' else 'a number'}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("must be an integer")
            value = int(value)
        else:
            value = float(value)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")
        return value


@dataclass(frozen=True)
class Recipe:
    slug: str
    title: str
    nodes: tuple[str, ...]  # map nodes whose page shows this recipe's Run panel
    model: str  # compute.registry name
    datasets: tuple[str, ...]
    description: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)  # Config overrides a visitor cannot change
    params: tuple[Param, ...] = ()
    steps_default: int = 2000
    steps_max: int = 20000
    # Wall-time cap; hitting it ends the run timed_out, partial metrics kept. The results board's
    # 2-D runs train the steps their sweep reached in 60 s of one-thread CPU time: the cap leaves
    # room for what a worker adds to that (live previews, heartbeats, a busy machine). Measured:
    # DDPM's board runs took 70-90 s of wall time for 55-67 s of training.
    seconds_max: float = 120.0
    # A demo (``stop: converged``) trains at most this long (wall, quality checks included) and then
    # ends as succeeded: the visitor sees samples and metrics within seconds (issue 15's 10-s target).
    demo_seconds: float = DEMO_SECONDS_2D
    # Where the fast demo defaults depart from the recipe's reference configuration (the one the
    # experiments' "run it yourself" presets and the results board were built on), its values: a
    # preset or a board entry names only what it changes and gets these for the rest.
    reference: dict[str, Any] = field(default_factory=dict)
    stop_default: str = "converged"  # a visitor's click is a demo; an experiment's preset trains its steps
    eval_samples: int = 2500
    requires_gpu: bool = False

    @property
    def family(self) -> str:
        from compute import registry

        return registry.get(self.model).family

    @property
    def queue(self) -> str:
        return "gpu" if self.requires_gpu else "cpu"

    def all_params(self) -> tuple[Param, ...]:
        """The editable parameters: dataset, steps and seed, then the recipe's own."""
        return (
            Param(
                "dataset",
                "choice",
                self.datasets[0],
                choices=self.datasets,
                help="training data",
                target="train",
            ),
            Param(
                "steps",
                "int",
                self.steps_default,
                1,
                self.steps_max,
                help="optimisation steps",
                target="train",
            ),
            Param("seed", "int", 0, 0, MAX_SEED, help="random seed", target="train"),
            *self._stop_param(),
            *self.params,
        )

    def _stop_param(self) -> tuple[Param, ...]:
        """Demos end when their quality has converged on a mixture (compute.stopping.QualityStop) or
        after ``demo_seconds``; the results board trains its fixed budget (``stop: budget``)."""
        if not set(self.datasets) & set(MIXTURES):
            return ()
        help_text = (
            "converged (a demo): end once the quality bar holds at two checks in a row (ring8 and grid25) "
            f"or after {self.demo_seconds:g} s of training; budget: train every step"
        )
        return (
            Param(
                "stop",
                "choice",
                self.stop_default,
                choices=("converged", "budget"),
                help=help_text,
                target="train",
            ),
        )

    def demo_budget_s(self, train_settings: dict[str, Any]) -> float | None:
        """The demo's training time (seconds) when the run is a demo, else None."""
        return self.demo_seconds if is_demo(train_settings) else None

    def nll_n(self, train_settings: dict[str, Any]) -> int | None:
        """Test points the likelihood is scored on (None: the evaluation's default, all of them)."""
        return DEMO_NLL_N if is_demo(train_settings) else None

    def json_schema(self) -> dict[str, Any]:
        params = self.all_params()
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {p.name: p.schema() for p in params},
        }

    def validate(self, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """(canonical config with every parameter, {field: [errors]}) for untrusted input."""
        params = {p.name: p for p in self.all_params()}
        errors: dict[str, list[str]] = {}
        for name in sorted(set(raw) - set(params)):
            errors[name] = [f"unknown parameter; valid: {', '.join(params)}"]
        config: dict[str, Any] = {}
        for name, param in params.items():
            try:
                config[name] = param.clean(raw[name]) if name in raw else param.default
            except ValueError as exc:
                errors[name] = [str(exc)]
        return config, errors

    def split(self, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(model Config overrides incl. fixed ones, trainer settings) of a canonical config."""
        targets = {p.name: p.target for p in self.all_params()}
        overrides = {**self.fixed, **{k: v for k, v in config.items() if targets[k] == "config"}}
        return overrides, {k: v for k, v in config.items() if targets[k] == "train"}

    def build(self, config: dict[str, Any], device: str = "cpu") -> tuple[Any, Any, dict[str, Any]]:
        """(model, dataset, trainer settings) of a canonical config: the dataset drawn with the
        config's seed and the untrained model, seeded alike, on ``device``."""
        from compute import datasets, registry  # torch stays out of the web process until a run needs it

        overrides, train = self.split(config)
        data = datasets.load(train["dataset"], seed=train["seed"])
        model = registry.build(self.model, data.spec, seed=train["seed"], device=device, **overrides)
        return model, data, train


def is_demo(train_settings: dict[str, Any]) -> bool:
    """A visitor's demo (stops when converged or after its seconds), not a board run."""
    return train_settings.get("stop") == "converged"


def lr(default: float) -> Param:
    return Param("lr", "float", default, 1e-5, 1e-1, help="Adam learning rate")


def hidden(default: int = 256) -> Param:
    return Param("hidden", "int", default, 16, 1024, help="hidden width of the networks")


def variant(default: str, choices: tuple[str, ...], help: str) -> Param:
    return Param("variant", "choice", default, choices=choices, help=help)


def sample_nfe(default: int) -> Param:
    return Param("sample_nfe", "int", default, 1, 1000, help="network evaluations per sample")


def depth(default: int, help: str = "hidden layers of each network") -> Param:
    return Param("depth", "int", default, 1, 8, help=help)


def batch_size(default: int = 256) -> Param:
    return Param("batch_size", "int", default, 16, 4096, help="examples per optimisation step")


def channels(default: int) -> Param:
    return Param("channels", "int", default, 4, 64, help="base channels of the convolutional networks")


def ema(default: float) -> Param:
    return Param("ema", "float", default, 0.0, 0.9999, help="EMA decay of G's sampling weights (0: off)")


def dsm_levels(default: int = 8) -> Param:
    return Param("dsm_levels", "int", default, 1, 32, help="noise levels from σ_min to σ_max")


def couplings(default: int, maximum: int) -> Param:
    return Param("couplings", "int", default, 2, maximum, help="coupling layers")


def beta(help: str = "KL weight β") -> Param:
    return Param("beta", "float", 4.0, 0.0, 20.0, help=help)


def free_bits(help: str = "λ, nats per latent dimension") -> Param:
    return Param("free_bits", "float", 0.25, 0.0, 4.0, help=help)


# Digits runs are slower per step than 2-D ones and score on fewer samples. The board's runs train the
# steps their sweep's finals reached in 60 s of one-thread CPU time; the cap leaves room for previews.
DIGITS_CAPS: dict[str, Any] = {"steps_default": 3000, "seconds_max": 180, "eval_samples": 1000}


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "vae-2d",
        "VAE on 2-D data",
        ("vae",),
        "vae",
        POINTS2D,
        "A Gaussian VAE trained on the ELBO; its likelihood is a lower bound.",
        params=(
            variant("gaussian", ("gaussian", "beta", "free-bits", "kl-annealing"), "VAE objective"),
            beta("KL weight (variant beta)"),
            hidden(),
            lr(1e-3),
            Param(
                "decoder",
                "choice",
                "mlp",
                choices=("mlp", "autoregressive"),
                help="p(x|z): factorised MLP, or autoregressive (strong enough to ignore z)",
            ),
            free_bits("λ, nats per latent dimension (variant free-bits)"),
            depth(2, "hidden layers of the encoder and decoder MLPs"),
            Param("latent_dim", "int", 2, 1, 16, help="latent dimensions"),
            batch_size(256),
        ),
        steps_default=3000,
    ),
    Recipe(
        "beta-vae-digits",
        "β-VAE on 8×8 digits",
        ("beta-vae",),
        "vae",
        ("digits",),
        "The KL term weighted by β: larger β gives smoother, more factorised latents and blurrier samples.",
        fixed={"variant": "beta"},
        params=(
            beta(),
            lr(1e-3),
            hidden(256),
            depth(2, "hidden layers of the encoder and decoder MLPs"),
            Param("latent_dim", "int", 16, 1, 64, help="latent dimensions"),
            batch_size(256),
        ),
        **DIGITS_CAPS,
    ),
    Recipe(
        "vae-free-bits-digits",
        "VAE with free bits on digits",
        ("free-bits",),
        "vae",
        ("digits",),
        "Free bits keep a minimum KL per latent dimension, a fix for posterior collapse.",
        fixed={"variant": "free-bits"},
        params=(free_bits(), lr(1e-3)),
        **DIGITS_CAPS,
    ),
    Recipe(
        "vae-kl-annealing-digits",
        "VAE with KL annealing on digits",
        ("kl-annealing",),
        "vae",
        ("digits",),
        "The KL weight grows from 0 to 1 during warm-up, another fix for posterior collapse.",
        fixed={"variant": "kl-annealing"},
        params=(Param("warmup_steps", "int", 2000, 0, 20000, help="steps of KL warm-up"), lr(1e-3)),
        **DIGITS_CAPS,
    ),
    Recipe(
        "gan-2d",
        "GAN on 2-D data",
        ("gan",),
        "gan",
        POINTS2D,
        "Generator against discriminator; no likelihood. The saturating minimax loss tends to drop modes.",
        params=(
            variant("non-saturating", ("minimax", "non-saturating", "wgan-gp"), "adversarial objective"),
            Param("r1_gamma", "float", 0.0, 0.0, 100.0, help="R1 penalty weight (0: off)"),
            # Two layers of 64 at lr 4e-3, EMA 0.99 (was three of 256 at 1e-3, EMA 0.995): in a 5-s demo
            # on one thread 8/8 ring8 modes at 88-94 % HQ, sharpened as GANs are, instead of noise;
            # 12/25 on grid25 (validation seeds 100-101). The board runs its sweep's choice.
            hidden(64),
            Param("lr", "float", 4e-3, 1e-5, 1e-1, help="Adam learning rate of G (and of D)"),
            depth(2, "hidden layers of G and of D"),
            ema(0.99),
            batch_size(256),
        ),
        steps_default=20000,  # a demo ends after 5 s (about 3,500 steps on one thread) or converged
        reference={"hidden": 256, "lr": 1e-3, "depth": 3, "ema": 0.995, "steps": 2500},
    ),
    Recipe(
        "wgan-gp-2d",
        "WGAN-GP on 2-D data",
        ("wgan-gp", "wgan"),
        "gan",
        ("grid25", *POINTS2D[:1], *POINTS2D[2:]),
        "A Wasserstein critic with a gradient penalty: stable training that covers the modes, slowly (five "
        "critic steps per generator step): a 5-s demo shows its start; stop: budget trains every step.",
        fixed={"variant": "wgan-gp"},
        # λ = 0.1 as in the authors' toy code: with the paper's λ = 10 (meant for images) the 2-D critic
        # stays near-linear and grid25 keeps 0 modes after 5,000 steps (see compute/families/gan.py).
        params=(
            Param("gp_lambda", "float", 0.1, 0.0, 100.0, help="gradient-penalty weight λ (10 for images)"),
            hidden(),
        ),
        # 5 critic steps per generator step: ~34 generator steps/s on 2 idle cores (bench/families.py:
        # 25/25 grid25 modes after 30 s, ~1000 steps, 3 seeds); 800 keep the demo under 30 s.
        steps_default=800,
    ),
    Recipe(
        "ddpm-2d",
        "DDPM on 2-D data",
        ("diffusion", "ddpm"),
        "diffusion",
        POINTS2D,
        "ε-prediction diffusion with ancestral sampling; its likelihood is the ELBO (a bound).",
        params=(
            variant("cosine", ("linear", "cosine"), "noise schedule"),
            sample_nfe(250),
            lr(5e-3),
            Param("T", "int", 1000, 10, 1000, help="diffusion steps of the forward process"),
            Param(
                "scale_betas",
                "bool",
                True,
                help="rescale the linear betas by 1000/T (off: ᾱ_T stays far from 0)",
            ),
            Param(
                "zero_terminal_snr", "bool", False, help="rescale the schedule to ᾱ_T = 0 (Lin et al. 2024)"
            ),
            Param(
                "prediction",
                "choice",
                "eps",
                choices=("eps", "v"),
                help="network target: noise ε or velocity v",
            ),
            # Width 64 at lr 5e-3 (was 256 at 2e-3): the bar at 1.5 s of one-thread training on ring8
            # and 2.4 s on grid25 instead of 3.7-4.2 s, and a quarter of the sampling cost per check
            # (validation seeds 100-102; bench/families.py --recipes ddpm-2d measures seeds 0-2).
            hidden(64),
            batch_size(256),
        ),
        steps_default=3000,
        reference={"hidden": 256, "lr": 2e-3},
    ),
    Recipe(
        "ddim-2d",
        "DDIM sampling on 2-D data",
        ("ddim",),
        "diffusion",
        POINTS2D,
        "The same trained ε-model sampled deterministically with few steps.",
        fixed={"sampler": "ddim"},
        params=(
            sample_nfe(50),
            Param("eta", "float", 0.0, 0.0, 1.0, help="stochasticity η (0: deterministic)"),
            lr(5e-3),
            hidden(64),  # the fast-converging network of ddpm-2d
        ),
        steps_default=3000,
        reference={"hidden": 256, "lr": 3e-3},  # the model's own defaults
    ),
    Recipe(
        "cfg-digits",
        "Classifier-free guidance on digits",
        ("cfg", "classifier-guidance"),
        "diffusion",
        ("digits",),
        "A class-conditional diffusion model with label dropout, sampled with guidance weight w.",
        # A 16-channel U-Net on batches of 128: ~35 steps/s on 2 idle cores, 3000 steps in ~90 s (the
        # 32-channel default on batches of 256 manages ~10 steps/s and would hit the cap).
        fixed={"sampler": "ddim"},
        params=(
            Param("guidance", "float", 3.0, 0.0, 15.0, help="guidance weight w"),
            sample_nfe(50),
            lr(3e-3),
            channels(16),
            batch_size(128),
        ),
        steps_default=2000,  # a demo within a minute on one worker thread (3,000 took 64 s)
        reference={"steps": 3000},
        steps_max=40000,
        seconds_max=180,
        # The digits board compares Fréchet distances, whose bias depends on the sample count: every
        # digits model is scored on the same 1,000 samples (DIGITS_CAPS).
        eval_samples=DIGITS_CAPS["eval_samples"],
    ),
    Recipe(
        "made-digits",
        "MADE on 8×8 digits",
        ("autoregressive", "made"),
        "made",
        ("digits",),
        "A masked autoencoder with exact likelihood over 17 intensity levels per pixel.",
        params=(
            variant("order-agnostic", ("order-agnostic", "natural"), "mask ordering"),
            lr(1e-3),
            hidden(768),
            batch_size(128),
        ),
        # 1,800 steps: POST -> succeeded within a minute on one worker thread (3,000 took 73 s,
        # bench/demos.py --kind image); the digits board and the experiments' presets train 3,000.
        **{**DIGITS_CAPS, "steps_default": 1800, "seconds_max": 180},
        reference={"steps": 3000},
    ),
    Recipe(
        "ar-grid-2d",
        "Autoregressive model on discretised 2-D data",
        ("autoregressive",),
        "ar-grid",
        POINTS2D,
        "p(x₁) p(x₂ | x₁) over bins: exact likelihood by the chain rule.",
        params=(
            Param("bins", "int", 512, 16, 1024, help="bins per coordinate"),
            lr(3e-3),
            hidden(256),
            batch_size(512),
        ),
        steps_default=2000,
    ),
    Recipe(
        "ebm-dsm-2d",
        "Energy-based model by denoising score matching",
        ("ebm", "denoising-score-matching", "score-matching", "langevin-dynamics"),
        "ebm",
        POINTS2D,
        "An energy network whose gradient matches the score of noised data; sampled by annealed Langevin "
        "dynamics. Its normaliser is computed by quadrature on a grid, so the KL to the data is measured.",
        fixed={"variant": "dsm"},
        params=(
            hidden(128),
            lr(1e-3),
            Param("dsm_sigma_min", "float", 0.02, 0.001, 1.0, help="smallest noise level σ_min"),
            dsm_levels(8),
            batch_size(256),
        ),
        steps_default=3000,
    ),
    Recipe(
        "ebm-cd-2d",
        "Energy-based model by contrastive divergence",
        ("contrastive-divergence", "replay-buffer-cd", "energy-regularization"),
        "ebm",
        POINTS2D,
        "Push the energy of data down and of Langevin samples up. Short-run chains start from noise; "
        "persistent chains continue from a replay buffer; an L2 penalty keeps energies bounded.",
        params=(
            variant("cd-persistent", ("cd-short-run", "cd-persistent"), "chains"),
            Param("energy_l2", "float", 0.1, 0.0, 10.0, help="L2 penalty α on energies (0: none)"),
            Param("sgld_steps", "int", 40, 1, 200, help="Langevin steps per update"),
            hidden(128),
        ),
        steps_default=1000,  # 40 Langevin steps per update: ~36 updates/s on 2 idle cores
        seconds_max=90,
    ),
    Recipe(
        "char-transformer-text",
        "Character-level transformer on the Atlas's own text",
        ("ar-transformer",),
        "char-transformer",
        ("text",),
        "A small GPT trained on the content of this site; exact likelihood in bits per character.",
        params=(lr(3e-3),),
        steps_default=1500,
        seconds_max=180,
        eval_samples=64,
    ),
    Recipe(
        "flow-matching-2d",
        "Flow matching on 2-D data",
        ("flow", "flow-matching", "stochastic-interpolants"),
        "flow-matching",
        POINTS2D,
        "Regress the velocity of a straight noise-to-data path, then integrate the ODE; the likelihood is "
        "an estimate from the change-of-variables integral.",
        fixed={"variant": "cfm"},
        params=(
            Param("sampler", "choice", "heun", choices=("euler", "heun"), help="ODE solver"),
            # bench/nfe.py (8 s of training, 3 seeds): Heun at 50 NFE meets the bar on 3/3 seeds of
            # ring8 and grid25 with the HQ share of 100 and 250 NFE (within 0.01), at half the cost of
            # 100; at 20 NFE 2/3. DDPM keeps 250: its ancestral sampler is too narrow below that.
            sample_nfe(50),
            # Width 64 at lr 5e-3 (was 256 at 3e-3): the bar at the first check, 0.5 s of one-thread
            # training on ring8 and 1.0 s on grid25, instead of 3.1 and 4.6 s (validation seeds 100-102).
            lr(5e-3),
            hidden(64),
            batch_size(256),
        ),
        steps_default=3000,
        reference={"hidden": 256, "lr": 3e-3, "sample_nfe": 100},  # what the board's sweep started from
    ),
    Recipe(
        "rectified-flow-2d",
        "Rectified flow on 2-D data",
        ("rectified-flow",),
        "flow-matching",
        POINTS2D,
        "Flow matching on the straight path without σ_min; few-step Euler sampling shows how straight the "
        "learned paths are.",
        fixed={"variant": "rectified"},
        params=(
            Param("sampler", "choice", "euler", choices=("euler", "heun"), help="ODE solver"),
            sample_nfe(8),
            lr(5e-3),
            hidden(64),  # the fast-converging network of flow-matching-2d
        ),
        steps_default=3000,
        reference={"hidden": 256, "lr": 3e-3},
    ),
    Recipe(
        "realnvp-2d",
        "RealNVP coupling flow on 2-D data",
        ("realnvp", "flow", "nice"),
        "realnvp",
        POINTS2D,
        "Affine coupling layers with a tractable Jacobian: exact likelihood by the change of variables, "
        "one network pass per sample. The additive variant is NICE.",
        params=(
            variant("affine", ("affine", "additive"), "coupling type"),
            couplings(8, 32),
            hidden(128),
            lr(1e-3),
            batch_size(256),
        ),
        steps_default=3000,
    ),
    Recipe(
        "gan-digits",
        "GAN on 8×8 digits",
        ("gan", "wgan-gp"),
        "gan",
        ("digits",),
        "MLP generator and critic on the flattened digits. WGAN-GP by default: with the non-saturating "
        "loss the same networks collapse onto two digit classes within a minute (class TV 0.80).",
        params=(
            variant("wgan-gp", ("non-saturating", "wgan-gp"), "adversarial objective"),
            hidden(256),
            Param("lr", "float", 2e-4, 1e-5, 1e-2, help="Adam learning rate of G and D"),
            ema(0.995),
            batch_size(256),
        ),
        # 5 critic steps per generator step: about 7 generator steps/s on one busy core.
        **{**DIGITS_CAPS, "steps_default": 600, "seconds_max": 180},
    ),
    Recipe(
        "flow-matching-digits",
        "Flow matching on 8×8 digits",
        ("flow-matching",),
        "flow-matching",
        ("digits",),
        "A small U-Net regresses the straight-path velocity; samples integrate the ODE. Its bits/dim come "
        "from the change-of-variables integral with a Hutchinson trace estimate (an estimate).",
        fixed={"variant": "cfm"},
        params=(
            Param("sampler", "choice", "heun", choices=("euler", "heun"), help="ODE solver"),
            sample_nfe(40),
            lr(2e-3),
            channels(16),
            batch_size(128),
        ),
        **{**DIGITS_CAPS, "steps_default": 1500, "seconds_max": 180},
    ),
    Recipe(
        "ebm-digits",
        "Energy-based model on 8×8 digits",
        ("ebm", "denoising-score-matching"),
        "ebm",
        ("digits",),
        "An energy MLP trained by multi-level denoising score matching and sampled by annealed Langevin "
        "dynamics. Its normaliser is intractable in 64 dimensions, so it reports no likelihood.",
        fixed={"variant": "dsm"},
        params=(
            hidden(256),
            lr(1e-3),
            dsm_levels(8),
            batch_size(256),
        ),
        **{**DIGITS_CAPS, "steps_default": 6000},
    ),
    Recipe(
        "realnvp-digits",
        "RealNVP on 8×8 digits",
        ("realnvp",),
        "realnvp",
        ("digits",),
        "A convolutional coupling flow on dequantised digits; its bits/dim bound the discrete likelihood.",
        params=(
            lr(1e-3),
            channels(16),  # ~29 steps/s on 2 idle cores (32 channels: ~5)
            couplings(8, 16),
            batch_size(128),
        ),
        # 1,800 steps keep the demo within a minute on one worker thread (2,500 took 68 s,
        # bench/demos.py --kind image); the digits board trains its 2,500.
        **{**DIGITS_CAPS, "steps_default": 1800, "seconds_max": 180},
        reference={"steps": 2500},
    ),
)

_BY_SLUG = {r.slug: r for r in RECIPES}


def with_preset(recipe: Recipe, config: dict[str, Any], role: str = "") -> Recipe:
    """The recipe with ``config`` as its defaults (an experiment's reproduce / fix setting), still
    editable and bounded like any run; ``config`` must validate against the recipe. What the preset
    does not name comes from the recipe's reference configuration, not its fast demo defaults, and
    the run trains the preset's steps (``stop: budget``): a reproduction, not a demo."""
    _, errors = recipe.validate(config)
    if errors:
        raise ValueError(f"{recipe.slug}: preset {config} does not validate: {errors}")
    preset = {**recipe.reference, **config}
    datasets = tuple(sorted(recipe.datasets, key=lambda d: d != preset.get("dataset", recipe.datasets[0])))
    params = tuple(replace(p, default=preset.get(p.name, p.default)) for p in recipe.params)
    title = f"{role.capitalize()}: {recipe.title}" if role else recipe.title
    return replace(
        recipe,
        title=title,
        datasets=datasets,
        params=params,
        steps_default=preset.get("steps", recipe.steps_default),
        stop_default=preset.get("stop", "budget"),
        fixed=dict(recipe.fixed),
    )


def get(slug: str) -> Recipe:
    return _BY_SLUG[slug]


def for_node(slug: str) -> list[Recipe]:
    return [r for r in RECIPES if slug in r.nodes]
