"""A board as files: the JSON and CSV downloads of `/results/<dataset>.json` and `.csv`.

Both carry every row (ranked or not) with its seeds, code versions and per-metric mean, sample
std, n and rank, so a reader can recompute the page from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from atlas.results import sweep, targets
from atlas.results.aggregate import Board


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_json(board: Board) -> dict[str, Any]:
    return {
        "dataset": board.dataset,
        "title": board.spec.title,
        "kind": board.spec.kind,
        "code_version": board.version,
        "seeds": board.seeds,
        "aggregation": "mean and sample standard deviation (n - 1) over the seeds whose run succeeded",
        "metrics": [
            {
                "key": m.key,
                "label": m.label,
                "better": m.better,
                "description": m.description,
                "quality": m.quality,
            }
            for m in board.all_metrics
        ],
        "rows": [
            {
                "key": row.key,
                "family": row.family,
                "label": row.label,
                "recipe": row.plan.recipe.slug if row.plan.recipe else None,
                "overrides": row.plan.overrides,
                "has_demo": row.has_demo,
                "seeds": row.seeds,
                "missing_seeds": row.missing_seeds,
                "stale": row.stale,
                "code_versions": row.code_versions,
                "produced": {"first": _iso(row.produced[0]), "last": _iso(row.produced[1])},
                "likelihood": {"kind": row.likelihood_kind or None, "unit": row.likelihood_unit or None},
                "device": row.devices or None,
                "status": {"active": row.active, "failed": row.failed, "timed_out": row.timed_out},
                "metrics": {
                    key: {
                        "mean": cell.stat.mean,
                        "std": cell.stat.std,
                        "n": cell.stat.n,
                        "rank": cell.rank,
                        "values": [{"seed": s, "value": v, "run": r} for s, v, r in cell.stat.values],
                    }
                    for key, cell in row.cells.items()
                },
                "favoured_by": row.favoured,
                "disfavoured_by": row.disfavoured,
            }
            for row in board.rows
        ],
        "rankings": {
            m.key: [row.key for row in board.ranking(m.key) if row.cell(m.key).rank]
            for m in board.all_metrics
        },
        "agreement": [{"a": g.a.key, "b": g.b.key, "kendall_tau": g.tau, "n": g.n} for g in board.agreements],
        "targets": [check.as_dict() for check in targets.check(board)],
        "tuning": sweep.summary(board.dataset),
    }


def csv_rows(board: Board) -> list[list[Any]]:
    header = [
        "dataset",
        "key",
        "family",
        "label",
        "recipe",
        "seeds",
        "stale",
        "code_versions",
        "first_produced",
        "last_produced",
        "likelihood_kind",
        "likelihood_unit",
        "device",
    ]
    for m in board.all_metrics:
        header += [f"{m.key}_mean", f"{m.key}_std", f"{m.key}_n", f"{m.key}_rank"]
    out: list[list[Any]] = [header]
    for row in board.rows:
        line: list[Any] = [
            board.dataset,
            row.key,
            row.family,
            row.label,
            row.plan.recipe.slug if row.plan.recipe else "",
            " ".join(map(str, row.seeds)),
            "yes" if row.stale else "no",
            " ".join(row.code_versions),
            _iso(row.produced[0]) or "",
            _iso(row.produced[1]) or "",
            row.likelihood_kind,
            row.likelihood_unit,
            row.devices,
        ]
        for m in board.all_metrics:
            cell = row.cells[m.key]
            line += [
                _num(cell.stat.mean),
                _num(cell.stat.std),
                cell.stat.n,
                cell.rank if cell.rank is not None else "",
            ]
        out.append(line)
    return out


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))
