"""Unification experiments: every one runs at SMOKE scale and returns finite measured quantities, a
figure, a verdict and its evidence (claim, prediction, negative control, both outcomes), and its
negative control is rejected by the verdict logic; every verdict rule is tested on hand-made
measurements (a control that passes the rule withdraws "holds"); and the exact identities the
experiments show hold to numerical precision at tiny budgets (AR <-> EBM by enumeration, the DDPM ELBO
as a sum of per-step terms, eps -> velocity on a known Gaussian, the two losses up to 1/t^2)."""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

import pytest
import torch

from compute import datasets, registry
from compute.experiments import unifications
from compute.experiments.unifications import adversarial_distillation as add
from compute.experiments.unifications import ar_diffusion_sequences as ards
from compute.experiments.unifications import ar_ebm
from compute.experiments.unifications import diffusion_as_ebm as dae
from compute.experiments.unifications import diffusion_flow_matching as dfm
from compute.experiments.unifications import diffusion_hvae as hvae
from compute.experiments.unifications import energy_matching as em
from compute.experiments.unifications import latent_diffusion as ldm
from tests.compute.experiments.smoke import assert_one_experiment_per_node, smoke

torch.set_num_threads(1)

SLUGS = sorted(unifications.REGISTRY)
VERDICTS = {"holds", "partly-holds", "fails"}


def test_every_unification_node_has_an_experiment():
    assert_one_experiment_per_node("unifications", "unification", SLUGS)


# --------------------------------------------------------------------------------------------
# SMOKE runs: the pipeline completes and the key quantities are computed (not that the effect shows).

# Per experiment, the measured quantities (paths into measurements["summary"]) that must be finite.
KEY_QUANTITIES: dict[str, list[tuple[str, ...]]] = {
    "diffusion-as-ebm": [
        ("energy", "mmd2_e3"),
        ("unconstrained", "mmd2_e3"),
        ("kl", "0.5"),
        ("kl_control", "0.5"),
        ("log_z", "0.5"),
        ("asym_unconstrained", "0.5"),
        ("asym_energy", "0.5"),
    ],
    "diffusion-flow-matching": [
        ("ddim", "mmd2_e3"),
        ("fm_direct", "mmd2_e3"),
        ("fm_control", "mmd2_e3"),
        ("agreement", "cross"),
        ("agreement", "within"),
        ("control", "cross"),
        ("ddim_euler_max_dev",),
        ("loss_identity_rel_err",),
    ],
    "latent-diffusion-codec-prior": [
        ("pixel", "fd"),
        ("latent", "fd"),
        ("vae_prior", "fd"),
        ("reconstruction", "fd"),
        ("ref_fd",),
        ("latent", "ms_per_sample"),
    ],
    "adversarial-distillation": [
        ("teacher", "1", "mmd2_e3"),
        ("student_add", "1", "mmd2_e3"),
        ("student_distill", "4", "mmd2_e3"),
        ("student_add", "4", "modes_counted"),
    ],
    "energy-matching-fm-ebm": [
        ("eqm", "8", "mmd2_e3"),
        ("fm_euler", "8", "mmd2_e3"),
        ("control", "mmd2_e3"),
        ("descent_fraction",),
        ("control_descent_fraction",),
        ("boltzmann_kl_best",),
        ("fm_kl",),
    ],
    "ar-ebm-bijection": [
        ("log_z_err",),
        ("bellman_err",),
        ("ebm_joint_err",),
        ("misfit_ar",),
        ("misfit_ebm",),
        ("kl_ar_induced",),
        ("nll_gap",),
        ("nll_gap_myopic",),
        ("ancestral_tv",),
    ],
    "diffusion-hierarchical-vae": [
        ("diffusion", "nll"),
        ("diffusion", "nll_mc"),
        ("agreement", "delta"),
        ("agreement", "se"),
        ("control", "delta"),
        ("vae", "nll"),
        ("flow_nll",),
        ("true_nll",),
        ("terms_err",),
    ],
    "ar-diffusion-sequences": [
        ("ar_bpc",),
        ("mdlm_bound_bpc",),
        ("mdlm_l2r_bpc",),
        ("control_bound_bpc",),
        ("judge_bpc_ar",),
    ],
}


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        d = d[p]
    return d


@pytest.mark.parametrize("slug", SLUGS)
def test_smoke_run_returns_numbers_a_figure_and_a_verdict(slug):
    result = smoke(slug)
    assert result.slug == slug and result.kind == "unification" and result.scale == "smoke"
    assert result.verdict.code in VERDICTS and len(result.verdict.text) > 40
    assert result.tables and all(
        t.rows and all(len(r) == len(t.columns) for r in t.rows) for t in result.tables
    )
    assert result.figures and all(png.startswith(b"\x89PNG") for png in result.figures.values())
    json.dumps(result.as_dict(), allow_nan=False)  # JSON-safe
    summary = result.measurements["summary"]
    for path in KEY_QUANTITIES[slug]:
        value = _get(summary, path)
        assert isinstance(value, int | float) and math.isfinite(value), (slug, path, value)
    assert result.params and result.wall_time_s > 0


@pytest.mark.parametrize("slug", SLUGS)
def test_smoke_record_carries_the_claim_prediction_control_and_both_outcomes(slug):
    record = smoke(slug).as_dict()["evidence"]
    for key in ("claim", "prediction", "outcome", "control", "control_outcome"):
        assert isinstance(record[key], str) and len(record[key]) > 10, (slug, key)
    assert all(line.endswith("identity (holds by construction)") for line in record["identities"])
    text = smoke(slug).verdict.text
    assert "Prediction" in text and "negative control" in text  # the page's sentence names both outcomes


@pytest.mark.parametrize("slug", SLUGS)
def test_smoke_negative_control_is_rejected_by_the_verdict_logic(slug):
    result = smoke(slug)
    module = importlib.import_module(
        f"compute.experiments.unifications.{unifications.REGISTRY[slug].split(':')[0]}"
    )
    recomputed = module.evidence(result.measurements["summary"])  # the verdict logic on the measured numbers
    assert recomputed.control_rejected and result.evidence.control_rejected, (
        slug,
        recomputed.control_outcome,
    )


def test_smoke_identities_hold_inside_the_experiments():
    s = smoke("ar-ebm-bijection").measurements["summary"]
    assert s["log_z_err"] < 1e-6 and s["bellman_err"] < 1e-6 and s["ebm_joint_err"] < 1e-6
    s = smoke("diffusion-hierarchical-vae").measurements["summary"]
    assert s["terms_err"] < 1e-4
    s = smoke("diffusion-flow-matching").measurements["summary"]
    assert s["loss_identity_rel_err"] < 1e-4 and s["ddim_euler_max_dev"] < 1e-3
    s = smoke("diffusion-as-ebm").measurements["summary"]
    assert max(s["asym_energy"].values()) < 1e-4 < max(s["asym_unconstrained"].values())


# --------------------------------------------------------------------------------------------
# Identities at tiny budgets.


def _random_ar(vocab: int, length: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(*([vocab] * (t + 1)), generator=g, dtype=torch.float64).log_softmax(-1)
        for t in range(length)
    ]


def test_ar_partition_function_is_one_and_soft_bellman_recovers_the_conditionals():
    conds = _random_ar(3, 5, 0)
    logp = ar_ebm.joint_from_conditionals(conds)
    assert abs(float(torch.logsumexp(logp.reshape(-1), 0))) < 1e-12
    recovered, log_z = ar_ebm.soft_bellman(-logp + 2.5)  # any additive constant
    assert abs(float(log_z) + 2.5) < 1e-12
    for a, b in zip(recovered, conds, strict=True):
        assert float((a - b).abs().max()) < 1e-12


def test_soft_bellman_turns_any_energy_into_its_boltzmann_distribution():
    energy = 3 * torch.randn(4, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    conds, log_z = ar_ebm.soft_bellman(energy)
    assert float((torch.logsumexp(conds[-1], -1)).abs().max()) < 1e-12  # every conditional normalised
    joint = ar_ebm.joint_from_conditionals(conds)
    assert float((joint - (-energy - torch.logsumexp(-energy.reshape(-1), 0))).abs().max()) < 1e-12
    assert abs(float(log_z) - float(torch.logsumexp(-energy.reshape(-1), 0))) < 1e-12


def test_transformer_conditionals_enumerate_a_normalised_model():
    from compute.families.base import DataSpec

    spec = DataSpec(kind="tokens", shape=(4,), vocab_size=3)
    model = registry.build("char-transformer", spec, seed=0, n_layer=1, n_head=2, n_embd=16)
    torch.nn.init.normal_(
        model.head.weight, std=0.5, generator=torch.Generator().manual_seed(0)
    )  # not uniform
    conds = ar_ebm.transformer_conditionals(model, 3, 4)
    logp = ar_ebm.joint_from_conditionals(conds)
    assert abs(float(torch.logsumexp(logp.reshape(-1), 0))) < 1e-6
    seqs = ar_ebm.all_sequences(3, 4)
    direct = model.log_likelihood(seqs).values.double()  # the family's own exact likelihood
    assert float((direct - logp.reshape(-1)).abs().max()) < 1e-5
    recovered, _ = ar_ebm.soft_bellman(-logp)
    assert max(float((a - b).abs().max()) for a, b in zip(recovered, conds, strict=True)) < 1e-6


def test_token_coding_round_trips():
    cells = torch.cartesian_prod(torch.arange(64), torch.arange(64))
    tokens = ar_ebm.cells_to_tokens(cells)
    assert tokens.max() < 4 and torch.equal(ar_ebm.tokens_to_cells(tokens), cells)
    assert torch.equal(ar_ebm._flat_index(ar_ebm.all_sequences(4, 3), 4), torch.arange(64))


def _tiny_diffusion(T: int = 20, steps: int = 5) -> Any:
    ring = datasets.load("ring8")
    model = registry.build(
        "diffusion", ring.spec, seed=0, T=T, hidden=16, depth=2, time_dim=16, fourier_features=8
    )
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        model.train_step(ring.sample(64, g))
    return model, ring


def test_diffusion_elbo_is_the_sum_of_its_per_step_terms_and_a_vae_elbo():
    model, ring = _tiny_diffusion()
    x = ring.test[:1000]
    terms = model.elbo_terms(x)
    assert terms.kl.shape == (1000, model.config.T - 1)
    manual = -(terms.decoder + terms.kl.sum(1) + terms.prior) + terms.log_det
    assert float((manual - model.log_likelihood(x).values).abs().max()) < 1e-4
    # the generic VAE estimator (sampled latent chain, no KL formula) has the same expectation
    mc = hvae.trajectory_elbo(model, x, torch.Generator().manual_seed(3))
    se = float(mc.std() / math.sqrt(len(mc)))
    assert abs(float(mc.mean()) - float(manual.mean())) < 5 * se + 1e-3


def test_elbo_weights_match_the_kl_of_eps_errors():
    model, _ = _tiny_diffusion()
    w = hvae.elbo_weights(model)  # KL_t = w_t ||eps - eps_hat||^2 for posterior variance
    t = 7
    ab, c1 = model.schedule.alpha_bar[t].double(), model.schedule.c1[t].double()
    e = torch.tensor([0.3, -0.4], dtype=torch.float64)
    dx0 = (1 - ab).sqrt() / ab.sqrt() * e  # x0 - x0_hat for an eps error e
    kl = (c1 * dx0).pow(2).sum() / (2 * model.schedule.posterior_var[t].double())
    assert abs(float(kl) - float(w[t - 2] * e.pow(2).sum())) < 1e-6 * float(kl)


def test_eps_to_velocity_matches_the_analytic_velocity_of_a_gaussian():
    mu, s = torch.tensor([0.7, -1.2], dtype=torch.float64), 0.5
    g = torch.Generator().manual_seed(0)
    y = torch.randn(500, 2, generator=g, dtype=torch.float64)
    t = 0.01 + 0.98 * torch.rand(500, generator=g, dtype=torch.float64)
    x_vp, alpha, sigma = dfm.linear_to_vp(y, t)
    assert torch.allclose(alpha / (alpha + sigma), t, atol=1e-12)
    a, sg = alpha[:, None], sigma[:, None]
    eps_star = sg * (x_vp - a * mu) / (a**2 * s**2 + sg**2)  # E[eps | x_vp] for x ~ N(mu, s^2 I)
    v = dfm.eps_to_velocity(y, t, eps_star)
    tb = t[:, None]
    var = tb**2 * s**2 + (1 - tb) ** 2
    v_star = (mu + tb * s**2 * (y - tb * mu) / var) - (1 - tb) * (y - tb * mu) / var  # E[x - eps | y]
    assert float((v - v_star).abs().max()) < 1e-10
    assert float((dfm.velocity_to_eps(y, t, v) - eps_star).abs().max()) < 1e-10


def test_flow_matching_loss_is_the_eps_loss_weighted_by_one_over_t_squared():
    g = torch.Generator().manual_seed(0)
    x, eps, eps_hat = (torch.randn(256, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t = 0.01 + 0.98 * torch.rand(256, generator=g, dtype=torch.float64)
    y = t[:, None] * x + (1 - t[:, None]) * eps
    v_hat = dfm.eps_to_velocity(y, t, eps_hat)
    l_fm, l_eps = (x - eps - v_hat).pow(2).sum(1), (eps - eps_hat).pow(2).sum(1)
    lam = 2 * (t.log() - (-t).log1p())
    assert torch.allclose(l_fm, dfm.fm_weight(lam) * l_eps, rtol=1e-10)


def test_ddim_is_euler_on_the_converted_velocity():
    model, _ = _tiny_diffusion(T=50)
    conv = dfm.ConvertedFlow(model)
    for s in (1, 7, 50):  # integer steps map back to themselves
        assert abs(float(conv.step_of(conv.t_of_step[s : s + 1])) - s) < 1e-3
    ddim = model.sample(300, sampler="ddim", nfe=10, seed=4)
    euler = conv.sample_euler_on_ddim_grid(300, 10, seed=4)
    assert float((ddim - euler).abs().max()) < 1e-3
    heun = conv.sample_fm(300, 20, "heun", seed=4)  # the flow-matching family's integrator runs it
    assert torch.isfinite(heun).all() and heun.shape == (300, 2)


def test_energy_parameterised_score_is_conservative_and_the_mlp_is_not():
    model, _ = _tiny_diffusion()
    net = dae.EnergyEpsNet(2, 16, 2, 16, 8, 3.0, (1 - model.schedule.alpha_bar.double()).sqrt())
    z, t = torch.randn(200, 2), torch.full((200,), 0.4)
    assert dae.jacobian_asymmetry(lambda u: net(u, t), z) < 1e-5
    assert dae.jacobian_asymmetry(lambda u: model.net(u, t), z) > 1e-2
    # the score is minus the gradient of the energy: eps = sigma_t grad E
    zz = z.clone().requires_grad_(True)
    (grad_e,) = torch.autograd.grad(net.energy(zz, t).sum(), zz)
    sigma = net._sigma(t)[:, None]
    assert torch.allclose(net(z, t), sigma * grad_e, atol=1e-5)


def test_masked_diffusion_left_to_right_reading_is_a_normalised_model():
    from compute.families.char_transformer import Config

    md = ards.MaskedDiffusionLM(Config(n_layer=1, n_head=2, n_embd=16), vocab=3, seq_len=4, seed=0)
    torch.nn.init.normal_(md.head.weight, std=0.5, generator=torch.Generator().manual_seed(0))
    seqs = ar_ebm.all_sequences(3, 4)
    assert abs(float(torch.logsumexp(-md.l2r_nll(seqs), 0))) < 1e-6
    bound, _ = md.nelbo(seqs, 4)
    assert torch.isfinite(bound).all() and (bound > 0).all()
    x = md.sample(5, 2, seed=0)
    assert x.shape == (5, 4) and x.max() < 3  # every position decoded, no mask left


def test_eqm_target_and_step_size():
    gamma = torch.tensor([0.0, 0.5, 0.8, 0.9, 1.0])
    assert torch.allclose(em.eqm_target_scale(gamma), torch.tensor([4.0, 4.0, 4.0, 2.0, 0.0]))
    assert em.step_size(4) <= 0.35 / em.GRAD_SCALE + 1e-12


# --------------------------------------------------------------------------------------------
# Verdict rules on hand-made measurements: each rule is applied to the claim's arm and to its negative
# control; "holds" needs the prediction met and the control rejected (a passing control withdraws it).


def _q(
    mmd: float, modes: float = 8, recall: float = 0.9, tv: float = 0.02, judge: float = 1.0
) -> dict[str, float]:
    return {
        "mmd2_e3": mmd,
        "modes": modes,
        "modes_counted": modes,
        "num_modes": 8,
        "hq": 0.95,
        "recall": recall,
        "tv": tv,
        "spread": 1.0,
        "judge": judge,
    }


def _dae(**kw: Any) -> dict[str, Any]:
    s = {
        "energy": _q(1.0),
        "unconstrained": _q(0.8),
        "kl": {"0.1": 0.05, "0.5": 0.01},
        "kl_control": {"0.1": 2.0, "0.5": 0.3},
        "log_z_finite": True,
        "asym_energy": {"0.1": 1e-7},
        "asym_unconstrained": {"0.1": 0.2},
    }
    return {**s, **kw}


def test_verdict_diffusion_as_ebm_holds_when_the_density_fits_and_the_untrained_control_does_not():
    assert dae.verdict(_dae()).code == "holds"
    assert "20.0 %" in dae.verdict(_dae()).text
    assert dae.evidence(_dae()).control_rejected


def test_verdict_diffusion_as_ebm_fails_on_a_density_off_by_more_than_the_threshold():
    assert dae.verdict(_dae(kl={"0.1": 0.5, "0.5": 0.01})).code == "fails"
    assert dae.verdict(_dae(log_z_finite=False)).code == "fails"


def test_verdict_diffusion_as_ebm_is_withdrawn_when_the_control_passes():
    assert dae.verdict(_dae(kl_control={"0.1": 0.05})).code == "partly-holds"


def test_verdict_diffusion_as_ebm_rejects_blurred_energy_samples_as_good_as():
    assert dae.verdict(_dae(energy=_q(1.0, judge=0.0))).code == "partly-holds"


def _agree(
    cross: float, within: float = 0.1, same: float = 0.9, same_within: float = 0.92
) -> dict[str, float]:
    return {"cross": cross, "within": within, "same_mode_cross": same, "same_mode_within": same_within}


def _dfm(**kw: Any) -> dict[str, Any]:
    s = {
        "loss_identity_rel_err": 1e-6,
        "ddim_euler_max_dev": 1e-5,
        "agreement": _agree(0.12),
        "control": _agree(0.3),
        "ddim": _q(1.0),
        "fm_direct": _q(1.2),
    }
    return {**s, **kw}


def test_verdict_diffusion_flow_matching():
    assert dfm.verdict(_dfm()).code == "holds"
    assert dfm.verdict(_dfm(fm_direct=_q(5.0))).code == "partly-holds"
    assert dfm.verdict(_dfm(fm_direct=_q(1.0, judge=0.0))).code == "partly-holds"  # blurred flow
    assert dfm.verdict(_dfm(agreement=_agree(0.3))).code == "fails"  # fields apart beyond seed spread
    assert dfm.verdict(_dfm(agreement=_agree(0.12, same=0.5))).code == "fails"  # different modes
    assert dfm.verdict(_dfm(control=_agree(0.12))).code == "partly-holds"  # control passes: withdrawn


def test_the_converted_field_rule_ignores_the_identities():
    # the loss identity and DDIM = Euler are shown, not judged: breaking them does not change the code
    assert dfm.verdict(_dfm(loss_identity_rel_err=0.1)).code == "holds"


def _ld(**kw: Any) -> dict[str, Any]:
    s = {
        "latent_dim": 8,
        "ref_fd": 0.25,
        "latent": {"fd": 1.2, "ms_per_sample": 0.1, "params": 4e4},
        "pixel": {"fd": 1.7, "ms_per_sample": 0.3, "params": 2e5},
        "vae_prior": {"fd": 2.7},
        "reconstruction": {"fd": 0.8},
    }
    return {**s, **kw}


def test_verdict_latent_diffusion():
    assert ldm.verdict(_ld()).code == "holds"
    assert ldm.verdict(_ld(latent={"fd": 1.2, "ms_per_sample": 0.5, "params": 4e4})).code == "partly-holds"
    assert ldm.verdict(_ld(latent={"fd": 3.0, "ms_per_sample": 0.1, "params": 4e4})).code == "fails"
    assert (
        ldm.verdict(_ld(latent={"fd": 0.3, "ms_per_sample": 0.1, "params": 4e4})).code == "fails"
    )  # beats codec
    assert ldm.verdict(_ld(vae_prior={"fd": 1.5})).code == "partly-holds"  # control passes: withdrawn


def _add(**kw: Any) -> dict[str, Any]:
    s = {
        "teacher": {"1": _q(300), "2": _q(200), "4": _q(50), "128": _q(1.0)},
        "teacher_max": "128",
        "student_add": {"1": _q(2.0, recall=0.7), "2": _q(1.5), "4": _q(1.8)},
        "student_distill": {"1": _q(290.0), "2": _q(190.0), "4": _q(60.0)},
    }
    return {**s, **kw}


def test_verdict_adversarial_distillation():
    assert add.verdict(_add()).code == "holds"
    assert add.verdict(_add(student_add={k: _q(20.0) for k in ("1", "2", "4")})).code == "partly-holds"
    assert (
        add.verdict(_add(student_add={k: _q(2.0, judge=0.0) for k in ("1", "2", "4")})).code == "partly-holds"
    )
    assert add.verdict(_add(student_add={**_add()["student_add"], "4": _q(40.0)})).code == "fails"
    passing_control = {k: _q(2.0) for k in ("1", "2", "4")}
    assert add.verdict(_add(student_distill=passing_control)).code == "partly-holds"


def _em(**kw: Any) -> dict[str, Any]:
    s = {
        "k_max": "64",
        "eqm": {"64": _q(1.0)},
        "fm_euler": {"64": _q(0.8)},
        "control": _q(300.0, modes=0),
        "descent_fraction": 0.99,
        "control_descent_fraction": 0.99,
        "grad_ratio": 0.05,
        "boltzmann_kl_best": 1.5,
        "fm_kl": 0.3,
    }
    return {**s, **kw}


def test_verdict_energy_matching():
    assert em.verdict(_em(boltzmann_kl_best=0.5)).code == "holds"
    assert em.verdict(_em()).code == "partly-holds"  # a sampler, but not a calibrated density
    sharpened = {**_q(1.0, judge=0.0), "spread": 0.3}
    assert em.verdict(_em(boltzmann_kl_best=0.5, eqm={"64": sharpened})).code == "partly-holds"
    assert em.verdict(_em(eqm={"64": _q(1.0, modes=6)})).code == "fails"
    assert em.verdict(_em(descent_fraction=0.5)).code == "fails"
    assert em.verdict(_em(boltzmann_kl_best=0.5, control=_q(1.0))).code == "partly-holds"  # withdrawn


def _arebm(**kw: Any) -> dict[str, Any]:
    s = {
        "log_z_err": 1e-15,
        "bellman_err": 1e-14,
        "ebm_joint_err": 1e-14,
        "bellman_log_z_err": 0.0,
        "misfit_ar": 0.02,
        "misfit_ebm": 0.01,
        "kl_ar_induced": 0.04,
        "ar_test_nll": 3.2,
        "ebm_test_nll": 3.19,
        "myopic_test_nll": 40.0,
        "nll_gap": -0.01,
        "nll_gap_se": 0.005,
        "nll_gap_myopic": 37.0,
        "nll_gap_myopic_se": 0.5,
        "mcmc_tv_last": 0.8,
        "mcmc_steps_last": 1000,
        "ancestral_tv": 0.02,
        "bellman_evals": 4096,
    }
    return {**s, **kw}


def test_verdict_ar_ebm():
    assert ar_ebm.verdict(_arebm()).code == "holds"
    assert "beyond the misfits" in ar_ebm.verdict(_arebm()).text  # 0.04 > 0.02 + 0.01: reported, not judged
    assert ar_ebm.verdict(_arebm(nll_gap=0.2)).code == "fails"
    assert ar_ebm.verdict(_arebm(nll_gap_myopic=0.0)).code == "partly-holds"  # control passes: withdrawn


def test_the_ar_ebm_verdict_does_not_rest_on_the_identities():
    assert ar_ebm.verdict(_arebm(log_z_err=0.1, bellman_err=0.1)).code == "holds"


def test_myopic_normaliser_is_a_normalised_ar_model_other_than_the_boltzmann_one():
    energy = 3 * torch.randn(4, 4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    joint = ar_ebm.joint_from_conditionals(ar_ebm.myopic_conditionals(energy))
    assert abs(float(torch.logsumexp(joint.reshape(-1), 0))) < 1e-12
    boltzmann = -energy - torch.logsumexp(-energy.reshape(-1), 0)
    assert ar_ebm.kl(boltzmann.reshape(-1), joint.reshape(-1)) > 0.05


def test_true_cell_probabilities_of_ring8_sum_to_one_and_match_the_data():
    ring = datasets.load("ring8")
    log_p = ar_ebm.true_cell_log_probs(ring, 64)
    assert abs(float(log_p.exp().sum()) - 1) < 1e-9
    cells = datasets.quantize(ring.test, ring.spec.bounds, 64)
    counts = torch.zeros(64, 64).index_put_(
        (cells[:, 0], cells[:, 1]), torch.ones(len(cells)), accumulate=True
    )
    assert 0.5 * float((counts / counts.sum() - log_p.exp()).abs().sum()) < 0.1


def _hv(**kw: Any) -> dict[str, Any]:
    s = {
        "T": 1000.0,
        "terms_err": 0.0,
        "agreement": {"delta": 0.05, "se": 0.1, "gap_true": 5.0},
        "control": {"delta": 4.0, "se": 0.1, "gap_true": 9.0},
        "diffusion": {"nll": 2.7, "nll_mc": 2.75, "kl_last": 0.5},
        "gap_true": 5.6,
        "gap_se": 0.05,
        "true_nll": -2.9,
        "vae": {"nll": 1.2},
        "flow_label": "RealNVP's exact NLL",
        "flow_nll": 0.0,
        "weight_span_decades": 5.0,
        "top_weight_ratio": 900.0,
    }
    return {**s, **kw}


def test_verdict_diffusion_hierarchical_vae():
    assert hvae.verdict(_hv()).code == "holds"
    assert hvae.verdict(_hv(agreement={"delta": 0.5, "se": 0.1})).code == "fails"  # 5 SE apart
    assert hvae.verdict(_hv(agreement={"delta": 0.05, "se": 1.0})).code == "fails"  # interval too wide
    assert hvae.verdict(_hv(gap_true=-1.0)).code == "fails"  # a "bound" below the truth
    assert hvae.verdict(_hv(control={"delta": 0.1, "se": 0.1, "gap_true": 5.0})).code == "partly-holds"


def test_the_hvae_verdict_does_not_rest_on_the_same_function_twice():
    assert hvae.verdict(_hv(terms_err=0.1)).code == "holds"  # the residual is an identity, shown only


def test_a_mismatched_encoder_shifts_the_generic_elbo_estimate():
    model, ring = _tiny_diffusion(T=50, steps=20)
    x = ring.test[:500]
    right = hvae.trajectory_elbo(model, x, torch.Generator().manual_seed(1))
    wrong = hvae.trajectory_elbo(model, x, torch.Generator().manual_seed(1), noise_scale=1.5)
    assert float((right - wrong).mean()) > 5 * float((right - wrong).std()) / math.sqrt(len(x))


def _seq(**kw: Any) -> dict[str, Any]:
    s = {
        "ar_bpc": 2.0,
        "mdlm_bound_bpc": 2.1,
        "mdlm_bound_se_bpc": 0.01,
        "mdlm_l2r_bpc": 2.3,
        "control_bound_bpc": 6.5,
        "control_bound_se_bpc": 0.02,
        "unigram_bpc": 4.5,
        "judge_bpc": {"64": 2.5, "16": 2.6},
        "k_parallel": "16",
        "k_one": "64",
        "judge_bpc_ar": 2.0,
        "tokens_per_nfe_parallel": 4.0,
        "seeds": 1.0,
    }
    return {**s, **kw}


def test_verdict_ar_diffusion_sequences():
    assert ards.verdict(_seq()).code == "holds"
    assert ards.verdict(_seq(mdlm_bound_bpc=2.6)).code == "partly-holds"
    assert ards.verdict(_seq(judge_bpc={"64": 2.5, "16": 3.5})).code == "partly-holds"
    assert ards.verdict(_seq(mdlm_bound_bpc=4.6)).code == "fails"
    assert ards.verdict(_seq(control_bound_bpc=3.0)).code == "partly-holds"  # control passes: withdrawn


def test_one_seed_is_never_printed_as_plus_minus_zero():
    from compute.experiments.base import fmt

    assert "±" not in fmt([2.162], 3) and "n = 1" in fmt([2.162], 3)


def test_as_good_as_accepts_exact_samples_and_rejects_samples_twice_too_wide():
    from compute.experiments.unifications import common

    ring = datasets.load("ring8")
    g = torch.Generator().manual_seed(5)
    exact, other = ring.sample(2000, g), ring.sample(2000, g)
    centre = ring.modes[torch.cdist(other, ring.modes).argmin(1)]
    wide = centre + 2 * (other - centre)
    ref = common.quality_2d(exact, ring, seed=1)
    assert common.as_good_as(common.quality_2d(other, ring, seed=1), ref)
    assert not common.as_good_as(common.quality_2d(wide, ring, seed=1), ref)
