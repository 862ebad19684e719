"""A small CNN classifier of scikit-learn's 8x8 digits, used as the feature space of the digit
metrics (the role Inception-v3 plays for FID, Heusel et al. 2017, on natural images).

Trained once, deterministically (seed 0, CPU, a few seconds), on the digits *train* split and
cached under ``ATLAS_CACHE_DIR`` (default ``<repo>/.atlas/cache``) in a file keyed by a hash of
this file's architecture and training code, so that a change to either retrains it and numbers
from different feature nets are never mixed. ``features(x)`` gives the 128-d penultimate
activations (scaled to unit RMS on the train set), ``predict(x)`` the class.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

FEATURE_DIM = 128
_EPOCHS = 20
_BATCH = 64
_LR = 3e-3


class DigitsNet(nn.Module):
    """(N, 1, 8, 8) in [0, 1] -> logits (N, 10); ``embed`` gives the (N, 128) features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)  # (N, 16, 8, 8)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # (N, 32, 8, 8) -> pool -> (N, 32, 4, 4)
        self.fc = nn.Linear(32 * 4 * 4, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, 10)
        # RMS of the train features, set after training: features() divides by it so that their
        # scale is O(1) like Inception's pool features, which keeps KID's cubic kernel sane.
        self.register_buffer("feature_rms", torch.ones(()))

    def embed(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv1(x))
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))  # (N, 128), unscaled

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def _train() -> DigitsNet:
    """Adam on the train split, no augmentation; ~98 % test accuracy. Leaves global RNG untouched."""
    from compute.datasets import load

    data = load("digits")
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # callers may be under no_grad
        torch.manual_seed(0)
        net = DigitsNet()
        opt = torch.optim.Adam(net.parameters(), lr=_LR)
        g = torch.Generator().manual_seed(0)
        x, y = data.train, data.train_labels
        for _ in range(_EPOCHS):
            for idx in torch.randperm(len(x), generator=g).split(_BATCH):
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            net.feature_rms.fill_(net.embed(x).pow(2).mean().sqrt())
    return net.eval()


def version() -> str:
    """Hash of the code that defines the network and its training (the cache key)."""
    src = inspect.getsource(DigitsNet) + inspect.getsource(_train) + repr((_EPOCHS, _BATCH, _LR))
    return hashlib.sha256(src.encode()).hexdigest()[:12]


def cache_dir() -> Path:
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("ATLAS_CACHE_DIR", root / ".atlas" / "cache"))


_net: DigitsNet | None = None


def get_net() -> DigitsNet:
    """The trained classifier: from memory, from the cache file, or trained now and cached."""
    global _net
    if _net is not None:
        return _net
    path = cache_dir() / f"digits_classifier_{version()}.pt"
    net = DigitsNet()
    if path.exists():
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        net.eval()
    else:
        net = _train()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so that two processes training at once never leave a torn file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, path)
    for p in net.parameters():
        p.requires_grad_(False)
    _net = net
    return net


def _prepare(x: Tensor) -> Tensor:
    # Samples may come as (N, 64) or (N, 8, 8), on any device, slightly outside [0, 1].
    return x.detach().float().cpu().reshape(-1, 1, 8, 8).clamp(0, 1)


@torch.no_grad()
def features(x: Tensor, batch: int = 1024) -> Tensor:
    """(N, 1, 8, 8) images in [0, 1] -> (N, 128) features."""
    net, x = get_net(), _prepare(x)
    return torch.cat([net.embed(x[i : i + batch]) for i in range(0, len(x), batch)]) / net.feature_rms


@torch.no_grad()
def predict(x: Tensor, batch: int = 1024) -> Tensor:
    """(N, 1, 8, 8) images in [0, 1] -> (N,) predicted class."""
    net, x = get_net(), _prepare(x)
    return torch.cat([net(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])


def heldout_accuracy() -> float:
    """Accuracy on the digits test split (a sanity number for reports)."""
    from compute.datasets import load

    data = load("digits")
    return float((predict(data.test) == data.test_labels).float().mean())
