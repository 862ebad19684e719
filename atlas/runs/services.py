"""Run lifecycle services (filled by the live-runs work)."""

from __future__ import annotations


def recover_orphans() -> int:
    """End runs left queued or running by a stack whose workers are gone. Returns how many."""
    return 0
