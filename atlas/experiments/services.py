"""Running experiments and storing what they measured (figures through the storage backend)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from atlas.experiments.models import ExperimentRecord
from compute import experiments
from compute.experiments.base import SCALES, ExperimentResult
from compute.version import code_version


def run_and_store(slug: str, scale: str = "full", log: Callable[[str], None] = print) -> ExperimentRecord:
    result = experiments.get(slug).run(SCALES[scale], log)
    return store(result)


def store(result: ExperimentResult) -> ExperimentRecord:
    """Write the figures first, then the row in one statement: a failing experiment leaves the
    previous record as it was."""
    figures = []
    for name, data in sorted(result.figures.items()):
        path = f"experiments/{result.slug}/{name}.png"
        if default_storage.exists(path):
            default_storage.delete(path)
        figures.append({"name": name, "path": default_storage.save(path, ContentFile(data))})
    payload = result.as_dict()
    with transaction.atomic():
        record, _ = ExperimentRecord.objects.update_or_create(
            slug=result.slug,
            defaults={
                "kind": result.kind,
                "title": result.title,
                "verdict": result.verdict.code,
                "verdict_text": result.verdict.text,
                "tables": payload["tables"],
                "measurements": payload["measurements"],
                "params": payload["params"],
                "recipes": result.recipes,
                "evidence": payload["evidence"] or {},
                "figures": figures,
                "scale": result.scale,
                "code_version": code_version(),
                "wall_time_s": result.wall_time_s,
                "produced_at": timezone.now(),
            },
        )
    return record
