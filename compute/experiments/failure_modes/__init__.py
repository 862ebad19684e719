"""Failure-mode experiments: slug of the failure-mode node -> "module:Class"."""

REGISTRY: dict[str, str] = {}
