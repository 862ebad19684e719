"""A character-level transformer: a small GPT (Radford et al. 2018/2019) in the style of nanoGPT / minGPT.

Causal self-attention (Vaswani et al. 2017, eq. 1: softmax(Q K^T / sqrt(d_k) + M) V with M = -inf above
the diagonal) makes the logits at position t a function of tokens < t only, so the chain rule

    log p(x_1..x_T) = sum_t log p(x_t | x_<t)

is an exact likelihood from one teacher-forced pass. A learned begin-of-sequence token (input id V, never
an output) conditions the first character, so the whole window is scored: ``log_likelihood`` returns
nats per sequence, bits/char = nll / (T ln 2). Sampling runs T network evaluations (no KV cache).

The output layer starts at zero, so an untrained model is exactly uniform: log p = -T log V.
``teacher_forced_loss_per_position`` returns -log p(x_t | x_<t) per position, for exposure-bias studies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from compute.families.base import DataKind, DataSpec, Family, LogLikelihood


@dataclass(frozen=True)
class Config:
    variant: str = "gpt"  # pre-LayerNorm GPT-2 blocks with learned positions
    # Sized for a CPU budget of minutes (one core, bits/char on the test split): 2 x 64 reached 2.14 after
    # 2 min and 2.09 after 3 min; 3 x 64 was behind until 4 min (2.24 / 2.12 / 2.08 at 2 / 3 / 4 min);
    # 3 x 128 was still at 2.86 after 4 min, and dropout 0.1 slowed learning more than it curbed overfitting.
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    lr: float = 3e-3
    weight_decay: float = 0.1  # on matrices only (nanoGPT's split); embeddings and norms are not decayed
    grad_clip: float = 1.0
    batch_size: int = 32  # read by the trainer


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention, (B, T, C) -> (B, T, C); ``causal=False`` drops the mask, so every
    position sees every other (what a masked-diffusion LM built from these blocks needs)."""

    def __init__(self, cfg: Config, causal: bool = True):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.causal = causal
        self.dropout = cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        # (B, T, C) -> (B, h, T, hs): heads attend independently over the sequence
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=self.causal, dropout_p=self.dropout if self.training else 0.0
        )  # (B, h, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x)) (GPT-2 pre-norm residual block)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation of a model with ``blocks`` and a ``head``: N(0, 0.02) weights, zero biases,
    residual projections scaled by 1 / sqrt(2 n_layer) so the stream's variance holds, and a zero head
    so that an untrained model is exactly uniform over the vocabulary."""
    model.apply(_normal_init)
    for name, p in model.named_parameters():
        if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
    nn.init.zeros_(model.head.weight)


def _normal_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def gpt_adamw(model: nn.Module, config: Config, fused: bool | None = None) -> torch.optim.AdamW:
    """nanoGPT's AdamW: weight decay on matrices (dim >= 2) except the token and position embeddings
    (``wte``, ``wpe``); none on biases and LayerNorms."""
    decay, other = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 and not n.startswith(("wte", "wpe")) else other).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.99),
        fused=fused,
    )


class CharTransformer(Family):
    name: ClassVar[str] = "char-transformer"
    family: ClassVar[str] = "autoregressive"
    variants: ClassVar[tuple[str, ...]] = ("gpt",)
    data_kinds: ClassVar[tuple[DataKind, ...]] = ("tokens",)
    Config: ClassVar[type] = Config

    def __init__(self, config: Config, spec: DataSpec, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(config, spec, seed, device)
        if spec.kind != "tokens" or not spec.vocab_size:
            raise ValueError("char-transformer models token data with a vocab_size")
        if config.variant not in self.variants:
            raise ValueError(f"unknown char-transformer variant {config.variant!r}")
        self.V = spec.vocab_size
        self.T = spec.shape[0]
        self.bos = self.V  # input-only id of the begin-of-sequence token
        with torch.random.fork_rng(devices=[]):  # same seed, same weights; the global RNG is left alone
            torch.manual_seed(seed)
            self.wte = nn.Embedding(self.V + 1, config.n_embd)  # tokens + BOS
            self.wpe = nn.Embedding(self.T, config.n_embd)
            self.drop = nn.Dropout(config.dropout)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
            self.ln_f = nn.LayerNorm(config.n_embd)
            self.head = nn.Linear(config.n_embd, self.V, bias=False)
            init_gpt2_weights(self, config.n_layer)
        self.to(self.device)
        # fused: one kernel per step, ~4x faster than foreach on CPU
        self.opt = gpt_adamw(self, config, fused=self.device.type in ("cpu", "cuda"))

    # ------------------------------------------------------------------ the network
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, t) input ids (BOS first), t <= T -> (B, t, V) logits; row s predicts the token after input s"""
        B, t = idx.shape
        pos = torch.arange(t, device=idx.device)
        h = self.drop(self.wte(idx) + self.wpe(pos)[None])  # (B, t, C)
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h))  # (B, t, V)

    def teacher_forcing_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Targets (B, T) -> inputs (B, T): BOS followed by x[:, :-1]; ``self(inputs)[:, t]`` predicts x_t."""
        bos = torch.full_like(x[:, :1], self.bos)
        return torch.cat([bos, x[:, :-1]], dim=1)

    def teacher_forced_loss_per_position(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x_t | x_<t) in nats, (N, T), with the true prefix fed at every position."""
        x = x.to(self.device).long()
        logits = self(self.teacher_forcing_inputs(x))  # (N, T, V)
        return F.cross_entropy(logits.transpose(1, 2), x, reduction="none")  # (N, T)

    # ------------------------------------------------------------------ Family interface
    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.train()
        x = batch.to(self.device).long()
        loss = self.teacher_forced_loss_per_position(x).mean()  # nats per character
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        self.opt.step()
        return {"loss": loss.item(), "bits_per_char": loss.item() / math.log(2)}

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        """Exact log p(x) in nats per sequence (N,); bits/char = -values / (T ln 2)."""
        self.eval()
        return LogLikelihood(values=-self.teacher_forced_loss_per_position(x).sum(1).cpu(), kind="exact")

    def bits_per_char(self, x: torch.Tensor) -> float:
        return -self.log_likelihood(x).values.mean().item() / (x.shape[1] * math.log(2))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        """n sequences (n, T) of token ids on CPU, one network evaluation per generated token.

        Knobs: ``temperature`` (logits / T), ``top_k`` (keep the k likeliest), ``seed``, and ``prompt``:
        token ids (P,) or (n, P) that fix the first P tokens (the rest are generated).
        """
        self.eval()
        temperature = float(knobs.get("temperature", 1.0))
        top_k = knobs.get("top_k")
        seed = knobs.get("seed")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else self.generator
        out = torch.full((n, self.T + 1), self.bos, dtype=torch.long, device=self.device)  # BOS + T tokens
        start = 0
        prompt = knobs.get("prompt")
        if prompt is not None:
            prompt = torch.as_tensor(prompt, dtype=torch.long).to(self.device)
            prompt = prompt.expand(n, -1) if prompt.dim() == 1 else prompt
            start = min(prompt.shape[1], self.T)
            out[:, 1 : 1 + start] = prompt[:, :start]
        for t in range(start, self.T):
            logits = self(out[:, : t + 1])[:, -1] / temperature  # (n, V): the next token after position t
            if top_k is not None:
                kth = torch.topk(logits, min(int(top_k), self.V)).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1).cpu()
            # CPU draws with a CPU generator: the same seed gives the same text on any device.
            out[:, t + 1] = torch.multinomial(probs, 1, generator=g).squeeze(1).to(self.device)
        return out[:, 1:].cpu()

    @property
    def nfe(self) -> int:
        return self.T  # one forward pass per generated character
