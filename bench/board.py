"""The tuned results boards beside their targets, and what each model's tuning sweep cost.

    .venv/bin/python bench/board.py [--results results]

Reads the published records only (``results/boards/<dataset>/runs.json`` and ``sweep.json``):
they are loaded into a throwaway SQLite database exactly as `make run` loads them, the boards are
built by the site's own code, and each 2-D row is printed beside the results-board issue's target
(modes held by the verdict-grade rule, high-quality share; means over seeds 0–2) and its longest
run's wall time (the issue asks for runs within 60 s on two cores), with the sweep's
effort (configurations, trials, CPU and wall seconds) and the configuration it chose. The digits
board has no targets: its rows are printed with their Fréchet distance, precision, recall and
bits/dim (where a likelihood exists), longest run and sweep effort.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(results: Path) -> None:
    os.environ["ATLAS_DATA_DIR"] = tempfile.mkdtemp(prefix="atlas-bench-board-")
    os.environ.pop("DATABASE_URL", None)  # a throwaway SQLite, never the operator's database
    os.environ["ATLAS_RESULTS_DIR"] = str(results.resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings.dev")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("results", "load")


def print_points_board(dataset: str) -> None:
    from atlas.results import aggregate, sweep, targets

    board = aggregate.build(dataset)
    tuning = (sweep.summary(dataset) or {}).get("models", {})
    print(f"\n{board.spec.title} ({dataset}), code {board.version}")
    longest = {row.key: _longest_run_s(row.runs) for row in board.rows}
    print(f"  {'model':<16}{'modes':>14}{'HQ share':>18}{'verdict':>14}{'run s':>8}   {EFFORT}")
    for check in targets.check(board):
        modes = f"{check.modes:.1f}" if check.modes is not None else "—"
        hq = f"{100 * check.hq:.1f} %" if check.hq is not None else "—"
        print(
            f"  {check.label:<16}{modes + f' (≥{check.modes_target:g})':>14}"
            f"{hq + f' (≥{100 * check.hq_target:.0f})':>18}{check.verdict:>14}"
            f"{_seconds(longest.get(check.key)):>8}   {_effort(tuning.get(check.key))}"
        )
    _print_total(tuning)


EFFORT = "sweep: configs/finalists/trials, CPU s (training + judging), wall s"
IMAGE_COLUMNS = ("frechet_distance", "precision", "recall", "nll")


def print_image_board(dataset: str) -> None:
    from atlas.results import aggregate, sweep

    board = aggregate.build(dataset)
    tuning = (sweep.summary(dataset) or {}).get("models", {})
    print(f"\n{board.spec.title} ({dataset}), code {board.version}")
    heads = "".join(f"{board.metric(key).label:>18}" for key in IMAGE_COLUMNS)
    print(f"  {'model':<22}{'seeds':>6}{heads}{'run s':>8}   {EFFORT}")
    for row in board.rows:
        cells = "".join(f"{_cell(row, key):>18}" for key in IMAGE_COLUMNS)
        print(
            f"  {row.label:<22}{len(row.runs)}/{len(board.seeds):<4}{cells}"
            f"{_seconds(_longest_run_s(row.runs)):>8}   {_effort(tuning.get(row.key))}"
        )
    _print_total(tuning)


def _cell(row, key: str) -> str:
    cell = row.cells.get(key)
    return cell.text if cell and cell.text else "—"


def _seconds(value: float | None) -> str:
    return f"{value:.0f}" if value else "—"


def _effort(t: dict | None) -> str:
    if not t:
        return "no sweep"
    return (
        f"{t.get('configs', 0)}/{t.get('finalists', 0)}/{t.get('trials', 0)}, "
        f"{t.get('cpu_s', 0):.0f}, {t.get('wall_s', 0):.0f}"
        f"  chose #{(t.get('chosen') or {}).get('index', '—')}"
    )


def _print_total(tuning: dict) -> None:
    total = sum(t.get("cpu_s", 0) for t in tuning.values())
    print(f"  sweep total: {total / 60:.1f} CPU minutes over {len(tuning)} models")


def _longest_run_s(runs) -> float | None:
    """The longest wall time of a board row's runs (training and sampling, not scoring)."""
    times = [run.result.get("wall_time_s") for run in runs if run.result]
    return max((t for t in times if t is not None), default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    setup(args.results)
    for dataset in ("ring8", "grid25"):
        print_points_board(dataset)
    print_image_board("digits")


if __name__ == "__main__":
    main()
