"""Run the failure-mode experiments and print each verdict with its wall time.

The site's numbers come from FULL scale (>= 3 seeds); this script runs the same code path as
``manage.py experiments run`` without storing anything, so it is the quick way to see what the pages
would say and how long each pair takes.

    .venv/bin/python bench/failure_modes.py                         # all 13 at FULL scale
    .venv/bin/python bench/failure_modes.py --scale smoke           # CI's reduced budget
    .venv/bin/python bench/failure_modes.py --only mode-collapse,schedule-mismatch --threads 2
    .venv/bin/python bench/failure_modes.py --json /tmp/fm.json --figures /tmp/fm-figures
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from compute.experiments import failure_modes  # noqa: E402
from compute.experiments import get as get_experiment  # noqa: E402
from compute.experiments.base import SCALES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", default="", help="comma-separated slugs (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 while others share the CPU)")
    parser.add_argument("--json", default="", help="write every result (without figures) to this file")
    parser.add_argument("--figures", default="", help="write every figure as PNG under this folder")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    slugs = [s for s in args.only.split(",") if s] or sorted(failure_modes.REGISTRY)
    unknown = sorted(set(slugs) - set(failure_modes.REGISTRY))
    if unknown:
        parser.error(f"unknown slug(s): {', '.join(unknown)}")
    scale = SCALES[args.scale]
    print(f"scale={scale.name} seeds={scale.seeds} budget={scale.budget} threads={args.threads}", flush=True)

    rows, results, t_all = [], {}, time.perf_counter()
    for slug in slugs:
        print(f"\n== {slug}", flush=True)

        def log(line: str) -> None:
            if not args.quiet:
                print(f"   {line}", flush=True)

        cpu0 = time.process_time()
        try:
            result = get_experiment(slug).run(scale, log)
        except Exception:  # one broken experiment must not hide the others' numbers
            traceback.print_exc()
            rows.append((slug, "ERROR", float("nan"), float("nan"), "see the traceback above"))
            continue
        cpu = time.process_time() - cpu0
        results[slug] = {**result.as_dict(), "cpu_time_s": round(cpu, 1)}
        rows.append((slug, result.verdict.code, result.wall_time_s, cpu, result.verdict.text))
        print(
            f"   {result.verdict.code} ({result.wall_time_s:.0f} s wall, {cpu:.0f} s CPU): "
            f"{result.verdict.text}",
            flush=True,
        )
        for table in result.tables[:1]:
            print("   " + " | ".join(table.columns))
            for row in table.rows:
                print("   " + " | ".join(str(c) for c in row))
        if args.figures:
            folder = Path(args.figures) / slug
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in result.figures.items():
                (folder / f"{name}.png").write_bytes(data)

    print(f"\n{'experiment':<26} {'verdict':<18} {'wall s':>7} {'CPU s':>7}")
    for slug, code, wall, cpu, _ in rows:
        print(f"{slug:<26} {code:<18} {wall:>7.0f} {cpu:>7.0f}")
    print(f"total wall time: {time.perf_counter() - t_all:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if any(code == "ERROR" for _, code, _, _, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
