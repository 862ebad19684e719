"""What each family should reach on the 2-D boards after equal-effort tuning, and whether it did.

The targets are the results-board issue's, judged by the verdict-grade criterion
(``compute.metrics.judge_2d``: a mode counts only when it holds at least half of its expected
high-quality mass), as means over the board's report seeds (0, 1, 2). The GAN row follows PacGAN4's
grid result (Lin et al. 2018: 24.8 of 25 modes at 93.6 % high-quality samples) — obtained there after
hundreds of thousands of steps, here within the board's budget. A miss is shown, not hidden: the
sweep that produced the row is the evidence of how hard it was tried.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

# dataset -> board entry key -> (mean modes counted at least, mean HQ share at least)
TARGETS: dict[str, dict[str, tuple[float, float]]] = {
    "grid25": {
        "diffusion": (25, 0.95),
        "flow-matching": (25, 0.95),
        "autoregressive": (25, 0.95),
        "gan": (24.5, 0.90),
        "ebm": (25, 0.70),
        "realnvp": (25, 0.60),
        "vae": (24, 0.50),
    },
    "ring8": {
        "diffusion": (8, 0.97),
        "flow-matching": (8, 0.97),
        "autoregressive": (8, 0.97),
        "gan": (8, 0.95),
        "ebm": (8, 0.80),
        "realnvp": (8, 0.70),
        "vae": (8, 0.60),
    },
}


@dataclass(frozen=True)
class TargetCheck:
    key: str
    label: str
    family: str
    modes_target: float
    hq_target: float
    seeds: int  # report seeds with a judgement
    complete: bool  # every seed of the board is in
    modes: float | None  # mean modes counted
    hq: float | None  # mean HQ share

    @property
    def met(self) -> bool:
        return (
            self.complete
            and self.modes is not None
            and self.hq is not None
            and self.modes >= self.modes_target
            and self.hq >= self.hq_target
        )

    @property
    def verdict(self) -> str:
        if not self.complete:
            return "not measured" if not self.seeds else "incomplete"
        return "met" if self.met else "missed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.key,
            "modes_target": self.modes_target,
            "hq_target": self.hq_target,
            "modes": self.modes,
            "hq_fraction": self.hq,
            "seeds": self.seeds,
            "verdict": self.verdict,
        }


def judged(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    judgement = (metrics or {}).get("judgement")
    return judgement if isinstance(judgement, dict) and "modes_counted" in judgement else None


def check(board: Any) -> list[TargetCheck]:
    """Each board row against its target (rows of a board without targets: none)."""
    wanted = TARGETS.get(board.dataset, {})
    out = []
    for row in board.rows:
        if row.key not in wanted:
            continue
        judgements = [j for j in (judged(run.metrics) for run in row.runs) if j is not None]
        modes_target, hq_target = wanted[row.key]
        out.append(
            TargetCheck(
                key=row.key,
                label=row.label,
                family=row.family,
                modes_target=modes_target,
                hq_target=hq_target,
                seeds=len(judgements),
                complete=row.complete and len(judgements) == len(row.runs),
                modes=statistics.fmean(j["modes_counted"] for j in judgements) if judgements else None,
                hq=statistics.fmean(j["hq_fraction"] for j in judgements) if judgements else None,
            )
        )
    return out
