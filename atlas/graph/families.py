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


NAMES = {
    "vae": "VAE",
    "gan": "GAN",
    "diffusion": "Diffusion",
    "flow": "Flow",
    "ebm": "EBM",
    "autoregressive": "Autoregressive",
}
COLOURS = {
    "vae": Colours("#e8f5e9", "#2e7d32", "#1d3320", "#81c784"),
    "gan": Colours("#ffebee", "#c62828", "#3a1d1f", "#ef9a9a"),
    "diffusion": Colours("#e8eaf6", "#3949ab", "#23284a", "#9fa8da"),
    "flow": Colours("#f3e5f5", "#8e24aa", "#33203a", "#ce93d8"),
    "ebm": Colours("#e1f5ff", "#0277bd", "#13303f", "#81d4fa"),
    "autoregressive": Colours("#fff3cd", "#ef6c00", "#3a2a10", "#ffb74d"),
}


def css_variables() -> str:
    """`:root` custom properties (`--vae`, `--vae-fill` …) for the light and the dark theme."""
    light = " ".join(f"--{f}: {COLOURS[f].accent}; --{f}-fill: {COLOURS[f].fill};" for f in ORDER)
    dark = " ".join(f"--{f}: {COLOURS[f].dark_accent}; --{f}-fill: {COLOURS[f].dark_fill};" for f in ORDER)
    return f":root {{ {light} }}\n@media (prefers-color-scheme: dark) {{ :root {{ {dark} }} }}"
