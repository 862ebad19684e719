"""`manage.py experiments run [--only SLUG ...] [--scale smoke|full]`: refresh stored experiment results."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atlas.experiments import services
from compute import experiments


class Command(BaseCommand):
    help = "Run the failure-mode and unification experiments and store their results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "list"])
        parser.add_argument("--only", nargs="+", default=None, metavar="SLUG")
        parser.add_argument("--scale", choices=["smoke", "full"], default="full")

    def handle(self, *args, action: str, only: list[str] | None, scale: str, **options) -> None:
        if action == "list":
            for slug in experiments.names():
                self.stdout.write(slug)
            return
        unknown = sorted(set(only or []) - set(experiments.names()))
        if unknown:
            raise CommandError(
                f"unknown experiment(s): {', '.join(unknown)}; valid: {', '.join(experiments.names())}"
            )
        failed = []
        for slug in only or experiments.names():
            self.stdout.write(f"== {slug} ({scale})")
            try:
                record = services.run_and_store(slug, scale, log=lambda m: self.stdout.write(f"   {m}"))
            except Exception as exc:  # one broken experiment must not stop the others
                failed.append(slug)
                self.stderr.write(f"   FAILED: {type(exc).__name__}: {exc}")
                continue
            self.stdout.write(f"   {record.verdict}: {record.verdict_text} ({record.wall_time_s:.1f}s)")
        if failed:
            raise CommandError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}")
