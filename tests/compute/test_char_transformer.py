"""Char transformer: causal masking, exact normalisation by enumeration, the uniform start, sampling.

Run with ``pytest tests/compute/test_char_transformer.py -p no:django``.
"""

from __future__ import annotations

import itertools
import math

import torch

from compute.families.base import DataSpec
from compute.families.char_transformer import CharTransformer, Config

torch.set_num_threads(1)

SPEC = DataSpec(kind="tokens", shape=(16,), vocab_size=11)


def _model(spec: DataSpec = SPEC, perturb: bool = True, **kw) -> CharTransformer:
    cfg = {"n_layer": 2, "n_head": 2, "n_embd": 32, **kw}
    model = CharTransformer(Config(**cfg), spec, seed=0)
    if perturb:  # the zero head would make every check trivially true
        with torch.no_grad():
            model.head.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(1))
    model.eval()
    return model


def _tokens(n: int, spec: DataSpec = SPEC, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, spec.vocab_size, (n, spec.shape[0]), generator=g)


def test_changing_token_t_leaves_earlier_logits_unchanged() -> None:
    model = _model()
    x = _tokens(3)
    inputs = model.teacher_forcing_inputs(x)  # (3, 16): BOS, x_0 .. x_14
    with torch.no_grad():
        base = model(inputs)  # (3, 16, V)
        for t in range(1, 16):
            changed = inputs.clone()
            changed[:, t] = (changed[:, t] + 1) % SPEC.vocab_size
            diff = (model(changed) - base).abs().amax(dim=(0, 2))  # (16,)
            assert diff[:t].max() < 1e-6, f"input {t} leaks into positions < {t}"
            assert diff[t:].max() > 1e-6, f"input {t} has no effect on its own or later positions"


def test_loss_at_position_t_ignores_later_tokens() -> None:
    model = _model()
    x = _tokens(2)
    with torch.no_grad():
        base = model.teacher_forced_loss_per_position(x)  # (2, 16)
        y = x.clone()
        y[:, 9] = (y[:, 9] + 3) % SPEC.vocab_size
        moved = (model.teacher_forced_loss_per_position(y) - base).abs().amax(0) > 1e-6
    assert not moved[:9].any() and moved[9]


def test_untrained_model_is_exactly_uniform() -> None:
    model = _model(perturb=False)  # the output layer starts at zero
    ll = model.log_likelihood(_tokens(5))
    assert ll.kind == "exact" and ll.values.shape == (5,)
    assert torch.allclose(ll.values, torch.full((5,), 16 * math.log(1 / 11)), atol=1e-4)
    assert abs(model.bits_per_char(_tokens(5)) - math.log2(11)) < 1e-5


def test_probabilities_sum_to_one_over_every_sequence() -> None:
    spec = DataSpec(kind="tokens", shape=(3,), vocab_size=4)  # 4^3 = 64 sequences
    model = _model(spec)
    every = torch.tensor(list(itertools.product(range(4), repeat=3)))
    ll = model.log_likelihood(every)
    assert abs(float(torch.logsumexp(ll.values.double(), 0))) < 1e-5


def test_per_position_losses_add_up_to_the_likelihood() -> None:
    model = _model()
    x = _tokens(4)
    with torch.no_grad():
        per_pos = model.teacher_forced_loss_per_position(x)
    assert per_pos.shape == (4, 16)
    assert torch.allclose(-per_pos.sum(1), model.log_likelihood(x).values, atol=1e-4)


def test_sampling_shape_seed_prompt_and_temperature() -> None:
    model = _model()
    a = model.sample(5, seed=2)
    assert a.shape == (5, 16) and a.dtype == torch.long and a.device.type == "cpu"
    assert torch.equal(a, model.sample(5, seed=2))
    assert int(a.min()) >= 0 and int(a.max()) < SPEC.vocab_size
    prompt = torch.tensor([3, 1, 4])
    b = model.sample(4, seed=0, prompt=prompt)
    assert torch.equal(b[:, :3], prompt.expand(4, 3))
    # Near-zero temperature is greedy: every sample is the same sequence.
    greedy = model.sample(4, seed=0, temperature=1e-4)
    assert (greedy == greedy[0]).all()
    assert model.nfe == 16


def test_learns_a_periodic_sequence() -> None:
    spec = DataSpec(kind="tokens", shape=(24,), vocab_size=5)
    model = CharTransformer(Config(n_layer=1, n_head=2, n_embd=32), spec, seed=0)
    x = (torch.arange(24)[None, :] + torch.arange(32)[:, None]) % 5  # every phase of 0 1 2 3 4 0 1 ...
    for _ in range(150):
        model.train_step(x)
    # After the first character (its phase is uniform: log2 5 bits) the sequence is deterministic.
    assert model.bits_per_char(x) < (math.log2(5) + 0.3 * 23) / 24
    s = model.sample(4, seed=0, temperature=0.5)
    assert ((s[:, 1:] - s[:, :-1]) % 5 == 1).float().mean() > 0.95
