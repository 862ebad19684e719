"""`manage.py runs recover`: housekeeping of runs."""

from django.core.management.base import BaseCommand, CommandParser

from atlas.runs import services


class Command(BaseCommand):
    help = "Housekeeping of runs: `recover` ends runs orphaned by dead workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["recover"])

    def handle(self, *args, action: str, **options) -> None:
        if action == "recover":
            count = services.recover_orphans()
            self.stdout.write(f"recovered {count} orphaned run(s)")
