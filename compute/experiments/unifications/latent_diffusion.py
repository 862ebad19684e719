"""Latent diffusion = VAE codec + diffusion prior (Rombach et al. 2022, "High-Resolution Image Synthesis
with Latent Diffusion Models"; Kingma & Welling 2014).

On scikit-learn's 8x8 digits (unconditional):

- *pixel diffusion*: the diffusion family on the 64 pixels as a vector (z = 2x - 1), its MLP eps-network
  (256 wide, 3 layers); the family's U-Net is far too slow on two CPU cores for a fair budget, and an MLP
  on both sides makes the comparison about the space, not the architecture;
- *latent diffusion*: the VAE family (categorical decoder over the 17 intensity levels, MLP encoder) is
  the codec; its posterior means of the training digits, standardised per dimension, are the data of a
  diffusion model in the L-dimensional latent space (a narrower MLP, 128 wide: the latent is smaller);
  samples are decoded by the VAE decoder's mean;
- the VAE alone (z ~ N(0, I), same decoder) and the codec's reconstructions of test digits (the ceiling
  that "codec quality bounds final quality" puts on latent diffusion).

Quality is measured in the feature space of the digits classifier (compute.features): Frechet distance
and KID to the training digits, precision / recall and class coverage; cost as the dimension the
diffusion runs in, its parameters and milliseconds per sample at the same number of DDIM steps.

Prediction (could fail): latent diffusion's Frechet distance is within 2 x the test-vs-train distance
(the metric's own sampling floor) of pixel diffusion's, and not below its codec's reconstructions by
more than that floor (the codec bounds the quality). Negative control: the same codec with its N(0, I)
prior in place of the diffusion prior, judged by the same rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from compute.experiments import figures as draw
from compute.experiments.base import Evidence, ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common

PIXEL_NET = {"hidden": 256, "depth": 3, "time_dim": 64, "fourier_features": 0}
LATENT_NET = {"hidden": 128, "depth": 3, "time_dim": 64, "fourier_features": 0}  # the latent is smaller


class LatentCodec:
    """A trained VAE used as codec: ``encode`` (N, 1, 8, 8) -> standardised posterior means (N, L),
    ``decode`` (N, L) -> decoder mean images (N, 1, 8, 8) in [0, 1]."""

    def __init__(self, vae: Any, train_images: torch.Tensor):
        self.vae = vae
        with torch.no_grad():
            mu = self._mu(train_images)
        self.mean, self.std = mu.mean(0), mu.std(0).clamp_min(1e-3)

    @torch.no_grad()
    def _mu(self, x: torch.Tensor) -> torch.Tensor:
        v = self.vae
        v.eval()
        return torch.cat([v.encode_mean(xb) for xb in x.split(1024)]).cpu()

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (self._mu(x) - self.mean) / self.std

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        from compute.families.vae import Noise

        v = self.vae
        z = (codes.cpu() * self.std + self.mean).to(v.device)
        out = v.decoder.sample(z, Noise(torch.Generator().manual_seed(0), v.device), use_mean=True)
        return out.reshape(len(z), 1, 8, 8).clamp(0, 1).cpu()


def vector_dataset(name: str, train: torch.Tensor, test: torch.Tensor, bounds: tuple[float, float] | None):
    """A dataset of flat vectors (N, D) the diffusion family can train on (``points2d`` kind, shape (D,))."""
    from compute.datasets import Dataset
    from compute.families.base import DataSpec

    spec = DataSpec(kind="points2d", shape=(train.shape[1],), bounds=bounds)
    return Dataset(name=name, spec=spec, train=train.contiguous(), test=test.contiguous())


def image_scores(samples: torch.Tensor, digits: Any) -> dict[str, float]:
    """Frechet distance and KID to the train digits, precision / recall, class coverage."""
    from compute import features, metrics

    samples = torch.nan_to_num(samples.float(), nan=0.0).clamp(0, 1)
    real, fake = features.features(digits.train), features.features(samples)
    pr = metrics.prdc(real, fake)
    cov = metrics.class_coverage(features.predict(samples), 10)
    return {
        "fd": metrics.frechet_distance(real, fake),
        "kid": metrics.kid(real, fake),
        "precision": pr["precision"],
        "recall": pr["recall"],
        "classes": cov["classes_covered"],
        "class_tv": cov["class_tv"],
    }


def codec_prior_rule(arm: dict[str, float], s: dict[str, Any]) -> common.Check:
    """The prediction, for latent diffusion and the control alike: Frechet distance <= pixel diffusion's +
    2 x the test-vs-train floor, and >= the codec's reconstructions - the floor."""
    floor = s["ref_fd"]
    good = arm["fd"] <= s["pixel"]["fd"] + 2 * floor
    bounded = arm["fd"] >= s["reconstruction"]["fd"] - floor
    text = (
        f"Frechet distance {arm['fd']:.2f} vs pixel diffusion {s['pixel']['fd']:.2f} + 2 x {floor:.2f} "
        f"and the codec's reconstructions {s['reconstruction']['fd']:.2f} - {floor:.2f}"
    )
    return common.Check(good and bounded, text)


def evidence(s: dict[str, Any]) -> Evidence:
    return common.evidence(
        claim="latent diffusion is a VAE codec plus a diffusion prior: as good as diffusion in pixel space, "
        "bounded by the codec",
        prediction="latent diffusion's Frechet distance within 2 x the test-vs-train floor of pixel "
        "diffusion's and not below the codec's reconstructions by more than that floor",
        control="the same codec with its N(0, I) prior (no diffusion prior)",
        outcome=codec_prior_rule(s["latent"], s),
        control_outcome=codec_prior_rule(s["vae_prior"], s),
    )


def verdict(s: dict[str, Any]) -> Verdict:
    """fails: latent diffusion does not meet :func:`codec_prior_rule`; holds: it also samples faster than
    pixel diffusion; partly-holds otherwise (as good, but not cheaper)."""
    lat, pix, vae, rec = s["latent"], s["pixel"], s["vae_prior"], s["reconstruction"]
    ev, outcome = evidence(s), codec_prior_rule(lat, s)
    text = (
        f"Latent diffusion in {s['latent_dim']:.0f} dimensions reaches Frechet distance {lat['fd']:.2f} vs "
        f"{pix['fd']:.2f} for pixel diffusion in 64 (the VAE's own N(0, I) prior: {vae['fd']:.2f}; test vs "
        f"train: {s['ref_fd']:.2f}) at {lat['ms_per_sample']:.2f} vs {pix['ms_per_sample']:.2f} ms per "
        f"sample with {lat['params'] / 1e3:.0f}k vs {pix['params'] / 1e3:.0f}k prior parameters; the codec's "
        f"own reconstructions score {rec['fd']:.2f}, the floor latent diffusion cannot go below"
    )
    if not outcome.passed:
        return common.judged(ev, "fails", text)
    if lat["ms_per_sample"] < pix["ms_per_sample"]:
        return common.judged(ev, "holds", text)
    return common.judged(ev, "partly-holds", text + " (as good, but not cheaper per sample)")


class LatentDiffusion(common.Unification):
    slug: ClassVar[str] = "latent-diffusion-codec-prior"
    title: ClassVar[str] = (
        "Latent diffusion: a VAE codec plus a diffusion prior vs pixel-space diffusion on digits"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, features, metrics

        digits = datasets.load("digits")
        budget = {
            "latent_dim": 8,
            "steps_vae": scale.steps(
                1500, 20
            ),  # more overfits the 1,437 digits (test -ELBO 2.4 -> 5.3 bits/dim)
            "steps_diff": scale.steps(4000, 20),
            "n": common.pick(scale, 200, 1000),
            "nfe": common.pick(scale, 10, 50),
        }
        ref_fd = metrics.frechet_distance(features.features(digits.train), features.features(digits.test))

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            log(f"seed {seed}: pixel diffusion ({budget['steps_diff']} steps)")
            m: dict[str, Any] = {"latent_dim": float(budget["latent_dim"]), "ref_fd": ref_fd}
            m["pixel"], x_pix = self._pixel_arm(digits, budget, seed)
            log(f"seed {seed}: VAE codec ({budget['steps_vae']} steps), latent diffusion, N(0, I) control")
            latent, images = self._latent_arms(digits, budget, seed)
            m.update(latent)
            per_seed.append(m)
            if seed == 0:
                keep = {"pixel": x_pix, **images, "real": digits.test}

        summary = common.summarise(per_seed)
        ev = evidence(summary)
        tables = self._tables(per_seed, summary, budget, ref_fd)
        figs = {"latent_diffusion": self._figure(keep)}
        params = {
            "data": "digits (unconditional)",
            "latent_dim": budget["latent_dim"],
            "vae_steps": budget["steps_vae"],
            "diffusion_steps": budget["steps_diff"],
            "samples": budget["n"],
            "sampler": f"DDIM, {budget['nfe']} steps",
            "pixel_net": PIXEL_NET,
            "latent_net": LATENT_NET,
            "control": "the codec's N(0, I) prior in place of the diffusion prior",
            "seeds": len(per_seed),
        }
        recipes = [{"role": "codec", "recipe": "beta-vae-digits", "config": {"beta": 1.0}}]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(verdict(summary), tables, measurements, params, figs, recipes, evidence=ev)

    @staticmethod
    def _pixel_arm(digits: Any, budget: dict[str, int], seed: int) -> tuple[dict[str, float], torch.Tensor]:
        """Pixel diffusion: the diffusion family on the 64 pixels (z = 2x - 1: the family's points2d map
        with bounds (-0.5, 1.5)), its samples scored."""
        from compute import registry

        n, nfe = budget["n"], budget["nfe"]
        flat_train = digits.train.reshape(len(digits.train), -1)
        flat_test = digits.test.reshape(len(digits.test), -1)
        pixels = vector_dataset("digits-pixels", flat_train, flat_test, (-0.5, 1.5))
        pix = registry.build("diffusion", pixels.spec, seed=seed, device=common.device(), **PIXEL_NET)
        info = common.train(pix, pixels, budget["steps_diff"], seed, batch_size=128)
        x_pix, t_pix = common.timed(lambda: pix.sample(n, sampler="ddim", nfe=nfe, seed=seed))
        x_pix = x_pix.reshape(n, 1, 8, 8).clamp(0, 1)
        scores = {
            **image_scores(x_pix, digits),
            "ms_per_sample": 1e3 * t_pix / n,
            "params": common.network_size(pix),
            "train_s": info["seconds"],
            "dim": 64.0,
        }
        return scores, x_pix

    def _latent_arms(
        self, digits: Any, budget: dict[str, int], seed: int
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The VAE codec, latent diffusion on its standardised codes, the control (the codec's N(0, I)
        prior) and the codec's reconstructions."""
        from compute import registry

        n, nfe, latent_dim = budget["n"], budget["nfe"], budget["latent_dim"]
        spec_unc = dataclasses.replace(digits.spec, num_classes=None)
        vae = registry.build("vae", spec_unc, seed=seed, device=common.device(), latent_dim=latent_dim)
        info_vae = common.train(vae, digits, budget["steps_vae"], seed, batch_size=128)
        codec = LatentCodec(vae, digits.train)
        # standardised codes; bounds (-5, 5) give the family's x0 clipping a +-5 std box (without it DDIM's
        # first step, x0_hat = (x_T - sigma eps_hat) / alpha_T with alpha_T ~ 5e-5, explodes)
        codes = vector_dataset(
            "digits-latents", codec.encode(digits.train), codec.encode(digits.test), (-5.0, 5.0)
        )
        lat = registry.build("diffusion", codes.spec, seed=seed, device=common.device(), **LATENT_NET)
        info_lat = common.train(lat, codes, budget["steps_diff"], seed, batch_size=128)
        x_lat, t_lat = common.timed(lambda: codec.decode(lat.sample(n, sampler="ddim", nfe=nfe, seed=seed)))
        z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
        x_vae, t_vae = common.timed(lambda: codec.decode(self._prior(codec, z)))
        x_rec = codec.decode(codec.encode(digits.test))
        out = {
            "latent": {
                **image_scores(x_lat, digits),
                "ms_per_sample": 1e3 * t_lat / n,
                "params": common.network_size(lat),
                "train_s": info_lat["seconds"] + info_vae["seconds"],
                "dim": float(latent_dim),
            },
            "vae_prior": {**image_scores(x_vae, digits), "ms_per_sample": 1e3 * t_vae / n},
            "reconstruction": {
                **image_scores(x_rec, digits),
                "mse": float((x_rec - digits.test).pow(2).mean()),
            },
            "vae_elbo_bits_per_dim": float(
                -vae.log_likelihood(digits.test).values.double().mean() / (64 * 0.6931471805599453)
            ),
        }
        return out, {"latent": x_lat, "vae": x_vae, "rec": x_rec}

    @staticmethod
    def _tables(
        per_seed: list[dict[str, Any]], summary: dict[str, Any], budget: dict[str, int], ref_fd: float
    ) -> list[Table]:
        nfe, latent_dim = budget["nfe"], budget["latent_dim"]

        def row(label: str, key: str, dim: str, nfe_s: str) -> list[Any]:
            return [
                label,
                dim,
                nfe_s,
                fmt(common.collect(per_seed, key, "fd"), 2),
                fmt(common.collect(per_seed, key, "kid"), 3),
                fmt(common.collect(per_seed, key, "precision"), 3),
                fmt(common.collect(per_seed, key, "recall"), 3),
                fmt(common.collect(per_seed, key, "classes"), 2),
                fmt(common.collect(per_seed, key, "ms_per_sample"), 3)
                if key in ("pixel", "latent", "vae_prior")
                else "-",
            ]

        return [
            Table(
                f"Digits: quality in classifier-feature space (Frechet distance test vs train: {ref_fd:.2f}; "
                "the prediction: latent within 2 x that of pixel diffusion, not below the reconstructions by "
                "more)",
                [
                    "model",
                    "diffusion runs in",
                    "NFE",
                    "Frechet distance",
                    "KID",
                    "precision",
                    "recall",
                    "classes covered",
                    "ms / sample",
                ],
                [
                    row("pixel diffusion (MLP eps-net)", "pixel", "64 dims", str(nfe)),
                    row(
                        "latent diffusion (VAE codec + diffusion prior)",
                        "latent",
                        f"{latent_dim} dims",
                        f"{nfe} + decoder",
                    ),
                    row("control: VAE alone (N(0, I) prior + same decoder)", "vae_prior", "-", "decoder"),
                    row("codec reconstructions of test digits (the ceiling)", "reconstruction", "-", "-"),
                ],
            ),
            Table(
                "Cost",
                ["quantity", "pixel diffusion", "latent diffusion"],
                [
                    ["dimension of the diffusion", 64, latent_dim],
                    [
                        "prior network parameters",
                        int(summary["pixel"]["params"]),
                        int(summary["latent"]["params"]),
                    ],
                    [
                        "training seconds (latent: + the VAE codec)",
                        fmt(common.collect(per_seed, "pixel", "train_s"), 1),
                        fmt(common.collect(per_seed, "latent", "train_s"), 1),
                    ],
                    [
                        "codec reconstruction MSE (pixels in [0, 1])",
                        "-",
                        fmt(common.collect(per_seed, "reconstruction", "mse"), 4),
                    ],
                    [
                        "codec -ELBO, bits/dim (17-level digits)",
                        "-",
                        fmt([d["vae_elbo_bits_per_dim"] for d in per_seed], 3),
                    ],
                ],
            ),
        ]

    @staticmethod
    def _prior(codec: LatentCodec, z: torch.Tensor) -> torch.Tensor:
        """Standardised codes of z ~ N(0, I) in the VAE's latent (the decoder reads unstandardised z)."""
        return (z - codec.mean) / codec.std

    @staticmethod
    def _figure(keep: dict[str, Any]) -> bytes:
        fig, axes = draw.panel_row(5, (16, 3.6))
        for ax, (key, title) in zip(
            axes,
            [
                ("real", "test digits"),
                ("pixel", "pixel diffusion"),
                ("latent", "latent diffusion"),
                ("vae", "VAE prior + decoder"),
                ("rec", "codec reconstructions"),
            ],
            strict=True,
        ):
            draw.digits(ax, keep[key], title)
        return draw.to_png(fig)
