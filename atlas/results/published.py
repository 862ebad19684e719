"""Published board runs: the measured runs behind each results board, kept in the repository so
that a fresh site shows full boards (like the experiment records in atlas/experiments/published.py).

`manage.py results publish` writes, per board, ``results/boards/<dataset>/runs.json`` (every run
the board aggregates: recipe, config, seed, code version, metrics, result, loss history) and each
run's sample figure and samples (``<id>.png``, ``<id>.npy``). `results load` (run by `make run` and
the compose migration job) inserts published runs that the database does not have: a run with the
same public id, or an identical computation (same config hash) in a reusable state (queued,
running, interrupted or succeeded), is kept as it is. Loaded runs are board runs (`on_board`),
with their original code version, so a board whose code has moved on marks them stale.

A malformed file is an error naming the file (and the line, for JSON); every file is checked before
anything is written.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from atlas.results import aggregate
from atlas.runs.models import Run, RunEvent, RunStatus

RUNS_FILE = "runs.json"
FIELDS = (
    "public_id",
    "recipe",
    "model",
    "family",
    "dataset",
    "config",
    "seed",
    "code_version",
    "config_hash",
    "metrics",
    "result",
    "loss_history",
    "created_at",
    "finished_at",
)
ARTIFACTS = (("samples_png", "png"), ("samples_npy", "npy"))


class PublishedError(ValueError):
    """A published file that cannot be loaded; the message starts with the file's path."""


@dataclass(frozen=True)
class LoadReport:
    loaded: int
    kept: int


def published_dir() -> Path:
    return Path(settings.ATLAS_RESULTS_DIR) / "boards"


def publish(dataset: str, directory: Path | None = None) -> Path:
    """Write the runs board ``dataset`` aggregates (and their artifacts) to ``<directory>/<dataset>/``."""
    folder = (directory or published_dir()) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("*.png"), *folder.glob("*.npy")]:
        stale.unlink()
    runs = [run for row in aggregate.build(dataset).rows for run in row.runs]
    full = Run.objects.filter(pk__in=[run.pk for run in runs]).order_by("recipe", "seed")
    payload = {"dataset": dataset, "runs": [_published(run, folder) for run in full]}
    (folder / RUNS_FILE).write_text(json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return folder


def _published(run: Run, folder: Path) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(run, name) for name in FIELDS}
    record["public_id"] = str(run.public_id)
    record["created_at"] = run.created_at.isoformat()
    record["finished_at"] = run.finished_at.isoformat() if run.finished_at else None
    record["artifacts"] = {}
    for field, suffix in ARTIFACTS:
        artifact = getattr(run, field)
        if artifact:
            name = f"{run.public_id}.{suffix}"
            with artifact.open("rb") as handle:
                (folder / name).write_bytes(handle.read())
            record["artifacts"][field] = name
    return record


def load(directory: Path | None = None) -> LoadReport:
    """Load every ``*/runs.json`` under ``directory``; all files are checked before any run is written."""
    directory = directory or published_dir()
    parsed = [read(path) for path in sorted(directory.glob(f"*/{RUNS_FILE}"))]
    loaded = kept = 0
    for path, records in parsed:
        for record in records:
            if _load_one(path.parent, record):
                loaded += 1
            else:
                kept += 1
    return LoadReport(loaded, kept)


def read(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PublishedError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("runs"), list):
        raise PublishedError(f"{path}: expected an object with a list of runs")
    if payload.get("dataset") != path.parent.name:
        raise PublishedError(f"{path}: dataset {payload.get('dataset')!r} does not match its folder")
    for index, record in enumerate(payload["runs"]):
        _check(path, index, record)
    return path, payload["runs"]


def _check(path: Path, index: int, record: Any) -> None:
    where = f"{path}: run {index}"
    if not isinstance(record, dict):
        raise PublishedError(f"{where}: expected an object")
    missing = [name for name in (*FIELDS, "artifacts") if name not in record]
    if missing:
        raise PublishedError(f"{where}: missing field(s): {', '.join(missing)}")
    try:
        uuid.UUID(str(record["public_id"]))
        for name in ("created_at", "finished_at"):
            if datetime.fromisoformat(record[name]).tzinfo is None:
                raise ValueError(name)
    except (TypeError, ValueError) as exc:
        raise PublishedError(f"{where}: a bad public_id or time ({exc})") from exc
    if record["dataset"] != path.parent.name:
        raise PublishedError(f"{where}: dataset {record['dataset']!r} is not this board's")
    for name in record["artifacts"].values():
        if not (path.parent / str(name)).is_file():
            raise PublishedError(f"{where}: artifact {name!r} has no file beside it")


def _load_one(folder: Path, record: dict[str, Any]) -> bool:
    reusable = Run.objects.filter(
        config_hash=record["config_hash"],
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED],
    )
    if Run.objects.filter(public_id=record["public_id"]).exists() or reusable.exists():
        return False
    fields = {name: record[name] for name in FIELDS}
    fields["created_at"] = datetime.fromisoformat(record["created_at"])
    fields["finished_at"] = datetime.fromisoformat(record["finished_at"])
    with transaction.atomic():
        run = Run(**fields, status=RunStatus.SUCCEEDED, on_board=True, client_key="published")
        for field, name in record["artifacts"].items():
            stored_as = f"samples{Path(name).suffix}"  # the name a worker gives it
            getattr(run, field).save(stored_as, ContentFile((folder / name).read_bytes()), save=False)
        run.save()
        Run.objects.filter(pk=run.pk).update(created_at=fields["created_at"])  # auto_now_add overrode it
        RunEvent.objects.create(run=run, to_status=RunStatus.SUCCEEDED, reason="loaded from results/boards")
    return True
