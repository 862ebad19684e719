"""Equal-effort tuning of the board models (Lucic et al. 2018, "Are GANs Created Equal?";
Melis et al. 2018): the same search effort for every family, selection on seeds the board never
reports, the whole sweep published.

The protocol, declared before any number was seen (``PROTOCOL``):

- Every board model gets ``CONFIGS`` = 12 configurations of its recipe's parameters: the recipe's
  shipped defaults, then 11 drawn from the model's declared search space (``SPACES``) by a random
  generator seeded with the dataset and the model's key, so anyone redraws the same 12.
- Every configuration trains once per validation seed (100, 101, 102) for the same budget: 10 s
  of CPU time on one thread (``CpuBudget``; CPU time, not wall time, so a busy machine does not
  shorten one model's budget more than another's).
- On the 2-D boards each trial is judged by the verdict-grade 2-D criterion
  (``compute.metrics.judge_2d``) on 2,000 samples drawn with noise of their own (seed 10,000 + seed,
  as the demos' stopping rule does). Selection score, lexicographic: (1) the number of validation
  seeds whose samples meet the bar; (2) the mean over those seeds of ``quality`` = modes counted / K
  × HQ share × (1 − mode-weight TV), each in [0, 1]. Ties go to the lower index (the defaults first).
- On the digits board each trial draws 1,000 samples (the same noise seeds) and is judged by the
  board's own digit metrics (``compute.evaluate.image_sample_metrics``). Selection score: the mean
  over the validation seeds of the Fréchet distance in the digit feature space, lower first; ties go
  to the lower index. Digits have no modes to count, and the Fréchet distance is the one board metric
  that weighs fidelity and coverage together (precision and recall are recorded beside it).
- Finals (successive halving: Jamieson & Talwalkar 2016; Li et al. 2018, Hyperband): the
  ``FINALISTS`` = 3 best configurations by that score train again on the same validation seeds for
  the full run budget, ``FINALS_BUDGET_CPU_S`` = 60 s of CPU time, and the same score picks the
  winner among them. The short screen only decides which configurations earn the long budget, so a
  family whose models need a minute to train is not judged by its first ten seconds.
- The chosen configuration becomes the board's configuration, with ``steps`` fixed to the median
  number of steps its finals trials reached within the budget; the board then reports it on seeds
  0, 1 and 2 only, through the ordinary run path.

The sweep file (``results/boards/<dataset>/sweep.json``) holds every configuration, every trial
and its scores; it is written after each trial, so an interrupted sweep resumes where it stopped.
Processes that sweep different models of one board may run side by side: each writes only its own
models' entries, under a file lock.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import hashlib
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from atlas.runs import recipes

CONFIGS = 12
VALIDATION_SEEDS = (100, 101, 102)
REPORT_SEEDS = (0, 1, 2)
BUDGET_CPU_S = 10.0
FINALISTS = 3
FINALS_BUDGET_CPU_S = 60.0
JUDGE_SAMPLES = 2000
IMAGE_JUDGE_SAMPLES = 1000  # the digits board's own sample count
SWEEP_FILE = "sweep.json"
SELECTION = (
    "lexicographic: (1) validation seeds meeting the verdict-grade bar (judge_2d); (2) mean of "
    "modes counted / K × HQ share × (1 − mode-weight TV); ties to the lower index"
)
IMAGE_SELECTION = (
    "the mean over the validation seeds of the Fréchet distance in the digit feature space, lower "
    "first; ties to the lower index"
)


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]

    def draw(self, rng: random.Random) -> Any:
        return rng.choice(self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return float(f"{value:.3g}")  # three significant digits: readable, and the same on every machine

    def describe(self) -> str:
        return f"log-uniform in [{self.low:g}, {self.high:g}]"


Space = dict[str, Choice | LogUniform]
WIDTHS = Choice((64, 128, 256, 512))
BATCHES = Choice((128, 256, 512))

# The search space of each 2-D board model (board entry key -> recipe parameter -> distribution):
# the optimiser's step size, the networks' size and the batch for all, plus each family's own knobs.
SPACES: dict[str, Space] = {
    "vae": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": WIDTHS,
        "depth": Choice((2, 3, 4)),
        "latent_dim": Choice((2, 4, 8)),
        "batch_size": BATCHES,
    },
    "gan": {
        "lr": LogUniform(1e-4, 3e-3),
        "hidden": WIDTHS,
        "depth": Choice((2, 3, 4)),
        "r1_gamma": Choice((0.0, 0.01, 0.1, 1.0)),
        "ema": Choice((0.0, 0.99, 0.995, 0.999)),
        "batch_size": BATCHES,
    },
    "diffusion": {
        "lr": LogUniform(5e-4, 1e-2),
        "hidden": WIDTHS,
        "variant": Choice(("linear", "cosine")),
        "sample_nfe": Choice((50, 100, 250)),
        "batch_size": BATCHES,
    },
    "realnvp": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": WIDTHS,
        "couplings": Choice((4, 8, 12, 16)),
        "batch_size": BATCHES,
    },
    "flow-matching": {
        "lr": LogUniform(5e-4, 1e-2),
        "hidden": WIDTHS,
        "sampler": Choice(("euler", "heun")),
        "sample_nfe": Choice((20, 50, 100)),
        "batch_size": BATCHES,
    },
    "ebm": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": WIDTHS,
        "dsm_sigma_min": Choice((0.01, 0.02, 0.05)),
        "dsm_levels": Choice((4, 8, 16)),
        "batch_size": BATCHES,
    },
    "autoregressive": {
        "lr": LogUniform(1e-3, 1e-2),
        "hidden": WIDTHS,
        "bins": Choice((128, 256, 512, 1024)),
        "batch_size": Choice((256, 512, 1024)),
    },
}

IMAGE_WIDTHS = Choice((128, 256, 512, 1024))
IMAGE_CHANNELS = Choice((8, 16, 32))  # the small U-Nets' and coupling nets' base channels
IMAGE_BATCHES = Choice((64, 128, 256))

# The search space of each digits board model, declared like the 2-D ones: step size, network size
# and batch for all, plus each family's own knobs.
IMAGE_SPACES: dict[str, Space] = {
    "vae": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": IMAGE_WIDTHS,
        "depth": Choice((1, 2, 3)),
        "latent_dim": Choice((8, 16, 32)),
        "batch_size": IMAGE_BATCHES,
    },
    "gan": {
        "lr": LogUniform(5e-5, 2e-3),
        "hidden": IMAGE_WIDTHS,
        "variant": Choice(("non-saturating", "wgan-gp")),
        "ema": Choice((0.0, 0.99, 0.995, 0.999)),
        "batch_size": IMAGE_BATCHES,
    },
    "diffusion": {
        "lr": LogUniform(5e-4, 1e-2),
        "channels": IMAGE_CHANNELS,
        "sample_nfe": Choice((25, 50, 100)),
        "batch_size": IMAGE_BATCHES,
    },
    "realnvp": {
        "lr": LogUniform(3e-4, 1e-2),
        "channels": IMAGE_CHANNELS,
        "couplings": Choice((4, 8, 12)),
        "batch_size": IMAGE_BATCHES,
    },
    "flow-matching": {
        "lr": LogUniform(5e-4, 1e-2),
        "channels": IMAGE_CHANNELS,
        "sampler": Choice(("euler", "heun")),
        "sample_nfe": Choice((20, 40, 80)),
        "batch_size": IMAGE_BATCHES,
    },
    "ebm": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": IMAGE_WIDTHS,
        "dsm_levels": Choice((4, 8, 16)),
        "batch_size": IMAGE_BATCHES,
    },
    "autoregressive": {
        "lr": LogUniform(3e-4, 1e-2),
        "hidden": Choice((256, 512, 768, 1024)),
        "variant": Choice(("order-agnostic", "natural")),
        "batch_size": IMAGE_BATCHES,
    },
}


def kind_of(dataset: str) -> str:
    """The board's data kind: "points2d" (judged by modes and HQ share) or "image" (digits)."""
    return "points2d" if dataset in recipes.POINTS2D else "image"


def spaces(dataset: str) -> dict[str, Space]:
    """The search spaces of ``dataset``'s board models (key -> space)."""
    return SPACES if kind_of(dataset) == "points2d" else IMAGE_SPACES


def cpu_budget(seconds: float) -> dict[str, Any]:
    """A stage's trial budget, for the reader and for the machine."""
    return {"budget": f"{seconds:g} s of CPU time per trial on one thread", "budget_cpu_s": seconds}


def protocol(dataset: str) -> dict[str, Any]:
    if kind_of(dataset) == "points2d":
        judge, selection = f"compute.metrics.judge_2d on {JUDGE_SAMPLES} samples", SELECTION
    else:
        judge, selection = (
            f"compute.evaluate.image_sample_metrics on {IMAGE_JUDGE_SAMPLES} samples",
            IMAGE_SELECTION,
        )
    return {
        "configs": CONFIGS,
        "validation_seeds": list(VALIDATION_SEEDS),
        "report_seeds": list(REPORT_SEEDS),
        **cpu_budget(BUDGET_CPU_S),
        "judge": f"{judge} (noise seed 10,000 + seed)",
        "selection": selection,
    }


def finals_protocol(finalists: int = FINALISTS, budget_s: float = FINALS_BUDGET_CPU_S) -> dict[str, Any]:
    return {
        "finalists": finalists,
        **cpu_budget(budget_s),
        "selection": f"the {finalists} best configurations of the screen by its score retrain on the "
        "validation seeds for this budget; the same score chooses among them",
    }


def describe_space(space: Space) -> dict[str, str]:
    return {name: dist.describe() for name, dist in space.items()}


def space_digest(dataset: str, key: str) -> str:
    """Changes whenever the protocol or the model's space does: a stale sweep is then redone."""
    text = json.dumps([dataset, key, protocol(dataset), describe_space(spaces(dataset)[key])], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finals_digest(
    dataset: str, key: str, finalists: int = FINALISTS, budget_s: float = FINALS_BUDGET_CPU_S
) -> str:
    """Changes whenever the screen or the finals' protocol does."""
    text = json.dumps([space_digest(dataset, key), finals_protocol(finalists, budget_s)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_current(dataset: str, key: str, entry: dict[str, Any]) -> bool:
    """Whether ``entry`` was swept under today's protocol (screen and finals) and ``key``'s space."""
    return (
        key in spaces(dataset)
        and entry.get("space_digest") == space_digest(dataset, key)
        and (entry.get("finals") or {}).get("digest") == finals_digest(dataset, key)
    )


def draw_configs(dataset: str, key: str, n: int = CONFIGS) -> list[dict[str, Any]]:
    """Configuration 0 is the recipe's defaults ({}); 1..n-1 are drawn from the model's space."""
    rng = random.Random(f"{dataset}/{key}")
    space = spaces(dataset)[key]
    return [{}] + [{name: space[name].draw(rng) for name in sorted(space)} for _ in range(n - 1)]


# --- one trial -------------------------------------------------------------------------------------


class CpuBudget:
    """A trainer callback that stops training after ``seconds`` of this process's CPU time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0.0

    def on_start(self, info: dict[str, Any]) -> None:
        self.started = time.process_time()

    def should_stop(self) -> bool:
        return self.started > 0 and time.process_time() - self.started >= self.seconds


def trial_config(
    recipe: recipes.Recipe, base: dict[str, Any], params: dict[str, Any], dataset: str, seed: int
):
    """The recipe's canonical config of one trial (steps at the cap: the CPU budget ends it)."""
    raw = {**base, **params, "dataset": dataset, "seed": seed, "steps": recipe.steps_max}
    config, errors = recipe.validate(raw)
    if errors:
        raise ValueError(f"{recipe.slug}: trial config {raw} does not validate: {errors}")
    return config


def train_for_cpu(recipe: recipes.Recipe, config: dict[str, Any], budget_s: float):
    """(model, dataset, train result, CPU clock at the start): ``config`` (a canonical config of
    ``recipe``) trained on the CPU until ``budget_s`` of CPU time or its steps run out."""
    from compute import trainer

    model, data, train = recipe.build(config)
    budget = CpuBudget(budget_s)
    result = trainer.train(
        model,
        data,
        budget=trainer.Budget(train["steps"], budget_s * 20),  # the wall cap only guards a stuck run
        callbacks=[budget],
        seed=train["seed"],
        preview_n=0,
    )
    return model, data, result, budget.started


def run_trial(recipe: recipes.Recipe, config: dict[str, Any], budget_s: float) -> dict[str, Any]:
    """Train one configuration for ``budget_s`` of CPU time and judge its samples."""
    started = time.perf_counter()
    model, data, result, cpu_started = train_for_cpu(recipe, config, budget_s)
    trained_s = time.perf_counter() - started
    judgement = judge(model, data, config["dataset"], seed=10_000 + config["seed"])
    return {
        "seed": config["seed"],
        "steps": result.steps,
        "stop_reason": result.stop_reason,
        "cpu_s": round(time.process_time() - cpu_started, 2),
        "wall_s": round(trained_s, 2),
        "judgement": judgement,
    }


JUDGED = ("meets", "diagnosis", "modes_counted", "num_modes", "hq_fraction", "hq_mode_tv", "spread_ratio")
IMAGE_JUDGED = ("frechet_distance", "kid", "precision", "recall", "classes_covered", "class_tv")


def judge(model: Any, data: Any, dataset: str, seed: int) -> dict[str, Any]:
    """The judgement of a trained trial's samples: the 2-D verdict, or the digits board's metrics."""
    from compute import evaluate, metrics

    if kind_of(dataset) == "points2d":
        samples, _ = evaluate.draw(model, JUDGE_SAMPLES, seed=seed)
        judgement = metrics.judge_2d(samples, data).as_dict()
        return {k: judgement[k] for k in JUDGED if k in judgement}
    samples, _ = evaluate.draw(model, IMAGE_JUDGE_SAMPLES, seed=seed)
    found = evaluate.image_sample_metrics(data, samples)
    found.update(found.pop("prdc"))
    return {k: _finite(found[k]) for k in IMAGE_JUDGED}


def _finite(value: float) -> float | None:
    """Rounded for the file; None where a diverged model's samples gave no finite number."""
    return round(float(value), 4) if math.isfinite(value) else None


def describe(judgement: dict[str, Any]) -> str:
    """One trial's judgement in a few words, for the log."""
    if "diagnosis" in judgement:
        return judgement["diagnosis"]
    distance, precision, recall = (judgement[k] for k in ("frechet_distance", "precision", "recall"))
    return f"FD {distance}, precision {precision}, recall {recall}"


# --- scores and the choice --------------------------------------------------------------------------


def quality(judgement: dict[str, Any]) -> float:
    """modes counted / K × HQ share × (1 − mode-weight TV), in [0, 1]."""
    share = judgement["modes_counted"] / max(judgement["num_modes"], 1)
    return share * judgement["hq_fraction"] * max(0.0, 1.0 - judgement["hq_mode_tv"])


def score(trials: list[dict[str, Any]], kind: str = "points2d") -> dict[str, Any]:
    """The selection score of a configuration's trials (and the means shown beside it)."""
    if kind == "image":
        return image_score(trials)
    judged = [t["judgement"] for t in trials]
    return {
        "meets": sum(bool(j["meets"]) for j in judged),
        "quality": round(statistics.fmean(quality(j) for j in judged), 4) if judged else 0.0,
        "modes_counted": round(statistics.fmean(j["modes_counted"] for j in judged), 2) if judged else 0.0,
        "hq_fraction": round(statistics.fmean(j["hq_fraction"] for j in judged), 4) if judged else 0.0,
        "median_steps": int(statistics.median(t["steps"] for t in trials)) if trials else 0,
    }


def image_score(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Digits: the mean Fréchet distance (a trial without a finite one counts as infinitely far)."""
    judged = [t["judgement"] for t in trials]

    def mean(key: str) -> float | None:
        values = [j[key] for j in judged]
        return round(statistics.fmean(values), 4) if values and None not in values else None

    return {
        "frechet_distance": mean("frechet_distance"),
        "precision": mean("precision"),
        "recall": mean("recall"),
        "classes_covered": mean("classes_covered"),
        "median_steps": int(statistics.median(t["steps"] for t in trials)) if trials else 0,
    }


def rank_key(config: dict[str, Any]) -> tuple:
    """Best first: the digits score (a Fréchet distance, lower is better) or the 2-D one."""
    found = config["score"]
    if "frechet_distance" in found:
        distance = found["frechet_distance"]
        return (math.inf if distance is None else distance, config["index"])
    return (-found["meets"], -found["quality"], config["index"])


def judged_on(config: dict[str, Any], seeds: Iterable[int]) -> bool:
    return {t["seed"] for t in config["trials"]} >= set(seeds)


def ranked(configs: list[dict[str, Any]], seeds: Iterable[int] = VALIDATION_SEEDS) -> list[dict[str, Any]]:
    """The configurations judged on every seed, best selection score first."""
    complete = [c for c in configs if judged_on(c, seeds)]
    return sorted(complete, key=rank_key)


def choose(configs: list[dict[str, Any]], seeds: Iterable[int] = VALIDATION_SEEDS) -> dict[str, Any] | None:
    """The configuration with the best selection score among those judged on every seed."""
    best = ranked(configs, seeds)
    return best[0] if best else None


def finalists(configs: list[dict[str, Any]], seeds: Iterable[int], n: int) -> list[int]:
    """The indices of the ``n`` best screened configurations; [] until every one is screened."""
    if not configs or not all(judged_on(c, seeds) for c in configs):
        return []
    return [c["index"] for c in ranked(configs, seeds)[:n]]


# --- the sweep file ---------------------------------------------------------------------------------


def sweep_path(dataset: str, directory: Path | None = None) -> Path:
    return (directory or Path(settings.ATLAS_RESULTS_DIR) / "boards") / dataset / SWEEP_FILE


def read(dataset: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The published sweep of ``dataset`` (None without one); ValueError naming the file if bad."""
    path = sweep_path(dataset, directory)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return copy.deepcopy(_parsed(str(path), stamp, dataset))


def _shared(dataset: str) -> dict[str, Any] | None:
    """The parsed sweep itself, for readers that copy what they keep (the board reads the choice
    of every model on each build: no deep copy of the whole file each time); None if absent or bad."""
    path = sweep_path(dataset)
    try:
        return _parsed(str(path), path.stat().st_mtime_ns, dataset)
    except (FileNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=16)
def _parsed(path: str, stamp: int, dataset: str) -> dict[str, Any]:
    """Parsed once per file version (the board reads the choice of every model on each build)."""
    try:
        payload = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(payload, dict) or payload.get("dataset") != dataset:
        raise ValueError(f"{path}: expected the sweep of {dataset!r}")
    if not isinstance(payload.get("entries"), dict):
        raise ValueError(f"{path}: expected an object of entries")
    return payload


def _write(path: Path, payload: dict[str, Any], keys: Iterable[str]) -> None:
    """Write ``payload``'s entries ``keys`` into the file, keeping every other model's entry as the
    file now holds it: processes sweeping different models of one board write side by side."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".json.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        on_disk = json.loads(path.read_text()) if path.exists() else {}
        entries = {**on_disk.get("entries", {}), **{key: payload["entries"][key] for key in keys}}
        merged = {**payload, "entries": entries}
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(merged, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        partial.replace(path)  # atomic: a reader never sees half a file


def chosen(dataset: str, key: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The board configuration a finished, current sweep chose for ``key``: its recipe parameters
    and fixed steps; None without one (the board then runs the recipe's defaults)."""
    try:
        payload = read(dataset, directory) if directory else _shared(dataset)
    except ValueError:
        return None
    entry = (payload or {}).get("entries", {}).get(key)
    if not entry or not entry.get("chosen") or not is_current(dataset, key, entry):
        return None
    best = entry["chosen"]
    return {**best.get("resolved", best["params"]), "steps": best["steps"]}


def summary(dataset: str) -> dict[str, Any] | None:
    """Per model: the space, the chosen configuration and its validation score, the effort spent."""
    payload = _shared(dataset)
    if payload is None:
        return None
    models = {}
    for key, entry in payload["entries"].items():
        finals = (entry.get("finals") or {}).get("configs", [])
        trials = [t for c in entry.get("configs", []) + finals for t in c.get("trials", [])]
        best = entry.get("chosen")
        scored = {c["index"]: c["score"] for c in finals}
        models[key] = {
            "recipe": entry.get("recipe"),
            "current": is_current(dataset, key, entry),
            "configs": len(entry.get("configs", [])),
            "finalists": len(finals),
            "trials": len(trials),
            "cpu_s": round(sum(t.get("cpu_s", 0.0) for t in trials), 1),
            "wall_s": round(sum(t.get("wall_s", 0.0) for t in trials), 1),
            "chosen": copy.deepcopy(best),
            "chosen_score": dict(scored[best["index"]]) if best and best["index"] in scored else None,
        }
    return {"protocol": dict(payload.get("protocol", {})), "models": models}


@dataclass(frozen=True)
class Model:
    key: str
    recipe: recipes.Recipe
    base: dict[str, Any]  # the board's fixed overrides (variant, stop: budget)


def run(
    dataset: str,
    models: list[Model],
    *,
    configs: int = CONFIGS,
    seeds: tuple[int, ...] = VALIDATION_SEEDS,
    budget_s: float = BUDGET_CPU_S,
    finalists: int = FINALISTS,
    finals_budget_s: float = FINALS_BUDGET_CPU_S,
    directory: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) the sweep of ``models`` on ``dataset``: the screen, then the finals, each
    round-robin over the models so that any drift in the machine's speed falls on every family
    alike; write the file after each trial."""
    path = sweep_path(dataset, directory)
    payload = read(dataset, directory) or {"dataset": dataset, "entries": {}}
    payload["protocol"] = {
        **protocol(dataset),
        "configs": configs,
        "validation_seeds": list(seeds),
        **cpu_budget(budget_s),  # a smoke sweep's file states the budget it really ran
    }
    payload["protocol"]["finals"] = finals_protocol(finalists, finals_budget_s)
    stage = _Stage(dataset, path, payload, seeds, tuple(m.key for m in models), log)
    for model in models:
        _prepare_entry(payload, dataset, model, configs)
    for index in range(configs):
        for model in models:
            stage.train(model, payload["entries"][model.key]["configs"][index], budget_s, "screen")
    for model in models:
        digest = finals_digest(dataset, model.key, finalists, finals_budget_s)
        _prepare_finals(payload["entries"][model.key], seeds, finalists, digest, kind_of(dataset))
    for rank in range(finalists):
        for model in models:
            chosen_few = payload["entries"][model.key]["finals"]["configs"]
            if rank < len(chosen_few):
                stage.train(model, chosen_few[rank], finals_budget_s, "finals")
    for model in models:  # a finished sweep run again only completes its records
        entry = payload["entries"][model.key]
        for config in entry["configs"] + entry["finals"]["configs"]:
            if config["trials"]:
                _resolve(
                    config, trial_config(model.recipe, model.base, config["params"], dataset, 0), model.recipe
                )
        _finish_entry(entry, seeds)
    _write(path, payload, stage.keys)
    return payload


@dataclass(frozen=True)
class _Stage:
    """Trains the missing trials of one configuration and writes the sweep after each."""

    dataset: str
    path: Path
    payload: dict[str, Any]
    seeds: tuple[int, ...]
    keys: tuple[str, ...]  # the models this process sweeps: the only entries it writes
    log: Callable[[str], None]

    def train(self, model: Model, config: dict[str, Any], budget_s: float, stage: str) -> None:
        for seed in self.seeds:
            if any(t["seed"] == seed for t in config["trials"]):
                continue
            started = time.perf_counter()
            full = trial_config(model.recipe, model.base, config["params"], self.dataset, seed)
            _resolve(config, full, model.recipe)
            config["trials"].append(run_trial(model.recipe, full, budget_s))
            config["score"] = score(config["trials"], kind_of(self.dataset))
            _finish_entry(self.payload["entries"][model.key], self.seeds)
            _write(self.path, self.payload, self.keys)
            trial = config["trials"][-1]
            self.log(
                f"{self.dataset} {model.key} {stage} config {config['index']} seed {seed}: "
                f"{describe(trial['judgement'])}, {trial['steps']} steps, "
                f"{time.perf_counter() - started:.1f} s"
            )


TRIAL_ONLY = ("dataset", "seed", "steps")  # what differs between a trial and the board's run


def _resolve(config: dict[str, Any], full: dict[str, Any], recipe: recipes.Recipe) -> None:
    """Record every parameter the configuration trains with (the recipe's defaults spelled out),
    so the board runs exactly what was validated even if a recipe default changes later."""
    resolved = {k: v for k, v in full.items() if k not in TRIAL_ONLY}
    if config.setdefault("resolved", resolved) != resolved:
        raise ValueError(
            f"{recipe.slug} configuration {config['index']}: its trials ran with {config['resolved']}, "
            f"the recipe now gives {resolved}; start the sweep of this model again"
        )


def _prepare_entry(payload: dict[str, Any], dataset: str, model: Model, configs: int) -> None:
    digest = space_digest(dataset, model.key)
    entry = payload["entries"].get(model.key)
    if entry is None or entry.get("space_digest") != digest or entry.get("recipe") != model.recipe.slug:
        entry = {"recipe": model.recipe.slug, "base": model.base, "space_digest": digest, "configs": []}
    entry["space"] = describe_space(spaces(dataset)[model.key])
    drawn = draw_configs(dataset, model.key, configs)
    have = {c["index"]: c for c in entry["configs"]}
    entry["configs"] = [
        have.get(i) if have.get(i, {}).get("params") == params else _empty(i, params, kind_of(dataset))
        for i, params in enumerate(drawn)
    ]
    payload["entries"][model.key] = entry


def _prepare_finals(entry: dict[str, Any], seeds: tuple[int, ...], n: int, digest: str, kind: str) -> None:
    """The finals of a screened model: its ``n`` best configurations, trials kept while current."""
    finals = entry.get("finals") or {}
    if finals.get("digest") != digest:
        finals = {"digest": digest, "configs": []}
    finals["finalists"] = min(n, len(entry["configs"]))
    screened = {c["index"]: c for c in entry["configs"]}
    have = {c["index"]: c for c in finals["configs"]}
    finals["configs"] = [
        have.get(i) or _empty(i, screened[i]["params"], kind) for i in finalists(entry["configs"], seeds, n)
    ]
    entry["finals"] = finals


def _empty(index: int, params: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"index": index, "params": params, "trials": [], "score": score([], kind)}


def _finish_entry(entry: dict[str, Any], seeds: tuple[int, ...]) -> None:
    """Choose among the finals once every finalist is judged on every seed; until then, nothing."""
    finals = entry.get("finals") or {}
    contenders = finals.get("configs", [])
    done = bool(contenders) and len(contenders) == finals.get("finalists")
    best = choose(contenders, seeds) if done and all(judged_on(c, seeds) for c in contenders) else None
    entry["chosen"] = (
        {
            "index": best["index"],
            "params": best["params"],
            "resolved": best.get("resolved", best["params"]),
            "steps": best["score"]["median_steps"],
        }
        if best is not None
        else None
    )
