"""Template helpers shared by every page: the families' colours from `atlas.graph.families`."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from atlas.graph import families

register = template.Library()


@register.simple_tag
def families_css() -> SafeString:
    """The families' colours as CSS custom properties (the one source: `families.COLOURS`)."""
    return mark_safe(families.css_variables())  # noqa: S308 - built from constant hex colours only


@register.simple_tag
def family_name(slug: str) -> str:
    return families.NAMES.get(slug, slug)


# Human captions for the figures the experiments publish, by file name; a figure named after its
# record (e.g. "diffusion_as_ebm") is the experiment's summary figure.
FIGURE_CAPTIONS = {
    "samples": "Samples from the trained models, side by side",
    "samples_grid25": "Samples on the 25-mode grid",
    "samples_ring8": "Samples on the 8-mode ring",
    "kl_curve": "KL divergence over training",
    "reconstructions": "Inputs and their reconstructions",
    "energy_curve": "Energy of data and of samples over training",
    "mmd": "MMD to the original data, generation after generation",
    "tail_mass": "Probability mass in the tails, generation after generation",
    "variance": "Variance of the samples, generation after generation",
    "nearest_neighbours": "Samples beside their nearest training examples",
    "density_and_negatives": "Learned density with the negative samples used to train it",
    "precision_recall_vs_w": "Precision and recall as the guidance weight grows",
    "saturation_vs_w": "Colour saturation as the guidance weight grows",
    "kl_by_position": "KL to the data, position by position",
    "valid_prefixes": "Share of valid prefixes, position by position",
    "nll_histograms": "Test NLL of in-distribution and out-of-distribution inputs",
    "ood_inputs": "The out-of-distribution inputs scored",
    "tv_vs_nfe": "Total-variation distance against the number of network evaluations",
}


@register.simple_tag
def figure_caption(name: str, record_title: str) -> str:
    """A sentence for a published figure: its known caption, else the experiment's summary."""
    return FIGURE_CAPTIONS.get(name) or f"{record_title}: the measurement at a glance"


# Facet tags are kebab-case slugs in content; these words are spelled otherwise when read.
FACET_WORDS = {
    "kl": "KL",
    "mse": "MSE",
    "elbo": "ELBO",
    "nce": "NCE",
    "mcmc": "MCMC",
    "ode": "ODE",
    "sde": "SDE",
    "cfg": "CFG",
    "ood": "OOD",
    "ot": "OT",
    "3d": "3-D",
    "f": "f",
    "jensen": "Jensen",
    "shannon": "Shannon",
    "fisher": "Fisher",
    "wasserstein": "Wasserstein",
    "markov": "Markov",
    "chinchilla": "Chinchilla",
}


@register.filter
def facet_words(tag: str) -> str:
    """A facet tag as words: "forward-kl" → "forward KL", "jensen-shannon" → "Jensen–Shannon"."""
    words = [FACET_WORDS.get(part, part) for part in tag.split("-")]
    joiner = "–" if tag == "jensen-shannon" else " "
    text = joiner.join(words)
    return text.replace("f divergence", "f-divergence")


@register.filter
def family_names(slugs: list[str]) -> str:
    return ", ".join(families.NAMES.get(slug, slug) for slug in slugs)
