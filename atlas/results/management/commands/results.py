"""`manage.py results refresh|status`: fill the results boards through the ordinary run path.

refresh: for every board entry with a recipe and every seed, `services.request_run(...)`: an
identical run (same recipe, config, seed and code version) that is queued, running or succeeded is
reused, anything else is queued on Celery like a click on a Run button. `--wait` polls until the
requested runs end (re-requesting those the global cap deferred) and prints the board.
status: print the boards as they stand, requesting nothing.
sweep: the equal-effort tuning of the board models (atlas/results/sweep.py), in this process,
written to results/boards/<dataset>/sweep.json after each trial (an interrupted sweep resumes);
report: run the board's configurations (the sweep's choices) on the report seeds in this process,
through the ordinary run path (request, lease, execute), for a machine without a running worker.
publish: write the runs each board aggregates to results/boards/<dataset>/ (see
atlas/results/published.py); load: bring published board runs into this database.

Without a worker the runs stay queued; the command says so instead of waiting forever, and without
Redis it requests nothing.
"""

from __future__ import annotations

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection

from atlas.results import aggregate, boards, published, sweep
from atlas.runs import execution, services
from atlas.runs.models import TERMINAL_STATES, Run, RunStatus


def broker_status() -> tuple[bool, bool, str]:
    """(Redis reachable, a Celery worker answered, detail) — the same probes as /healthz."""
    from atlas.core.services import check_redis, check_workers

    redis = check_redis()
    if not redis.ok:
        return False, False, redis.detail
    workers = check_workers()
    return True, workers.ok, workers.detail


class Command(BaseCommand):
    help = (
        "refresh: request the standard results-board runs (every family model, seeds 0..N-1) through "
        "Celery, reusing identical runs; --wait follows them to the end. status: print the boards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["refresh", "status", "publish", "load", "sweep", "report"])
        parser.add_argument(
            "--dataset", action="append", choices=sorted(boards.BOARDS), help="repeatable; default all"
        )
        parser.add_argument(
            "--seeds", type=int, default=boards.DEFAULT_SEEDS, help="seeds 0..N-1 (default 3)"
        )
        parser.add_argument("--wait", action="store_true", help="poll until every requested run has ended")
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="--wait gives up after this many seconds"
        )
        parser.add_argument("--poll", type=float, default=5.0, help="seconds between polls with --wait")
        parser.add_argument("--model", action="append", help="sweep/report: only these board entries")
        parser.add_argument(
            "--configs", type=int, default=sweep.CONFIGS, help="sweep: configurations per model"
        )
        parser.add_argument(
            "--budget", type=float, default=sweep.BUDGET_CPU_S, help="sweep: CPU seconds per trial"
        )
        parser.add_argument(
            "--finalists", type=int, default=sweep.FINALISTS, help="sweep: configurations in the finals"
        )
        parser.add_argument(
            "--finals-budget",
            type=float,
            default=sweep.FINALS_BUDGET_CPU_S,
            help="sweep: CPU seconds per finals trial",
        )
        parser.add_argument(
            "--validation-seeds", type=int, nargs="+", default=list(sweep.VALIDATION_SEEDS), help="sweep"
        )
        parser.add_argument(
            "--threads", type=int, default=1, help="report: torch threads (the sweep always uses one)"
        )

    def handle(
        self, *args, action: str, dataset: list[str] | None, seeds: int, wait: bool, **options
    ) -> None:
        if not 1 <= seeds <= boards.MAX_SEEDS:
            raise CommandError(f"--seeds must be between 1 and {boards.MAX_SEEDS}")
        datasets = dataset or list(boards.BOARDS)
        if action == "status":
            self._print_boards(datasets, seeds)
            return
        if action in ("publish", "load"):
            self._publish(datasets) if action == "publish" else self._load()
            return
        if action in ("sweep", "report"):
            # The sweep's protocol is one thread; report runs may use more (digits, on an idle machine).
            torch_threads(1 if action == "sweep" else max(1, options["threads"]))
            for name in datasets:
                if action == "sweep":
                    self._sweep(name, options)
                else:
                    self._report(name, seeds, options["model"])
            return
        redis_ok, workers_ok, detail = broker_status()
        if not redis_ok:
            self.stdout.write(
                self.style.WARNING(
                    f"No Celery worker can run anything: Redis is not reachable ({detail}). Nothing was "
                    "requested. Start the site with `make run` (Redis, web and workers) and run this again."
                )
            )
            if wait:
                raise CommandError("cannot --wait without Redis and a worker")
            return
        pending = [(name, p) for name in datasets for p in self._planned(name, seeds)]
        self.stdout.write(
            f"code version {boards.code_version()}: {len(pending)} board run(s) in {', '.join(datasets)}"
        )
        requested, deferred = self._request(pending)
        if not workers_ok:
            queued = sum(1 for run in requested.values() if run.status == RunStatus.QUEUED)
            self.stdout.write(
                self.style.WARNING(
                    f"No Celery worker answered ({detail}): {queued} run(s) stay queued until one starts "
                    "(`make run` starts the workers)."
                )
            )
            if wait:
                raise CommandError("no worker is running, so --wait would wait forever")
            return
        if not wait:
            if deferred:
                self.stdout.write(
                    f"{len(deferred)} run(s) deferred by the active-run cap: run this again later."
                )
            return
        self._wait(requested, deferred, options["timeout"], options["poll"])
        self._print_boards(datasets, seeds)

    # --- published board runs (results/boards/) --------------------------------------------------

    def _publish(self, datasets: list[str]) -> None:
        for name in datasets:
            folder = published.publish(name)
            self.stdout.write(f"{name}: published to {folder}")

    def _load(self) -> None:
        try:
            report = published.load()
        except published.PublishedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"board runs: {report.loaded} loaded, {report.kept} already here")

    # --- equal-effort sweep and in-process board runs ------------------------------------------------

    def _sweep(self, dataset: str, options: dict) -> None:
        models = _sweep_models(dataset, options["model"])
        if not models:
            self.stdout.write(f"{dataset}: no board model to sweep")
            return
        sweep.run(
            dataset,
            models,
            configs=options["configs"],
            seeds=tuple(options["validation_seeds"]),
            budget_s=options["budget"],
            finalists=options["finalists"],
            finals_budget_s=options["finals_budget"],
            log=self.stdout.write,
        )

    def _report(self, dataset: str, seeds: int, only: list[str] | None) -> None:
        for tagged in self._planned(dataset, seeds):
            if only and tagged.key not in only:
                continue
            run, created = services.request_run(
                tagged.recipe, tagged.planned.raw, client_key="board", dispatch=False
            )
            boards.enlist(run)
            if run.status not in (RunStatus.QUEUED, RunStatus.INTERRUPTED):
                self.stdout.write(f"  {dataset} {tagged.recipe} seed {tagged.planned.seed}: {run.status}")
                continue
            if run.status == RunStatus.INTERRUPTED:  # a stopped report or worker: train it again here
                services.requeue_interrupted(run, send=False)
            lease, why = services.acquire(run.pk, worker="results-report")
            status = execution.execute(lease) if lease else f"skipped ({why})"
            self.stdout.write(f"  {dataset} {tagged.recipe} seed {tagged.planned.seed}: {status}")

    # --- steps -----------------------------------------------------------------------------------

    def _planned(self, dataset: str, seeds: int) -> list[boards.PlannedRun]:
        spec = boards.BOARDS[dataset]
        out = []
        for plan in boards.plan(spec, boards.seeds_of(seeds)):
            if plan.recipe is None:
                self.stdout.write(f"  {dataset}: {plan.entry.label} — no demo yet (no recipe runs it)")
                continue
            out.extend(_Tagged(plan.recipe.slug, p, plan.key) for p in plan.runs)
        return out

    def _request(self, pending: list, *, quiet: bool = False) -> tuple[dict[int, Run], list]:
        """Request each planned run; stop at the active-run cap and return the rest as deferred."""
        requested: dict[int, Run] = {}
        tally: Counter[str] = Counter()
        for index, (dataset, tagged) in enumerate(pending):
            try:
                run, created = services.request_run(tagged.recipe, tagged.planned.raw)
                boards.enlist(run)
            except services.Backpressure as exc:
                if not quiet:
                    self.stdout.write(
                        f"  cap reached ({exc.message}); {len(pending) - index} run(s) deferred"
                    )
                return requested, pending[index:]
            requested[run.pk] = run
            state = "new" if created else f"reused ({run.status})"
            tally[state] += 1
            self.stdout.write(
                f"  {dataset} {tagged.recipe} seed {tagged.planned.seed}: {state} run {run.public_id}"
            )
        if not quiet or tally:
            self.stdout.write(
                "requested: " + (", ".join(f"{n} {k}" for k, n in sorted(tally.items())) or "nothing")
            )
        return requested, []

    def _wait(self, requested: dict[int, Run], deferred: list, timeout: float, poll: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if not connection.in_atomic_block:  # a long poll drops stale connections, never a transaction's
                close_old_connections()
            if deferred:  # the cap may have room again
                more, deferred = self._request(deferred, quiet=True)
                requested.update(more)
            states = dict(Run.objects.filter(pk__in=list(requested)).values_list("pk", "status"))
            counts = Counter(states.values())
            line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no runs"
            line += f"; {len(deferred)} deferred" if deferred else ""
            if line != last:
                self.stdout.write(f"  {line}")
                last = line
            if not deferred and all(s in TERMINAL_STATES for s in states.values()):
                return
            if time.monotonic() > deadline:
                raise CommandError(f"gave up waiting after {timeout:.0f} s ({line}); the runs go on")
            time.sleep(poll)

    def _print_boards(self, datasets: list[str], seeds: int) -> None:
        for name in datasets:
            board = aggregate.build(name, seeds)
            self.stdout.write(
                f"\n{board.spec.title} ({name}), code {board.version}: "
                f"{len(board.filled)}/{len(board.rows)} models, {board.runs_used} run(s)"
            )
            metrics = board.metrics[:3] + tuple(m for m in board.metrics if m.key == "nll")
            header = f"  {'model':<22}{'seeds':>6}  " + "".join(f"{m.label:>22}" for m in metrics)
            self.stdout.write(header)
            for row in board.rows:
                if not row.has_demo:
                    self.stdout.write(f"  {row.label:<22}{'—':>6}  no demo yet")
                    continue
                cells = "".join(f"{row.cells[m.key].text:>22}" for m in metrics)
                stale = "  (stale)" if row.stale else ""
                self.stdout.write(f"  {row.label:<22}{len(row.runs):>6}  {cells}{stale}")


class _Tagged:
    __slots__ = ("key", "planned", "recipe")

    def __init__(self, recipe: str, planned: boards.PlannedRun, key: str = "") -> None:
        self.recipe, self.planned, self.key = recipe, planned, key


def torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _sweep_models(dataset: str, only: list[str] | None) -> list[sweep.Model]:
    """The board's entries with a recipe and a search space, each with its board overrides."""
    spec = boards.BOARDS[dataset]
    models = []
    for entry in spec.entries:
        if (only and entry.key not in only) or entry.key not in sweep.spaces(dataset):
            continue
        recipe, overrides = boards.resolve_candidate(entry, dataset)
        if recipe is not None:
            models.append(sweep.Model(entry.key, recipe, overrides))
    return models
