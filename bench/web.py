"""Web benchmark: the map page, a node page and the graph JSON against static files of the same size.

    .venv/bin/python bench/web.py [--requests 400] [--concurrency 8] [--seconds 15]

Starts the real stack (Redis, Celery worker, Daphne) on loopback exactly as `make run` does, with
its own data directory. Before the start it renders the three pages once (Django test client) to
learn their sizes and writes three static files of exactly those sizes into STATIC_ROOT, so the
same server (WhiteNoise inside the same Daphne process) serves a static twin of every page. Each
target then gets a warm-up and a bounded number of keep-alive GETs from `--concurrency`
connections (or `--seconds`, whichever ends first); the script prints requests/second and
p50/p95 latency of each page and its twin, and the ratio page / static, all measured in this run.

Then, in Debian's Chromium (headless, via Playwright; skipped without them), `--loads` fresh loads
of the map: the time from DOMContentLoaded until the map is interactive (graph.json fetched, first
render and label pass done: map.js's `atlas:map-ready` mark), beside the same loads of the static
twin (DOMContentLoaded and load event). The goal is under 1 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._load import Result, measure, prepare, ratios  # noqa: E402
from tests.stack import RunningStack, start_stack  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
READY_GOAL_MS = 1000.0

HEADER = f"{'target':<12} {'path':<26} {'bytes':>9} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'n':>6}"
PAGES = {"map page": "/", "node page": "/node/diffusion/", "graph JSON": "/graph.json"}
TWINS = {"/": "map.html", "/node/diffusion/": "node.html", "/graph.json": "graph.json"}
FILLER = b"<!-- static twin of a page of the atlas, same size, served by the same server -->\n"


def row(label: str, result: Result) -> str:
    return (
        f"{label:<12} {result.path:<26} {result.size:>9,} {result.rps:>9.1f} "
        f"{result.percentile(0.5):>9.2f} {result.percentile(0.95):>9.2f} {len(result.latencies):>6}"
    )


def ratio_row(page: Result, twin: Result) -> str:
    rps, p50, p95 = ratios(page, twin)
    return f"{'ratio':<12} {'page / static':<26} {'':>9} {rps:>8.2f}x {p50:>8.2f}x {p95:>8.2f}x"


def browser_timings(stack: RunningStack, loads: int) -> list[str]:
    """Median and worst of `loads` cold loads: the map's DOMContentLoaded → interactive, and the
    static twin's DOMContentLoaded and load, in the same browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return ["browser timings skipped: Playwright is not installed"]
    if not CHROMIUM.exists():
        return [f"browser timings skipped: no Chromium at {CHROMIUM}"]
    ready_js = """() => { const nav = performance.getEntriesByType('navigation')[0];
        const ready = performance.getEntriesByName('atlas:map-ready')[0];
        const dcl = nav.domContentLoadedEventStart;
        return {dcl, ready: ready.startTime - dcl}; }"""
    twin_js = """() => { const nav = performance.getEntriesByType('navigation')[0];
        return {dcl: nav.domContentLoadedEventStart, load: nav.loadEventEnd}; }"""
    maps, twins = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        try:
            for _ in range(loads):
                context = browser.new_context(viewport={"width": 1400, "height": 900})  # cold cache
                page = context.new_page()
                page.goto(f"{stack.url}/")
                page.wait_for_selector("#map-app[data-ready=true]")
                maps.append(page.evaluate(ready_js))
                page.goto(f"{stack.url}/static/bench/{TWINS['/']}", wait_until="load")
                twins.append(page.evaluate(twin_js))
                context.close()
        finally:
            browser.close()
    ready = sorted(m["ready"] for m in maps)
    verdict = "meets" if ready[len(ready) // 2] < READY_GOAL_MS else "misses"
    return [
        f"Chromium, {loads} cold loads at 1400x900 (median / worst, ms):",
        f"  map page     DOMContentLoaded {_mid(maps, 'dcl'):7.1f} / {_worst(maps, 'dcl'):7.1f}"
        f"   interactive after DOMContentLoaded {_mid(maps, 'ready'):7.1f} / {_worst(maps, 'ready'):7.1f}",
        f"  static twin  DOMContentLoaded {_mid(twins, 'dcl'):7.1f} / {_worst(twins, 'dcl'):7.1f}"
        f"   load event {_mid(twins, 'load'):7.1f} / {_worst(twins, 'load'):7.1f}",
        f"  the map {verdict} the goal: interactive within {READY_GOAL_MS:.0f} ms of DOMContentLoaded",
    ]


def _mid(rows: list[dict], key: str) -> float:
    values = sorted(r[key] for r in rows)
    return values[len(values) // 2]


def _worst(rows: list[dict], key: str) -> float:
    return max(r[key] for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="GETs per target (bounded)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per target")
    parser.add_argument("--loads", type=int, default=7, help="cold browser loads of the map")
    args = parser.parse_args()
    load = {"requests": args.requests, "concurrency": args.concurrency, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-web-") as tmp:
        data_dir = Path(tmp)
        twins = {path: Path("bench") / name for path, name in TWINS.items()}
        sizes = prepare(data_dir, PAGES.values(), twins, FILLER)
        stack = start_stack(data_dir)
        try:
            print(f"Generative Atlas web benchmark: loopback {stack.url}, Daphne (one process), WhiteNoise")
            limits = f"up to {args.requests} GETs or {args.seconds:g} s per target"
            print(f"{args.concurrency} keep-alive connections, {limits}\n")
            print(HEADER)
            for label, path in PAGES.items():
                page = measure(stack.port, path, **load)
                twin = measure(stack.port, f"/static/bench/{TWINS[path]}", **load)
                assert twin.size == sizes[path], (twin.size, sizes[path])
                print(row(label, page))
                print(row("static twin", twin))
                print(ratio_row(page, twin))
                print()
            print("\n".join(browser_timings(stack, args.loads)))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
