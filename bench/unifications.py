"""Run the eight unification experiments and print their verdicts, key numbers and wall times.

    .venv/bin/python bench/unifications.py                         # all eight at FULL scale (the site's)
    .venv/bin/python bench/unifications.py --scale smoke           # CI's reduced budget
    .venv/bin/python bench/unifications.py --only ar-ebm-bijection,diffusion-as-ebm --threads 1
    .venv/bin/python bench/unifications.py --out /tmp/unifications.json --figures /tmp/unif-figs

Each experiment runs in this process, one after the other; ``--out`` writes every result's JSON
(tables, measurements, verdict) and ``--figures`` the PNGs, so the numbers can be checked before the
``experiments run`` management command stores them for the site.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from compute.experiments import get  # noqa: E402
from compute.experiments.base import SCALES  # noqa: E402
from compute.experiments.unifications import REGISTRY  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="full")
    ap.add_argument("--only", default="", help="comma-separated slugs (default: all eight)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--out", default="", help="write all results as JSON here")
    ap.add_argument("--figures", default="", help="write the figures (PNG) into this folder")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    slugs = [s for s in args.only.split(",") if s] or list(REGISTRY)
    unknown = sorted(set(slugs) - set(REGISTRY))
    if unknown:
        ap.error(f"unknown slug(s) {', '.join(unknown)}; valid: {', '.join(REGISTRY)}")

    results, t_all = [], time.perf_counter()
    for slug in slugs:
        print(f"\n=== {slug} ({args.scale})", flush=True)
        t0 = time.perf_counter()
        log = (
            (lambda _: None)
            if args.quiet
            else (lambda msg, t0=t0: print(f"  [{time.perf_counter() - t0:6.1f} s] {msg}", flush=True))
        )
        try:
            result = get(slug).run(SCALES[args.scale], log)
        except Exception as err:  # keep going: one broken experiment must not hide the others
            print(f"  ERROR {type(err).__name__}: {err}", flush=True)
            results.append({"slug": slug, "error": f"{type(err).__name__}: {err}"})
            continue
        print(f"  verdict: {result.verdict.code} -- {result.verdict.text}")
        for table in result.tables:
            print(f"  | {table.caption}")
            print("  | " + " | ".join(map(str, table.columns)))
            for row in table.rows:
                print("  | " + " | ".join(map(str, row)))
        print(f"  wall time {result.wall_time_s:.1f} s", flush=True)
        payload = result.as_dict()
        results.append(payload)
        if args.figures:
            folder = Path(args.figures)
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in result.figures.items():
                (folder / f"{slug}--{name}.png").write_bytes(data)

    print("\n=== summary")
    for r in results:
        if "error" in r:
            print(f"  {r['slug']:32s} ERROR {r['error']}")
        else:
            print(f"  {r['slug']:32s} {r['verdict']['code']:13s} {r['wall_time_s']:7.1f} s")
    print(f"  total {time.perf_counter() - t_all:.1f} s on {args.threads} thread(s)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
