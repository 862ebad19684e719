"""A toy experiment registry: one experiment that measures, one that fails."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from compute import experiments
from compute.experiments.base import Evidence, Experiment, ExperimentResult, Table, Verdict

PNG = b"\x89PNG\r\n\x1a\nfake"
EVIDENCE = Evidence(
    claim="The minimax GAN collapses.",
    prediction="judge_2d calls its samples collapse on every seed.",
    outcome="collapse on 3 of 3 seeds",
    control="Exact mixture samples judged by the same rule.",
    control_outcome="exact samples -> meets",
    control_rejected=True,
)


class Toy(Experiment):
    slug, kind, title = "mode-collapse", "failure-mode", "Toy"
    modes = 3.0

    def measure(self, scale, log):
        log("measuring")
        return ExperimentResult(
            slug=self.slug,
            kind=self.kind,
            title=self.title,
            verdict=Verdict("reproduced", f"GAN captured {self.modes} of 25 modes"),
            tables=[Table("modes", ["model", "modes"], [["gan", self.modes], ["fix", float("nan")]])],
            measurements={"modes": self.modes},
            params={"seeds": scale.seeds},
            figures={"samples": PNG},
            recipes=[
                {
                    "role": "reproduce",
                    "recipe": "gan-2d",
                    "config": {"variant": "minimax", "dataset": "grid25"},
                }
            ],
            evidence=EVIDENCE,
        )


class Broken(Experiment):
    slug, kind, title = "energy-explosion", "failure-mode", "Broken"

    def measure(self, scale, log):
        raise RuntimeError("diverged")


@pytest.fixture(autouse=True)
def toy_registry(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    known = {"mode-collapse": Toy, "energy-explosion": Broken}
    monkeypatch.setattr(experiments, "names", lambda: sorted(known))
    monkeypatch.setattr(experiments, "get", lambda slug: known[slug]())


class NodeStub:
    """What the panel reads of a failure-mode node."""

    def __init__(self, slug: str) -> None:
        self.slug, self.kind, self.data = slug, "failure-mode", {}


def render_panel(slug: str) -> str:
    """The experiment panel of node ``slug`` as a node page renders it."""
    template = Template("{% load experiments_tags %}{% experiment_panel node %}")
    return template.render(Context({"node": NodeStub(slug)}))
