"""Failure-mode and unification experiments, by the slug of the content node they belong to.

Each sub-package keeps a ``REGISTRY`` of slug -> "module:Class" (module relative to it), imported
lazily like the family registry: an experiment imports torch and its families only when it runs.
"""

from __future__ import annotations

import importlib

from compute.experiments import failure_modes, unifications
from compute.experiments.base import Experiment

_PACKAGES = {"failure_modes": failure_modes.REGISTRY, "unifications": unifications.REGISTRY}


def names() -> list[str]:
    return sorted(slug for registry in _PACKAGES.values() for slug in registry)


def get(slug: str) -> Experiment:
    for package, registry in _PACKAGES.items():
        if slug in registry:
            module, cls = registry[slug].split(":")
            return getattr(importlib.import_module(f"compute.experiments.{package}.{module}"), cls)()
    raise KeyError(f"unknown experiment {slug!r}; valid: {', '.join(names())}")
