"""Published experiment results: measured records kept in the repository so a fresh site shows them.

`manage.py experiments run` stores a record in the database (and its figures in the storage
backend); `experiments publish` copies stored records to ``results/experiments/<slug>/``
(``record.json`` plus the figure PNGs), where they are reviewed and committed like content.
`experiments load` (run by `make run` at start) brings published records into a database that has
no record of that experiment yet, or only an older one: a newer local measurement is never
replaced. A published record keeps the code version and the time that produced it, so the page
can say when the code has moved on since.

A malformed file is a clear error naming the file; loading is all-or-nothing per record (figures
are written before the row, the row in one statement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from atlas.experiments.models import ExperimentRecord

RECORD_FILE = "record.json"
FIELDS = (
    "slug",
    "kind",
    "title",
    "verdict",
    "verdict_text",
    "tables",
    "measurements",
    "params",
    "recipes",
    "scale",
    "code_version",
    "wall_time_s",
    "produced_at",
)
# Written by publish, optional on load: records published before issue 13 have no evidence.
OPTIONAL_FIELDS = {"evidence": dict}


class PublishedError(ValueError):
    """A published record that cannot be loaded; the message starts with the file's path."""


@dataclass(frozen=True)
class LoadReport:
    loaded: list[str]
    kept: list[str]  # the database already had this record or a newer one


def published_dir() -> Path:
    return Path(settings.ATLAS_RESULTS_DIR) / "experiments"


# --- publish ---------------------------------------------------------------------------------


def publish(record: ExperimentRecord, directory: Path | None = None) -> Path:
    """Write ``record`` and its figures to ``<directory>/<slug>/``; returns that folder."""
    folder = (directory or published_dir()) / record.slug
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    figures = []
    for figure in record.figures:
        name = f"{figure['name']}.png"
        with default_storage.open(figure["path"], "rb") as handle:
            (folder / name).write_bytes(handle.read())
        figures.append({"name": figure["name"], "file": name})
    payload: dict[str, Any] = {name: getattr(record, name) for name in (*FIELDS, *OPTIONAL_FIELDS)}
    payload["produced_at"] = record.produced_at.isoformat()
    payload["figures"] = figures
    (folder / RECORD_FILE).write_text(
        json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    )
    return folder


# --- load ------------------------------------------------------------------------------------


def load(directory: Path | None = None) -> LoadReport:
    """Load every ``*/record.json`` under ``directory``; all files are parsed before any is written."""
    directory = directory or published_dir()
    parsed = [read(path) for path in sorted(directory.glob(f"*/{RECORD_FILE}"))]
    report = LoadReport(loaded=[], kept=[])
    for path, payload in parsed:
        (report.loaded if _load_one(path, payload) else report.kept).append(payload["slug"])
    return report


def read(path: Path) -> tuple[Path, dict[str, Any]]:
    """(path, payload) of one published record, checked; PublishedError names the file and the problem."""
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PublishedError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(payload, dict):
        raise PublishedError(f"{path}: expected a JSON object")
    missing = [name for name in (*FIELDS, "figures") if name not in payload]
    if missing:
        raise PublishedError(f"{path}: missing field(s): {', '.join(missing)}")
    if payload["slug"] != path.parent.name:
        raise PublishedError(
            f"{path}: slug {payload['slug']!r} does not match its folder {path.parent.name!r}"
        )
    try:
        payload["produced_at"] = datetime.fromisoformat(payload["produced_at"])
    except (TypeError, ValueError) as exc:
        raise PublishedError(f"{path}: produced_at is not an ISO 8601 time") from exc
    if payload["produced_at"].tzinfo is None:
        raise PublishedError(f"{path}: produced_at needs a time zone")
    for name, kind in OPTIONAL_FIELDS.items():
        payload.setdefault(name, kind())
        if not isinstance(payload[name], kind):
            raise PublishedError(f"{path}: {name} must be a JSON {kind.__name__}")
    for figure in payload["figures"]:
        if not isinstance(figure, dict) or not (path.parent / str(figure.get("file", ""))).is_file():
            raise PublishedError(f"{path}: figure {figure!r} has no file beside it")
    return path, payload


def _load_one(path: Path, payload: dict[str, Any]) -> bool:
    existing = ExperimentRecord.objects.filter(slug=payload["slug"]).first()
    if existing is not None and existing.produced_at >= payload["produced_at"]:
        return False
    figures = []
    for figure in payload["figures"]:
        target = f"experiments/{payload['slug']}/{figure['name']}.png"
        if default_storage.exists(target):
            default_storage.delete(target)
        data = (path.parent / figure["file"]).read_bytes()
        figures.append({"name": figure["name"], "path": default_storage.save(target, ContentFile(data))})
    with transaction.atomic():
        ExperimentRecord.objects.update_or_create(
            slug=payload["slug"],
            defaults={
                **{name: payload[name] for name in (*FIELDS, *OPTIONAL_FIELDS) if name != "slug"},
                "figures": figures,
            },
        )
    return True
