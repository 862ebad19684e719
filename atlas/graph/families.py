"""The six families in one place: their order (the content schema's), short names and colours.

DESIGN.md gives each family a light fill for areas and a darker accent for strokes and text; the
dark theme uses the accent's light tint as its stroke and a deep fill. Templates get the colours
as CSS custom properties (`families_css`), scripts read those properties: nothing else lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from atlas.content.schema import FAMILIES

ORDER: tuple[str, ...] = tuple(FAMILIES)


@dataclass(frozen=True)
class Colours:
    fill: str
    accent: str
    dark_fill: str
    dark_accent: str
    text: str  # the accent darkened until text on the fill or on white passes WCAG AA (4.5:1)


NAMES = {
    "vae": "VAE",
    "gan": "GAN",
    "diffusion": "Diffusion",
    "flow": "Flow",
    "ebm": "EBM",
    "autoregressive": "Autoregressive",
}
COLOURS = {
    "vae": Colours("#e8f5e9", "#2e7d32", "#1d3320", "#81c784", "#1b5e20"),
    "gan": Colours("#ffebee", "#c62828", "#3a1d1f", "#ef9a9a", "#b71c1c"),
    "diffusion": Colours("#e8eaf6", "#3949ab", "#23284a", "#9fa8da", "#283593"),
    "flow": Colours("#f3e5f5", "#8e24aa", "#33203a", "#ce93d8", "#6a1b9a"),
    "ebm": Colours("#e1f5ff", "#0277bd", "#13303f", "#81d4fa", "#01579b"),
    "autoregressive": Colours("#fff3cd", "#ef6c00", "#3a2a10", "#ffb74d", "#8f3f00"),
}


def css_variables() -> str:
    """`:root` custom properties (`--vae`, `--vae-fill` …) for the light and the dark theme."""
    light = " ".join(f"--{f}: {c.accent}; --{f}-fill: {c.fill}; --{f}-text: {c.text};" for f, c in _ordered())
    dark = " ".join(
        f"--{f}: {c.dark_accent}; --{f}-fill: {c.dark_fill}; --{f}-text: {c.dark_accent};"
        for f, c in _ordered()
    )
    return f":root {{ {light} }}\n@media (prefers-color-scheme: dark) {{ :root {{ {dark} }} }}"


def _ordered() -> list[tuple[str, Colours]]:
    return [(family, COLOURS[family]) for family in ORDER]
