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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from compute.experiments import figures as draw
from compute.experiments.base import ExperimentResult, Scale, Table, Verdict, fmt
from compute.experiments.unifications import common


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


def verdict(s: dict[str, Any]) -> Verdict:
    """fails: latent diffusion is no better than the VAE's own Gaussian prior, or not faster per sample than
    pixel diffusion; holds: its Frechet distance is within 1.5x (+ 1) of pixel diffusion's; partly-holds
    otherwise (cheaper but worse: the codec bound bites)."""
    lat, pix, vae, rec = s["latent"], s["pixel"], s["vae_prior"], s["reconstruction"]
    text = (
        f"Latent diffusion in {s['latent_dim']:.0f} dimensions reaches Frechet distance {lat['fd']:.2f} vs "
        f"{pix['fd']:.2f} for pixel diffusion in 64 (the VAE's own N(0, I) prior: {vae['fd']:.2f}) at "
        f"{lat['ms_per_sample']:.2f} vs {pix['ms_per_sample']:.2f} ms per sample with "
        f"{lat['params'] / 1e3:.0f}k vs {pix['params'] / 1e3:.0f}k prior parameters; the codec's own "
        f"reconstructions score {rec['fd']:.2f}, the floor latent diffusion cannot go below"
    )
    if lat["fd"] >= vae["fd"] or lat["ms_per_sample"] >= pix["ms_per_sample"]:
        return Verdict("fails", text + ".")
    if lat["fd"] <= 1.5 * pix["fd"] + 1.0:
        return Verdict("holds", text + ".")
    return Verdict("partly-holds", text + " (cheaper, but the codec limits quality).")


class LatentDiffusion(common.Unification):
    slug: ClassVar[str] = "latent-diffusion-codec-prior"
    title: ClassVar[str] = (
        "Latent diffusion: a VAE codec plus a diffusion prior vs pixel-space diffusion on digits"
    )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, features, metrics, registry

        digits = datasets.load("digits")
        dev = common.device()
        spec_unc = dataclasses.replace(digits.spec, num_classes=None)
        latent_dim = 8
        steps_vae = scale.steps(
            1500, 20
        )  # more overfits the 1,437 digits (test -ELBO 2.4 -> 5.3 bits/dim at 4000)
        steps_diff = scale.steps(4000, 20)
        n = common.pick(scale, 200, 1000)
        nfe = common.pick(scale, 10, 50)
        pixel_net = {"hidden": 256, "depth": 3, "time_dim": 64, "fourier_features": 0}
        latent_net = {"hidden": 128, "depth": 3, "time_dim": 64, "fourier_features": 0}
        flat_train = digits.train.reshape(len(digits.train), -1)
        flat_test = digits.test.reshape(len(digits.test), -1)
        # pixels x in [0, 1] -> z = 2x - 1: the family's points2d map with bounds (-0.5, 1.5)
        pixels = vector_dataset("digits-pixels", flat_train, flat_test, (-0.5, 1.5))
        ref_fd = metrics.frechet_distance(features.features(digits.train), features.features(digits.test))

        per_seed: list[dict[str, Any]] = []
        keep: dict[str, Any] = {}
        for seed in common.seeds_of(scale):
            m: dict[str, Any] = {"latent_dim": float(latent_dim)}
            log(f"seed {seed}: pixel diffusion ({steps_diff} steps)")
            pix = registry.build("diffusion", pixels.spec, seed=seed, device=dev, **pixel_net)
            info_pix = common.train(pix, pixels, steps_diff, seed, batch_size=128)
            x_pix, t_pix = common.timed(
                lambda pix=pix, seed=seed: pix.sample(n, sampler="ddim", nfe=nfe, seed=seed)
            )
            x_pix = x_pix.reshape(n, 1, 8, 8).clamp(0, 1)
            m["pixel"] = {
                **image_scores(x_pix, digits),
                "ms_per_sample": 1e3 * t_pix / n,
                "params": common.network_size(pix),
                "train_s": info_pix["seconds"],
                "dim": 64.0,
            }

            log(f"seed {seed}: VAE codec ({steps_vae} steps) and latent diffusion ({steps_diff} steps)")
            vae = registry.build("vae", spec_unc, seed=seed, device=dev, latent_dim=latent_dim)
            info_vae = common.train(vae, digits, steps_vae, seed, batch_size=128)
            codec = LatentCodec(vae, digits.train)
            # standardised codes; bounds (-5, 5) give the family's x0 clipping a +-5 std box (without it
            # DDIM's first step, x0_hat = (x_T - sigma eps_hat) / alpha_T with alpha_T ~ 5e-5, explodes)
            codes = vector_dataset(
                "digits-latents", codec.encode(digits.train), codec.encode(digits.test), (-5.0, 5.0)
            )
            lat = registry.build("diffusion", codes.spec, seed=seed, device=dev, **latent_net)
            info_lat = common.train(lat, codes, steps_diff, seed, batch_size=128)

            def latent_sample(lat: Any = lat, codec: LatentCodec = codec, seed: int = seed) -> torch.Tensor:
                return codec.decode(lat.sample(n, sampler="ddim", nfe=nfe, seed=seed))

            x_lat, t_lat = common.timed(latent_sample)
            m["latent"] = {
                **image_scores(x_lat, digits),
                "ms_per_sample": 1e3 * t_lat / n,
                "params": common.network_size(lat),
                "train_s": info_lat["seconds"] + info_vae["seconds"],
                "dim": float(latent_dim),
            }
            z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
            x_vae, t_vae = common.timed(lambda codec=codec, z=z: codec.decode(self._prior(codec, z)))
            m["vae_prior"] = {**image_scores(x_vae, digits), "ms_per_sample": 1e3 * t_vae / n}
            x_rec = codec.decode(codec.encode(digits.test))
            m["reconstruction"] = image_scores(x_rec, digits)
            m["reconstruction"]["mse"] = float((x_rec - digits.test).pow(2).mean())
            m["vae_elbo_bits_per_dim"] = float(
                -vae.log_likelihood(digits.test).values.double().mean() / (64 * 0.6931471805599453)
            )
            per_seed.append(m)
            if seed == 0:
                keep = {"pixel": x_pix, "latent": x_lat, "vae": x_vae, "rec": x_rec, "real": digits.test}

        summary = common.summarise(per_seed)
        v = verdict(summary)

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

        tables = [
            Table(
                f"Digits: quality in classifier-feature space (Frechet distance test vs train: {ref_fd:.2f})",
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
                    row("VAE alone (N(0, I) prior + same decoder)", "vae_prior", "-", "decoder"),
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
        figs = {"latent_diffusion": self._figure(keep)}
        params = {
            "data": "digits (unconditional)",
            "latent_dim": latent_dim,
            "vae_steps": steps_vae,
            "diffusion_steps": steps_diff,
            "samples": n,
            "sampler": f"DDIM, {nfe} steps",
            "pixel_net": pixel_net,
            "latent_net": latent_net,
            "seeds": len(per_seed),
        }
        recipes = [{"role": "codec", "recipe": "beta-vae-digits", "config": {"beta": 1.0}}]
        measurements = {"summary": summary, "per_seed": per_seed}
        return self.result(v, tables, measurements, params, figs, recipes)

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
