"""Unification experiments: slug of the unification node -> "module:Class"."""

REGISTRY: dict[str, str] = {}
