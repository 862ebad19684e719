"""Hallucination: not reproducible at this scale, and the page says why; nothing is measured.

Hallucination is a property of large language models answering open-world factual questions. The
character-level models of this atlas (a ~150k-parameter GPT trained on the site's own Markdown) hold no
facts to be right or wrong about, so a "hallucination rate" measured on them would be a number without
meaning. The reason shown is the node's own ``not_reproducible_because`` (content/failure-modes/
hallucination.md), so the page and the experiment cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

FALLBACK_REASON = (
    "It is a property of large language models answering open-world factual questions; the small demo "
    "models in this atlas have no factual knowledge to be wrong about, so the effect cannot be shown "
    "faithfully."
)


def node_reason() -> str:
    """``not_reproducible_because`` from the node's front matter (FALLBACK_REASON if unreadable)."""
    from compute.datasets import content_dir

    path = content_dir() / "failure-modes" / "hallucination.md"
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("not_reproducible_because:"):
                value = line.split(":", 1)[1].strip()
                return value.strip("\"'") or FALLBACK_REASON
    except OSError:
        pass
    return FALLBACK_REASON


class Hallucination(common.FailureMode):
    slug = "hallucination"
    title = "Hallucination: not reproducible with the atlas's small models"

    @staticmethod
    def verdict(measurements: dict[str, Any]) -> Verdict:
        return Verdict("not-reproducible", f"not reproducible at this scale: {measurements['reason']}")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        m = {"reason": node_reason(), "measured": False}
        log("hallucination: nothing to measure")
        params = {"scale": scale.name, "note": "no model is trained; see the reason"}
        return self.result(self.verdict(m), [], m, params, {}, [])
