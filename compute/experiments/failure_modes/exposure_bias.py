"""Exposure bias: a teacher-forced autoregressive model conditions on its own outputs at sampling time.

A known synthetic process: a sparse second-order Markov chain over V = 16 symbols (every context (a, b)
allows 2 successors, with Dirichlet(1, 1) probabilities; the start pair is uniform), sequences of length
48. Its conditionals are known exactly, so for any prefix we can compute

    D(t) = KL(p_true(. | x_<t) || p_model(. | x_<t))            (nats)

on *true* prefixes (the teacher-forced excess loss: what training optimises) and on the model's own
*free-running* prefixes (what sampling meets), plus the share of free-running tokens the true process
forbids, before and after a sequence's first such error. Exposure bias: D on free-running prefixes
exceeds D on true prefixes, because a sampled mistake puts the model on prefixes it never saw in
training, and mistakes make further mistakes likelier.

Reproduce: a small character-level transformer (2 layers, width 32) trained by teacher forcing on fresh
sequences. Fix: the node's "in practice, sufficient model scale": the family's default size (3 layers,
width 64) with the same data stream, seeds and steps, whose fewer early mistakes leave fewer unseen
prefixes. Reported beside them: the node's other fix, scheduled sampling for transformers (Bengio et al.
2015; Mihaylova & Martins 2019, two-pass variant; the small model, each input token replaced by the
model's own sample with probability rising linearly from 0 to 0.1), an objective known to be
inconsistent (Huszar 2015): here it makes both divergences worse.

Verdict per seed: the failure shows when the small model's mean free-running D exceeds its teacher-
forced D by at least 10 %; the fix beats it when its gap -- free-running minus teacher-forced D, in
nats/token, the effect itself -- is smaller than the small model's (a lower free-running D alone could
come from a better fit everywhere). Negative control: the same gap test on two independent sets of true
prefixes must not fire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

V = 16
SEQ_LEN = 48
SUCCESSORS = 2
MODEL: dict[str, Any] = {"n_layer": 2, "n_head": 2, "n_embd": 32, "lr": 3e-3}
LARGE: dict[str, Any] = {"n_layer": 3, "n_head": 4, "n_embd": 64, "lr": 3e-3}  # the family defaults
ARMS = (
    ("reproduce", "small model, teacher forcing"),
    ("fix", "default-size model, teacher forcing"),
    ("scheduled", "small model, scheduled sampling"),
)
BATCH = 32
FULL_STEPS = 1000
P_MAX = 0.1
N_EVAL = 500
GAP_FACTOR = 1.1


class MarkovProcess:
    """The true process: x_1, x_2 uniform; x_t ~ P[x_{t-2}, x_{t-1}] with 2 allowed successors per context."""

    def __init__(self, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(7_919 + seed)
        probs = torch.zeros(V, V, V, dtype=torch.float64)
        for a in range(V):
            for b in range(V):
                succ = torch.randperm(V, generator=g)[:SUCCESSORS]
                w = -torch.log(
                    torch.rand(SUCCESSORS, generator=g, dtype=torch.float64)
                )  # Dirichlet(1, ..., 1)
                probs[a, b, succ] = w / w.sum()
        self.probs = probs  # (V, V, V): P[a, b, c] = p(x_t = c | x_{t-2} = a, x_{t-1} = b)

    def sample(self, n: int, g: Any) -> Any:
        import torch

        x = torch.empty(n, SEQ_LEN, dtype=torch.long)
        x[:, :2] = torch.randint(0, V, (n, 2), generator=g)
        flat = self.probs.float().view(V * V, V)
        for t in range(2, SEQ_LEN):
            x[:, t] = torch.multinomial(flat[x[:, t - 2] * V + x[:, t - 1]], 1, generator=g).squeeze(1)
        return x

    def conditionals(self, x: Any) -> Any:
        """p_true(. | x_<t) for t = 0..T-1 of each row: (N, T, V); positions 0 and 1 are uniform."""
        import torch

        n = len(x)
        out = torch.full((n, SEQ_LEN, V), 1.0 / V, dtype=torch.float64)
        out[:, 2:] = self.probs[x[:, :-2], x[:, 1:-1]]
        return out


def token_dataset(process: MarkovProcess, seed: int):
    """A tokens Dataset whose trainer batches are fresh draws of the process."""
    import torch

    from compute.datasets import Dataset
    from compute.families.base import DataSpec

    g = torch.Generator().manual_seed(seed)
    spec = DataSpec(kind="tokens", shape=(SEQ_LEN,), vocab_size=V)
    return Dataset(
        name="markov2",
        spec=spec,
        train=process.sample(256, g),
        test=process.sample(N_EVAL, g),
        sampler=lambda n, gen: process.sample(n, gen),
    )


def divergence_by_position(model: Any, process: MarkovProcess, x: Any) -> tuple[list[float], list[float]]:
    """Per-position mean KL(p_true || p_model) on the prefixes of x, and the share of tokens of x the true
    process forbids (probability 0 given the preceding two)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        logits = model(model.teacher_forcing_inputs(x.to(model.device))).double().cpu()  # (N, T, V)
    log_q = F.log_softmax(logits, dim=-1)
    p = process.conditionals(x)
    kl = (p * (p.clamp_min(1e-300).log() - log_q)).sum(-1)  # (N, T)
    kl = torch.where(p.sum(-1) > 0, kl, torch.zeros_like(kl))
    forbidden = p.gather(-1, x[..., None]).squeeze(-1) <= 0  # (N, T)
    return kl.mean(0).tolist(), forbidden.double().mean(0).tolist()


def error_rates(model: Any, process: MarkovProcess, x: Any) -> dict[str, Any]:
    """On free-running samples x: the forbidden-token rate before and after each sequence's first
    forbidden token (errors begetting errors), and the share of sequences still valid up to t."""
    import torch

    p = process.conditionals(x)
    bad = (p.gather(-1, x[..., None]).squeeze(-1) <= 0)[:, 2:]  # (N, T-2)
    seen = torch.cumsum(bad.long(), 1)
    before = seen - bad.long() == 0  # no error strictly before this position
    after = ~before
    return {
        "err_before": float(bad[before].double().mean()) if bool(before.any()) else float("nan"),
        "err_after": float(bad[after].double().mean()) if bool(after.any()) else float("nan"),
        "valid_by_pos": (seen == 0).double().mean(0).tolist(),
    }


def train_scheduled_sampling(model: Any, data: Any, seed: int, steps: int, p_max: float) -> None:
    """Two-pass scheduled sampling (Mihaylova & Martins 2019) with a linear ramp of the mixing rate."""
    import torch
    import torch.nn.functional as F

    from compute.trainer import batches, seed_everything

    seed_everything(seed)
    g = torch.Generator().manual_seed(seed + 1)
    it = batches(data, BATCH, seed)
    for step in range(steps):
        x, _ = next(it)
        x = x.to(model.device).long()
        inputs = model.teacher_forcing_inputs(x)
        p = p_max * step / max(steps - 1, 1)
        model.train()
        with torch.no_grad():
            probs = F.softmax(model(inputs).float(), dim=-1).cpu()  # (B, T, V): prediction of x_t
            guess = torch.multinomial(probs.view(-1, V), 1, generator=g).view(x.shape).to(model.device)
        swap = (torch.rand(x.shape, generator=g) < p).to(model.device)
        mixed = torch.where(swap, guess, x)  # model tokens in place of some true ones
        mixed_inputs = model.teacher_forcing_inputs(mixed)
        loss = F.cross_entropy(model(mixed_inputs).transpose(1, 2), x)
        model.opt.zero_grad(set_to_none=True)
        loss.backward()
        if model.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), model.config.grad_clip)
        model.opt.step()


class ExposureBias(common.FailureMode):
    slug = "exposure-bias"
    title = "Exposure bias: free-running vs teacher-forced divergence on a known second-order Markov process"

    claim = (
        "A teacher-forced autoregressive model is worse on its own free-running prefixes than on true ones "
        "(exposure bias); a larger model, making fewer early mistakes, narrows that gap."
    )
    prediction = (
        "The small model's KL to the true conditionals on its own samples is at least 1.1x its KL on true "
        "prefixes on every seed; the default-size model's gap (free-running minus teacher-forced KL, in "
        "nats/token) is smaller than the small model's."
    )
    control_text = (
        "The same gap detector (KL on the second set >= 1.1x KL on the first) with the small model on two "
        "independent sets of *true* prefixes, where no exposure can arise: it must not fire."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        a, b = common.per_seed(m, "control", "kl_true_a"), common.per_seed(m, "control", "kl_true_b")
        return common.control_over_seeds(
            [y >= GAP_FACTOR * x for x, y in zip(a, b, strict=True)],
            f"the small model's KL on two sets of true prefixes: {common.pm(a, 4)} and "
            f"{common.pm(b, 4)} nats/token",
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rf, rt = common.per_seed(m, "reproduce", "kl_free"), common.per_seed(m, "reproduce", "kl_tf")
        ff = common.per_seed(m, "fix", "kl_free")
        failure = [f >= GAP_FACTOR * t for f, t in zip(rf, rt, strict=True)]
        ft = common.per_seed(m, "fix", "kl_tf")
        gap_r = [f - t for f, t in zip(rf, rt, strict=True)]
        gap_f = [f - t for f, t in zip(ff, ft, strict=True)]
        fixed = [x < y for x, y in zip(gap_f, gap_r, strict=True)]
        r = m["reproduce"]
        summary = (
            f"the small teacher-forced model's KL to the true conditionals was {common.pm(rt, 3)} nats/token "
            "on "
            f"true prefixes but {common.pm(rf, 3)} on its own samples, with "
            f"{common.pm_pct(r['forbidden'], 2)} forbidden tokens ({common.pm_pct(r['err_before'], 2)} "
            f"before a sequence's first error, {common.pm_pct(r['err_after'], 2)} after it); the "
            "default-size "
            f"model: {common.pm(m['fix']['kl_tf'], 3)} and {common.pm(ff, 3)}, "
            f"{common.pm_pct(m['fix']['forbidden'], 2)} forbidden; the gap (free-running minus "
            f"teacher-forced) {common.pm(gap_r, 4)} nats/token for the small model vs "
            f"{common.pm(gap_f, 4)} for the default-size one"
        )
        ss = m.get("scheduled", {})
        if ss.get("kl_free"):
            summary += (
                f"; scheduled sampling: {common.pm(ss['kl_tf'], 3)} and {common.pm(ss['kl_free'], 3)}, "
                f"{common.pm_pct(ss['forbidden'], 2)} forbidden"
            )
        return common.verdict_over_seeds(m, failure, fixed, summary, "exposure bias")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        steps, seeds = common.budget(scale, FULL_STEPS)
        n_eval = N_EVAL if scale.name == "full" else 200
        process = MarkovProcess(0)
        m: dict[str, Any] = {
            "seeds": seeds,
            "vocab": V,
            "seq_len": SEQ_LEN,
            "control": {"kl_true_a": [], "kl_true_b": []},
        }
        keys = (
            "kl_tf",
            "kl_free",
            "kl_free_late",
            "forbidden",
            "err_before",
            "err_after",
            "kl_tf_by_pos",
            "kl_free_by_pos",
            "valid_by_pos",
        )
        for arm, _ in ARMS:
            m[arm] = {k: [] for k in keys}
        late = SEQ_LEN * 3 // 4
        for seed in seeds:
            data = token_dataset(process, seed)
            true_x = process.sample(n_eval, torch.Generator().manual_seed(60_000 + seed))
            for arm, _ in ARMS:
                model = common.build_model(
                    "char-transformer", data, seed=seed, **(LARGE if arm == "fix" else MODEL)
                )
                if arm == "scheduled":
                    train_scheduled_sampling(model, data, seed, steps, P_MAX)
                else:
                    common.fit(model, data, seed=seed, steps=steps, batch_size=BATCH)
                free_x = model.sample(n_eval, seed=70_000 + seed)
                kl_tf, _ = divergence_by_position(model, process, true_x)
                kl_fr, forb = divergence_by_position(model, process, free_x)
                rates = error_rates(model, process, free_x)
                out = m[arm]
                out["kl_tf"].append(sum(kl_tf[2:]) / (SEQ_LEN - 2))
                out["kl_free"].append(sum(kl_fr[2:]) / (SEQ_LEN - 2))
                out["kl_free_late"].append(sum(kl_fr[late:]) / (SEQ_LEN - late))
                out["forbidden"].append(sum(forb[2:]) / (SEQ_LEN - 2))
                out["err_before"].append(rates["err_before"])
                out["err_after"].append(rates["err_after"])
                out["kl_tf_by_pos"].append(kl_tf)
                out["kl_free_by_pos"].append(kl_fr)
                out["valid_by_pos"].append(rates["valid_by_pos"])
                if arm == "reproduce":
                    true_b = process.sample(n_eval, torch.Generator().manual_seed(65_000 + seed))
                    kl_b, _ = divergence_by_position(model, process, true_b)
                    m["control"]["kl_true_a"].append(out["kl_tf"][-1])
                    m["control"]["kl_true_b"].append(sum(kl_b[2:]) / (SEQ_LEN - 2))
                log(
                    f"seed {seed} {arm}: KL true prefixes {out['kl_tf'][-1]:.4f}, own prefixes "
                    f"{out['kl_free'][-1]:.4f}, forbidden {out['forbidden'][-1]:.4f} (before a first error "
                    f"{rates['err_before']:.4f}, after {rates['err_after']:.4f})"
                )

        return self.report(m=m, steps=steps, n_eval=n_eval, seeds=seeds)

    def report(self, *, m: Any, steps: Any, n_eval: Any, seeds: Any) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        rows = [
            ("KL(p_true || p_model) on true prefixes (teacher forced), nats/token", "kl_tf", 4),
            ("same on the model's own samples (free running)", "kl_free", 4),
            ("free running, last quarter of the sequence", "kl_free_late", 4),
            ("share of sampled tokens the true process forbids", "forbidden", 4),
            ("  ... before the sequence's first forbidden token", "err_before", 4),
            ("  ... after it (errors begetting errors)", "err_after", 4),
        ]
        arm_keys = tuple(a for a, _ in ARMS)
        tables = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds ({steps} steps, {n_eval} sequences)",
                m,
                rows,
                tuple(
                    f"{lab} ({'reproduce' if a == 'reproduce' else 'fix' if a == 'fix' else 'reported'})"
                    for a, lab in ARMS
                ),
                arm_keys,
            ),
            common.seed_table(
                "Per seed",
                m,
                [("KL teacher forced", "kl_tf"), ("KL free running", "kl_free"), ("forbidden", "forbidden")],
                arms=arm_keys,
            ),
        ]
        colours = {"reproduce": "#d62728", "fix": "#2ca02c", "scheduled": "#1f77b4"}
        curves: dict[str, Any] = {}
        styles: dict[str, tuple[str, str]] = {}
        for arm, lab in ARMS:
            curves[f"{lab}: own samples"] = [_smooth(run)[2:] for run in m[arm]["kl_free_by_pos"]]
            curves[f"{lab}: true prefixes"] = [_smooth(run)[2:] for run in m[arm]["kl_tf_by_pos"]]
            styles[f"{lab}: own samples"] = (colours[arm], "-")
            styles[f"{lab}: true prefixes"] = (colours[arm], "--")
        figures = {
            "kl_by_position": common.curve_figure(
                curves,
                "position t",
                "KL(p_true || p_model), nats",
                "Divergence from the true conditionals (solid: own samples, dashed: true prefixes)",
                styles=styles,
            ),
            "valid_prefixes": common.curve_figure(
                {lab: [list(enumerate(run, start=2)) for run in m[arm]["valid_by_pos"]] for arm, lab in ARMS},
                "position t",
                "share of samples with no forbidden token so far",
                "Free-running samples still valid under the true process",
                styles={lab: (colours[arm], "-") for arm, lab in ARMS},
            ),
        }
        recipes = [
            {
                "role": "reproduce",
                "recipe": "char-transformer-text",
                "config": {"dataset": "text", "steps": steps, "seed": 0, "lr": MODEL["lr"]},
            }
        ]
        params = {
            "process": f"sparse order-2 Markov chain, V={V}, {SUCCESSORS} successors per context",
            "seq_len": SEQ_LEN,
            "model": {"name": "char-transformer", "reproduce": MODEL, "fix": LARGE, "scheduled": MODEL},
            "batch": BATCH,
            "steps": steps,
            "seeds": seeds,
            "scheduled_sampling_p_max": P_MAX,
            "eval_sequences": n_eval,
            "recipe_note": "the synthetic process is not a site dataset; the recipe trains the family's "
            "default transformer, teacher forced, on the site's text",
        }
        return self.finish(m, tables, params, figures, recipes)


def _smooth(values: list[float], k: int = 4) -> list[tuple[float, float]]:
    out = []
    for i in range(len(values)):
        lo = max(0, i - k // 2)
        window = values[lo : lo + k]
        out.append((i, sum(window) / len(window)))
    return out
