"""`manage.py experiments run|publish|load|list`: measure, publish and load experiment results.

run [--only SLUG ...] [--scale smoke|full] [--publish]: run experiments and store their records.
publish [--only SLUG ...]: copy stored records to results/experiments/ (to commit with the code).
load: bring published records into this database where it has none or an older one (`make run`
does this at start).
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atlas.experiments import published, services
from atlas.experiments.models import ExperimentRecord
from compute import experiments


class Command(BaseCommand):
    help = "Run the failure-mode and unification experiments, store, publish or load their results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "publish", "load", "list"])
        parser.add_argument("--only", nargs="+", default=None, metavar="SLUG")
        parser.add_argument("--scale", choices=["smoke", "full"], default="full")
        parser.add_argument("--publish", action="store_true", help="run: also publish each new record")

    def handle(self, *args, action: str, only: list[str] | None, scale: str, **options) -> None:
        if action == "list":
            for slug in experiments.names():
                self.stdout.write(slug)
        elif action == "load":
            self._load()
        elif action == "publish":
            self._publish(self._slugs(only))
        else:
            self._run(self._slugs(only), scale, options["publish"])

    def _slugs(self, only: list[str] | None) -> list[str]:
        unknown = sorted(set(only or []) - set(experiments.names()))
        if unknown:
            raise CommandError(
                f"unknown experiment(s): {', '.join(unknown)}; valid: {', '.join(experiments.names())}"
            )
        return only or experiments.names()

    def _run(self, slugs: list[str], scale: str, publish: bool) -> None:
        failed = []
        for slug in slugs:
            self.stdout.write(f"== {slug} ({scale})")
            try:
                record = services.run_and_store(slug, scale, log=lambda m: self.stdout.write(f"   {m}"))
            except Exception as exc:  # one broken experiment must not stop the others
                failed.append(slug)
                self.stderr.write(f"   FAILED: {type(exc).__name__}: {exc}")
                continue
            self.stdout.write(f"   {record.verdict}: {record.verdict_text} ({record.wall_time_s:.1f}s)")
            if publish:
                self.stdout.write(f"   published to {published.publish(record)}")
        if failed:
            raise CommandError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}")

    def _publish(self, slugs: list[str]) -> None:
        records = {r.slug: r for r in ExperimentRecord.objects.filter(slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in records]
        for slug in slugs:
            if slug in records:
                self.stdout.write(f"{slug}: published to {published.publish(records[slug])}")
        if missing:
            raise CommandError(f"no stored record to publish for: {', '.join(missing)} (run them first)")

    def _load(self) -> None:
        try:
            report = published.load()
        except published.PublishedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"experiments: {len(report.loaded)} published record(s) loaded, "
            f"{len(report.kept)} kept as they were (same or newer in the database)"
        )
