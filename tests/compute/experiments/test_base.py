"""The shared experiment pieces: mean ± std with n, and the negative-control guard."""

from __future__ import annotations

import math

from compute.experiments.base import (
    Evidence,
    ExperimentResult,
    Verdict,
    fmt,
    fmt_pct,
    guard,
    mean_std,
    summarise,
)


def _evidence(rejected: bool) -> Evidence:
    return Evidence("claim", "prediction", "it held", "control", "control gave 3", rejected)


def test_fmt_prints_mean_std_and_n() -> None:
    assert fmt([1.0, 2.0, 3.0]) == "2.00 ± 1.00 (n = 3)"


def test_fmt_never_prints_plus_minus_zero_for_one_seed() -> None:
    assert fmt([0.5], 3) == "0.500 (n = 1)"


def test_fmt_counts_only_finite_values() -> None:
    assert fmt([1.0, float("nan"), None, 3.0]) == "2.00 ± 1.41 (n = 2)"
    assert fmt([float("nan")]) == "n/a"


def test_fmt_pct_scales_fractions() -> None:
    assert fmt_pct([0.1, 0.2], with_n=False) == "15.0 ± 7.1 %"
    assert fmt_pct([0.1]) == "10.0 % (n = 1)"


def test_summarise_gives_nan_std_for_one_value_and_mean_std_keeps_zero() -> None:
    assert math.isnan(summarise([2.0]).std)
    assert mean_std([2.0]) == (2.0, 0.0)


def test_guard_keeps_a_verdict_whose_control_was_rejected() -> None:
    v = Verdict("reproduced", "x")
    assert guard(v, _evidence(rejected=True)) is v


def test_guard_withdraws_a_verdict_whose_control_passed() -> None:
    assert guard(Verdict("reproduced", "x"), _evidence(rejected=False)).code == "not-reproduced"
    assert guard(Verdict("holds", "x"), _evidence(rejected=False)).code == "partly-holds"
    assert guard(Verdict("not-reproduced", "x"), _evidence(rejected=False)).code == "not-reproduced"


def test_result_record_carries_claim_prediction_control_and_both_outcomes() -> None:
    r = ExperimentResult(
        "s", "failure-mode", "t", Verdict("reproduced", "x"), [], {}, {}, evidence=_evidence(True)
    )
    ev = r.as_dict()["evidence"]
    assert ev["claim"] == "claim" and ev["prediction"] == "prediction" and ev["outcome"] == "it held"
    assert ev["control"] == "control" and ev["control_outcome"] == "control gave 3" and ev["control_rejected"]
