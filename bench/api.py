"""API benchmark: list, detail, graph and path endpoints against static files of the same size.

    .venv/bin/python bench/api.py [--requests 200] [--concurrency 8] [--seconds 8] [--cache both|on|off]

Starts the real stack (Redis, Celery worker, Daphne) on loopback exactly as `make run` does, with
its own data directory. Before the start it asks each endpoint once (Django test client on the
same database) for the size of its answer and writes a static file of exactly that size into
STATIC_ROOT, so the same server (WhiteNoise in the same Daphne process) serves a static twin of
every endpoint. Each target then gets a warm-up and a bounded number of keep-alive GETs from
`--concurrency` connections (or `--seconds`, whichever ends first). Printed per endpoint and per
twin: requests/second and p50/p95 latency; then the ratios endpoint / static, all measured in this
run, side by side. The last target is a conditional GET (If-None-Match → 304) of the node list
against the same conditional GET of its twin.

The API keeps rendered answers in a bounded per-process cache keyed by their ETag (see
atlas/api/conditional.py), so repeated GETs of one URL mostly measure that cache. `--cache both`
(the default) therefore runs the whole set twice on fresh stacks: once with the answer cache off
(`ATLAS_API_ANSWER_CACHE=0`: every request runs its view, the cost of a first request for a URL)
and once with it on (what popular URLs cost).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._load import Result, etag, measure, prepare, ratios  # noqa: E402
from tests.stack import start_stack  # noqa: E402

TARGETS = {
    "nodes list": "/api/nodes/?page_size=50",
    "papers list": "/api/papers/?year_min=2020&ordering=-year",
    "node detail": "/api/nodes/ddpm/",
    "paper detail": "/api/papers/ho2020ddpm/",
    "graph (all)": "/api/graph/",
    "graph around": "/api/graph/?around=ddpm&depth=2",
    "path": "/api/path/?from=vae&to=gan",
}
CONDITIONAL = ("nodes list 304", "/api/nodes/?page_size=50")
TWIN_DIR = "bench-api"
FILLER = b'{"static twin of an API answer": "same size, served by the same server"}\n'
HEADER = f"{'target':<15} {'path':<42} {'bytes':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}"
Ratios = tuple[float, float, float]


def twin_name(path: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in path.strip("/")) + ".json"


def row(label: str, result: Result) -> str:
    shown = result.path if len(result.path) <= 42 else result.path[:39] + "..."
    return (
        f"{label:<15} {shown:<42} {result.size:>9,} {result.rps:>8.1f} "
        f"{result.percentile(0.5):>8.2f} {result.percentile(0.95):>8.2f} {len(result.latencies):>5}"
    )


def run_pass(
    data_dir: Path, sizes: dict[str, int], args: argparse.Namespace, cache: str
) -> list[tuple[str, Ratios]]:
    env = {"ATLAS_API_ANSWER_CACHE": "0" if cache == "off" else "1"}
    load = {"requests": args.requests, "concurrency": args.concurrency, "seconds": args.seconds}
    stack = start_stack(data_dir, env=env)
    summary: list[tuple[str, Ratios]] = []
    try:
        print(f"\n== answer cache {cache}: loopback {stack.url}, Daphne (one process), WhiteNoise")
        limits = f"up to {args.requests} GETs or {args.seconds:g} s per target"
        print(f"{args.concurrency} keep-alive connections, {limits}\n")
        print(HEADER)
        for label, path in TARGETS.items():
            api = measure(stack.port, path, **load)
            twin = measure(stack.port, f"/static/{TWIN_DIR}/{twin_name(path)}", **load)
            assert api.size == twin.size == sizes[path], (api.size, twin.size, sizes[path])
            print(row(label, api))
            print(row("  static twin", twin))
            summary.append((label, ratios(api, twin)))
        label, path = CONDITIONAL
        twin_path = f"/static/{TWIN_DIR}/{twin_name(path)}"
        api = measure(stack.port, path, headers={"If-None-Match": etag(stack.port, path)}, expect=304, **load)
        twin = measure(
            stack.port, twin_path, headers={"If-None-Match": etag(stack.port, twin_path)}, expect=304, **load
        )
        print(row(label, api))
        print(row("  static 304", twin))
        summary.append((label, ratios(api, twin)))
    finally:
        stack.stop()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="GETs per target (bounded)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="time cap per target")
    parser.add_argument(
        "--cache", choices=["both", "on", "off"], default="both", help="the API's answer cache"
    )
    args = parser.parse_args(argv)
    passes = ["off", "on"] if args.cache == "both" else [args.cache]
    summaries = {}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-api-") as tmp:
        data_dir = Path(tmp)
        twins = {path: Path(TWIN_DIR) / twin_name(path) for path in TARGETS.values()}
        sizes = prepare(data_dir, TARGETS.values(), twins, FILLER)
        print("Generative Atlas API benchmark: every endpoint against a static file of the same size")
        for cache in passes:
            summaries[cache] = run_pass(data_dir, sizes, args, cache)
    print(f"\n{'endpoint / static twin':<22} {'cache':>5} {'throughput':>11} {'p50':>8} {'p95':>8}")
    for label, _ in summaries[passes[0]]:
        for cache in passes:
            rps, p50, p95 = dict(summaries[cache])[label]
            print(f"{label:<22} {cache:>5} {rps:>10.2f}x {p50:>7.2f}x {p95:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
