"""Failure-mode experiments: every one runs at SMOKE scale, and every verdict rule is tested on
hand-made measurements (reproduced / not reproduced / the fix fails on one seed)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from compute import experiments
from compute.experiments import failure_modes
from compute.experiments.base import SMOKE
from compute.experiments.failure_modes import common
from tests.compute.experiments.smoke import assert_one_experiment_per_node, smoke

SLUGS = sorted(failure_modes.REGISTRY)
VERDICTS = {"reproduced", "partly-reproduced", "not-reproduced", "not-reproducible"}


def test_every_failure_mode_node_has_an_experiment():
    assert_one_experiment_per_node("failure-modes", "failure-mode", SLUGS)


# --------------------------------------------------------------------------------------------
# SMOKE runs: the pipeline completes and every quantity is computed (not that the effect shows).


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _numbers(v)]
    return []


@pytest.mark.parametrize("slug", SLUGS)
def test_smoke_run_computes_every_metric(slug):
    result = smoke(slug)
    assert result.slug == slug and result.kind == "failure-mode" and result.scale == "smoke"
    assert result.verdict.code in VERDICTS and result.verdict.text
    payload = result.as_dict()  # JSON-safe: NaN/inf would become None
    if slug == "hallucination":
        assert result.verdict.code == "not-reproducible"
        assert "language models" in result.verdict.text
        return
    numbers = _numbers(payload["measurements"])
    assert numbers and all(math.isfinite(x) for x in numbers)
    assert result.tables
    for table in result.tables:
        assert table.rows and all(len(row) == len(table.columns) for row in table.rows)
        for row in table.rows:
            for cell in row:
                text = str(cell).lower()
                assert text not in ("nan", "inf") and "nan ±" not in text and "± nan" not in text, (
                    table,
                    row,
                )
    assert result.figures
    for name, data in result.figures.items():
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "seeds" in result.measurements and len(result.measurements["seeds"]) == SMOKE.seeds
    assert result.verdict.code != "not-reproducible"


@pytest.mark.parametrize("slug", SLUGS)
def test_recipes_validate_against_the_site(slug):
    from atlas.runs import recipes

    result = smoke(slug)
    if slug == "hallucination":
        assert result.recipes == []
        return
    assert result.recipes
    roles = [r["role"] for r in result.recipes]
    assert set(roles) <= {"reproduce", "fix"} and len(roles) == len(set(roles))
    for entry in result.recipes:
        recipe = recipes.get(entry["recipe"])
        _, errors = recipe.validate(entry["config"])
        assert errors == {}, (entry, errors)


# --------------------------------------------------------------------------------------------
# The generic rule.


def test_pair_verdict_rule():
    ok = common.pair_verdict(common.PairOutcome([0, 1, 2], [True] * 3, [True] * 3), "numbers")
    assert ok.code == "reproduced" and "numbers" in ok.text
    none = common.pair_verdict(common.PairOutcome([0, 1, 2], [False] * 3, [True] * 3), "numbers")
    assert none.code == "not-reproduced"
    one = common.pair_verdict(common.PairOutcome([0, 1, 2], [True] * 3, [True, False, True]), "numbers")
    assert one.code == "partly-reproduced" and "fix did not beat it on seed 1" in one.text
    shown = common.pair_verdict(
        common.PairOutcome([0, 1, 2], [True, True, False], [True] * 3), "n", "collapse"
    )
    assert shown.code == "partly-reproduced" and "collapse did not show on seed 2" in shown.text
    assert common.pair_verdict(common.PairOutcome([], [], []), "n").code == "not-reproduced"


def test_pair_verdict_states_n_once_and_never_plus_minus_zero():
    one = common.pair_verdict(common.PairOutcome([0], [True], [True]), f"KL {common.pm([0.5], 3)}")
    assert "n = 1 seed per mean" in one.text and "± 0" not in one.text and "KL 0.500" in one.text
    grid = common.pair_verdict(common.PairOutcome(["a/0", "b/0"], [True] * 2, [True] * 2), "x", per_mean=1)
    assert "n = 1 seed per mean" in grid.text


# --------------------------------------------------------------------------------------------
# Hand-made measurements per experiment: (builder of measurements for per-seed failure/fix flags).
# Each builder returns measurements in which seed i shows the failure iff fail[i] and the fix beats
# it iff fix[i].


def _mode_collapse(fail, fix):
    m = {
        "seeds": [0, 1, 2],
        "datasets": ["grid25", "ring8"],
        "fix_name": "the non-saturating GAN",
        "reproduce": {},
        "fix": {},
        "control": {},
    }
    for ds, k in (("grid25", 25), ("ring8", 8)):
        m["reproduce"][f"{ds}_counted"] = [3 if f else k for f in fail]
        m["reproduce"][f"{ds}_hq"] = [0.95] * 3
        m["reproduce"][f"{ds}_diagnosis"] = ["collapse" if f else "meets" for f in fail]
        m["fix"][f"{ds}_counted"] = [k if x else 2 for x in fix]
        m["fix"][f"{ds}_hq"] = [0.9 if x else 0.1 for x in fix]
        m["fix"][f"{ds}_diagnosis"] = ["meets" if x else "collapse" for x in fix]
        m["control"][f"{ds}_exact"] = ["meets"] * 3
        m["control"][f"{ds}_noise"] = ["noise"] * 3
    return m


def test_mode_collapse_does_not_call_divergence_collapse():
    from compute.experiments.failure_modes.mode_collapse import ModeCollapse

    m = _mode_collapse([True] * 3, [True] * 3)
    for ds in m["datasets"]:
        m["reproduce"][f"{ds}_diagnosis"] = ["divergence", "noise", "divergence"]
        m["reproduce"][f"{ds}_counted"] = [0] * 3
    assert ModeCollapse.verdict(m).code == "not-reproduced"


def test_mode_collapse_control_fails_when_the_judge_calls_exact_samples_collapse():
    from compute.experiments.failure_modes.mode_collapse import ModeCollapse

    m = _mode_collapse([True] * 3, [True] * 3)
    assert ModeCollapse.control(m)[0]
    m["control"]["ring8_exact"] = ["meets", "collapse", "meets"]
    assert not ModeCollapse.control(m)[0]


def _posterior(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "reproduce": {
            "kl": [0.001 if f else 0.8 for f in fail],
            "active_units": [0 if f else 2 for f in fail],
            "recon_mode_match": [0.04 if f else 0.3 for f in fail],
        },
        "fix": {
            "kl": [1.2] * 3,
            "active_units": [2 if x else 0 for x in fix],
            "recon_mode_match": [0.3 if x else 0.02 for x in fix],
        },
        "control": {"kl": [2.0] * 3, "active_units": [2] * 3, "recon_mode_match": [0.5] * 3},
    }


def _pfb(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "reproduce": {"negatives_tv": [0.4 if f else 0.05 for f in fail], "kl": [0.5] * 3},
        "fix": {"negatives_tv": [0.1] * 3, "kl": [0.25 if x else 0.7 for x in fix]},
        "control": {"negatives_tv": [0.03] * 3},
    }


def _explosion(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "alpha": 0.1,
        "reproduce": {
            "peak_abs_energy": [1e6 if f else 8.0 for f in fail],
            "nan_step": [None] * 3,
            "modes": [0 if f else 8 for f in fail],
        },
        "fix": {
            "peak_abs_energy": [9.0 if x else 1e5 for x in fix],
            "nan_step": [None] * 3,
            "modes": [8 if x else 0 for x in fix],
        },
    }


def _lvq(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "base": {"nll_bpd": [2.1] * 3, "fd": [1.5] * 3, "precision": [0.85] * 3},
        "reproduce": {
            "nll_bpd": [2.2 if f else 4.5 for f in fail],
            "fd": [80.0 if x else 1.0 for x in fix],
            "precision": [0.0 if x else 0.9 for x in fix],
        },
        "fix": {"nll_bpd": [4.0] * 3, "fd": [2.0] * 3, "precision": [0.8] * 3},
    }


def _ood(fail, fix):
    sets = ["constant", "noise"]
    m = {"seeds": [0, 1, 2], "ood_sets": sets, "reproduce": {}, "fix": {}}
    m["reproduce"]["auroc_constant"] = [0.1 if f else 0.9 for f in fail]
    m["reproduce"]["auroc_noise"] = [1.0] * 3
    m["fix"]["auroc_constant"] = [0.95 if x else 0.3 for x in fix]
    m["fix"]["auroc_noise"] = [1.0] * 3
    m["control"] = {"auroc_heldout": [0.48, 0.55, 0.5]}
    return m


def _schedule(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "nfe": 50,
        "reproduce": {
            "tv": [0.57 if f else 0.05 for f in fail],
            "abar_T": [0.6] * 3,
            "centre_share": [0.28] * 3,
            "modes": [25] * 3,
            "hq": [0.95] * 3,
        },
        "fix": {
            "tv": [0.06 if x else 0.6 for x in fix],
            "abar_T": [6e-8] * 3,
            "centre_share": [0.05] * 3,
            "modes": [25] * 3,
            "hq": [0.8] * 3,
            "diagnosis": ["meets"] * 3,
        },
        "control": {"tv": [0.04] * 3},
    }


def _cfg(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "guidance": [1.0, 12.0],
        "w_cap": 2.0,
        "data_saturation": 0.1,
        "reproduce": {
            "sat_high": [0.4 if f else 0.1 for f in fail],
            "recall_high": [0.1] * 3,
            "precision_high": [0.8] * 3,
            "saturation_by_w": [[0.1, 0.4]] * 3,
        },
        "fix": {
            "sat_high": [0.11 if x else 0.6 for x in fix],
            "recall_high": [0.3 if x else 0.05 for x in fix],
            "precision_high": [0.8] * 3,
        },
        "dynamic": {"sat_high": [0.01] * 3, "recall_high": [0.05] * 3},
    }


def _exposure(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "reproduce": {
            "kl_tf": [0.01] * 3,
            "kl_free": [0.05 if f else 0.01 for f in fail],
            "forbidden": [0.02] * 3,
            "err_before": [0.01] * 3,
            "err_after": [0.03] * 3,
        },
        "fix": {"kl_tf": [0.01] * 3, "kl_free": [0.005 if x else 0.2 for x in fix], "forbidden": [0.005] * 3},
        "scheduled": {"kl_tf": [0.1] * 3, "kl_free": [0.2] * 3, "forbidden": [0.1] * 3},
        "control": {"kl_true_a": [0.01] * 3, "kl_true_b": [0.0102] * 3},
    }


def _model_collapse(fail, fix):
    rv = [[0.95, 0.7] if f else [0.95, 0.96] for f in fail]
    rd = [[0.001, 0.01]] * 3
    fv = [[0.95, 0.97] if x else [0.95, 0.5] for x in fix]
    fd = [[0.001, 0.002] if x else [0.001, 0.05] for x in fix]
    tails = [[0.07, 0.05]] * 3
    return {
        "seeds": [0, 1, 2],
        "reproduce": {"var_by_gen": rv, "tail_by_gen": tails, "mmd_by_gen": rd},
        "fix": {"var_by_gen": fv, "tail_by_gen": tails, "mmd_by_gen": fd},
    }


def _bias(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "temperatures": [1.0, 0.8],
        "data_minority_share": 0.2,
        "reproduce": {"minority_t1": [0.2] * 3, "minority_low": [0.08 if f else 0.2 for f in fail]},
        "fix": {"minority_t1": [0.5] * 3, "minority_low": [0.5 if x else 0.1 for x in fix]},
    }


def _memorisation(fail, fix):
    return {
        "seeds": [0, 1, 2],
        "tiny": 32,
        "full_n": 1437,
        "reproduce": {"copy_share": [0.9 if f else 0.01 for f in fail], "median_ratio": [0.1] * 3},
        "fix": {
            "copy_share": [0.0 if x else 0.95 for x in fix],
            "median_ratio": [1.0 if x else 0.05 for x in fix],
        },
        "control": {"copy_share": [0.0] * 3},
    }


BUILDERS = {
    "mode-collapse": _mode_collapse,
    "posterior-collapse": _posterior,
    "partition-function-bias": _pfb,
    "energy-explosion": _explosion,
    "likelihood-vs-quality": _lvq,
    "ood-likelihood": _ood,
    "schedule-mismatch": _schedule,
    "cfg-oversaturation": _cfg,
    "exposure-bias": _exposure,
    "model-collapse": _model_collapse,
    "bias-amplification": _bias,
    "memorisation": _memorisation,
}


def test_every_reproducible_experiment_has_a_verdict_test():
    assert set(BUILDERS) == set(SLUGS) - {"hallucination"}


@pytest.mark.parametrize("slug", sorted(BUILDERS))
def test_verdict_rule_on_hand_made_measurements(slug):
    rule = type(experiments.get(slug)).verdict
    build = BUILDERS[slug]
    seeds_all, none = [True] * 3, [False] * 3

    reproduced = rule(build(seeds_all, seeds_all))
    assert reproduced.code == "reproduced", reproduced.text

    absent = rule(build(none, seeds_all))
    assert absent.code == "not-reproduced", absent.text

    one_fails = rule(build(seeds_all, [True, False, True]))
    assert one_fails.code == "partly-reproduced", one_fails.text
    assert "did not beat it on seed" in one_fails.text
    # the sentence carries the measured numbers
    assert any(ch.isdigit() for ch in reproduced.text) and "±" in reproduced.text


@pytest.mark.parametrize("slug", sorted(BUILDERS))
def test_negative_control_is_rejected_on_hand_made_measurements(slug):
    rejected, text = type(experiments.get(slug)).control(BUILDERS[slug]([True] * 3, [True] * 3))
    assert rejected and text.startswith("rejected"), text


@pytest.mark.parametrize("slug", sorted(BUILDERS))
def test_smoke_record_carries_claim_prediction_control_and_both_outcomes(slug):
    evidence = smoke(slug).as_dict()["evidence"]
    for key in ("claim", "prediction", "outcome", "control", "control_outcome"):
        assert isinstance(evidence[key], str) and len(evidence[key]) > 20, (key, evidence)
    assert isinstance(evidence["control_rejected"], bool)


def test_a_control_that_passes_the_rule_withdraws_the_verdict():
    from compute.experiments.failure_modes.schedule_mismatch import ScheduleMismatch

    exp = experiments.get("schedule-mismatch")
    m = _schedule([True] * 3, [True] * 3)
    assert exp.evidence(m, ScheduleMismatch.verdict(m)).control_rejected
    m["control"]["tv"] = [0.04, 0.3, 0.04]  # the detector fires on exact samples: no evidence
    result = exp.finish(m, [], {}, {}, [])
    assert result.verdict.code == "not-reproduced" and "Withdrawn" in result.verdict.text


def test_bias_fix_is_judged_on_amplification_not_on_the_minority_share():
    from compute.experiments.failure_modes.bias_amplification import BiasAmplification

    m = _bias([True] * 3, [True] * 3)
    m["fix"]["minority_low"] = [0.3] * 3  # above the data's 20 %, yet 50/50 data sharpened to 70/30
    assert BiasAmplification.verdict(m).code == "partly-reproduced"


def test_exposure_fix_is_judged_on_the_gap_not_on_free_running_kl():
    from compute.experiments.failure_modes.exposure_bias import ExposureBias

    m = _exposure([True] * 3, [True] * 3)
    m["fix"]["kl_tf"] = [0.001] * 3
    m["fix"]["kl_free"] = [0.045] * 3  # lower free-running KL than the small model's 0.05, larger gap
    assert ExposureBias.verdict(m).code == "partly-reproduced"


def test_ood_rule_ignores_an_auroc_within_chance_of_one_half():
    from compute.experiments.failure_modes.ood_likelihood import OODLikelihood

    m = _ood([True] * 3, [True] * 3)
    m["reproduce"]["auroc_constant"] = [0.45] * 3  # below 0.5, but within 2 SD of chance
    assert OODLikelihood.verdict(m).code == "not-reproduced"


def test_hallucination_verdict_is_not_reproducible_with_the_nodes_reason():
    from compute.experiments.failure_modes.hallucination import Hallucination, node_reason

    reason = node_reason()
    assert "factual" in reason
    verdict = Hallucination.verdict({"reason": reason})
    assert verdict.code == "not-reproducible" and reason in verdict.text


def test_energy_explosion_counts_a_nan_run_as_the_failure():
    from compute.experiments.failure_modes.energy_explosion import EnergyExplosion

    m = _explosion([False] * 3, [True] * 3)
    m["reproduce"]["nan_step"] = [120, None, None]
    m["reproduce"]["peak_abs_energy"] = [float("inf"), 8.0, 8.0]
    verdict = EnergyExplosion.verdict(m)
    assert verdict.code == "partly-reproduced" and "NaN on 1 of 3 seeds" in verdict.text


def test_auroc_and_ood_sets():
    import torch

    from compute.experiments.failure_modes.ood_likelihood import auroc, ood_sets

    assert auroc(torch.zeros(5), torch.ones(5)) == 1.0
    assert auroc(torch.ones(5), torch.zeros(5)) == 0.0
    assert auroc(torch.zeros(5), torch.zeros(5)) == 0.5
    test = torch.rand(20, 1, 8, 8)
    sets = ood_sets(test)
    assert set(sets) == {
        "constant",
        "inverted",
        "noise",
        "natural patches",
        "binarised digits",
        "shrunken digits",
    }
    for x in sets.values():
        assert x.shape == test.shape and float(x.min()) >= 0 and float(x.max()) <= 1


def test_likelihood_mixture_bound_and_memoriser_are_exact():
    import math as m

    import torch

    from compute.experiments.failure_modes.likelihood_vs_quality import (
        LEVELS,
        memoriser_log_prob,
        mixture_log_prob,
    )

    lp = torch.tensor([-90.0, -120.0], dtype=torch.float64)
    mix = mixture_log_prob(lp, 0.01, 64)
    assert bool((mix >= lp + m.log(0.01) - 1e-9).all())
    # a one-pixel "image" space: the memoriser is a normalised distribution over the 17 levels
    train = torch.tensor([[0.0], [1.0]])
    every = torch.arange(LEVELS, dtype=torch.float32)[:, None] / (LEVELS - 1)
    total = torch.logsumexp(memoriser_log_prob(train, every, 0.9), 0)
    assert abs(float(total)) < 1e-9


def test_exposure_bias_process_conditionals_are_normalised():
    import torch

    from compute.experiments.failure_modes.exposure_bias import MarkovProcess

    process = MarkovProcess(0)
    x = process.sample(50, torch.Generator().manual_seed(0))
    p = process.conditionals(x)
    assert torch.allclose(p.sum(-1), torch.ones(50, x.shape[1], dtype=torch.float64))
    assert bool(
        (p.gather(-1, x[..., None]).squeeze(-1) > 0).all()
    )  # the process never emits a forbidden token
