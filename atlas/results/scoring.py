"""Score your own samples: a researcher's .npy file scored by the board's own metrics, and placed
among the board's rows. Nothing is stored; the samples live only for the request.

Limits keep one request cheap (the metrics are O(n^2) in the sample count): at most MAX_SAMPLES
rows and MAX_UPLOAD_BYTES on the wire. A file that is not .npy, a pickle, a non-numeric dtype, a
wrong shape, NaN or infinities are each a ScoreError naming the field and what was wrong.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from atlas.results import aggregate, boards
from atlas.results.metrics import Metric

MAX_UPLOAD_BYTES = 1_000_000
NPY_MAGIC = b"\x93NUMPY"
MIN_SAMPLES = 100
MAX_SAMPLES = 5_000
SCORABLE = tuple(boards.BOARDS)  # ring8, grid25, digits


class ScoreError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.errors = {field: [message]}


@dataclass(frozen=True)
class Placement:
    metric: Metric
    value: float
    rank: int  # 1 = best, among the board's rows with a value plus this upload
    of: int


@dataclass(frozen=True)
class Scored:
    dataset: str
    n_samples: int
    metrics: dict[str, Any]
    placements: list[Placement]


def score_upload(dataset: str, data: bytes) -> Scored:
    if dataset not in SCORABLE:
        raise ScoreError("dataset", f"No board for {dataset!r}. Valid values: {', '.join(SCORABLE)}.")
    samples = read_samples(dataset, data)
    metrics = _metrics(dataset, samples)
    return Scored(dataset, len(samples), metrics, place(aggregate.build(dataset), metrics))


def read_samples(dataset: str, data: bytes) -> np.ndarray:
    """The uploaded array as float32 in the board's shape: (n, 2) for 2-D sets, (n, 1, 8, 8) in
    [0, 1] for digits (given as (n, 64), (n, 8, 8) or (n, 1, 8, 8))."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScoreError("samples", f"File too large: at most {MAX_UPLOAD_BYTES} bytes.")
    if not data.startswith(NPY_MAGIC):
        raise ScoreError("samples", "Not a .npy file (it does not start with the NPY header).")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ScoreError("samples", f"Not a .npy file ({_first_line(exc)}).") from exc
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise ScoreError("samples", f"Numbers are needed, not dtype {getattr(array, 'dtype', '?')}.")
    array = _shaped(dataset, array.astype(np.float32))
    if not np.isfinite(array).all():
        raise ScoreError("samples", "The samples contain NaN or infinite values.")
    if not MIN_SAMPLES <= len(array) <= MAX_SAMPLES:
        raise ScoreError(
            "samples", f"Between {MIN_SAMPLES} and {MAX_SAMPLES} samples are needed, not {len(array)}."
        )
    if boards.BOARDS[dataset].kind == "image" and (array.min() < 0 or array.max() > 1):
        raise ScoreError("samples", "Digit pixels must lie in [0, 1].")
    return array


def _shaped(dataset: str, array: np.ndarray) -> np.ndarray:
    if boards.BOARDS[dataset].kind == "points2d":
        if array.ndim != 2 or array.shape[1] != 2:
            raise ScoreError("samples", f"Shape (n, 2) is needed for {dataset}, not {array.shape}.")
        return array
    if array.shape[1:] in ((64,), (8, 8), (1, 8, 8)):
        return array.reshape(len(array), 1, 8, 8)
    raise ScoreError("samples", f"Shape (n, 64), (n, 8, 8) or (n, 1, 8, 8) is needed, not {array.shape}.")


def _metrics(dataset: str, samples: np.ndarray) -> dict[str, Any]:
    import torch

    from compute import datasets, evaluate

    return evaluate.sample_metrics(datasets.load(dataset), torch.from_numpy(samples))


def place(board: aggregate.Board, metrics: dict[str, Any]) -> list[Placement]:
    """Where the upload would rank on each quality metric the board shows (ties share the better
    rank, as on the board); a row counts only when all its seeds are in."""
    upload = SimpleNamespace(metrics=metrics, result={})
    out = []
    for metric in board.metrics:
        value = metric.value(upload)
        if value is None:
            continue
        means = [row.cells[metric.key].stat.mean for row in board.rows if row.complete]
        signed = [metric.signed(m) for m in means if m is not None]
        rank = 1 + sum(other < metric.signed(value) for other in signed)
        out.append(Placement(metric, value, rank, len(signed) + 1))
    return out


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]
