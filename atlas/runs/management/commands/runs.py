"""`manage.py runs recover|reap`: housekeeping of runs."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from atlas.runs import services


class Command(BaseCommand):
    help = (
        "recover: re-queue runs interrupted or orphaned by a stopped stack (at start-up). "
        "reap: re-queue interrupted runs, end or re-queue runs whose worker stopped heartbeating "
        "(--loop keeps doing it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["recover", "reap"])
        parser.add_argument("--all", action="store_true", help="recover: every active run is an orphan")
        parser.add_argument(
            "--loop", action="store_true", help="reap: forever, every ATLAS_REAPER_EVERY seconds"
        )

    def handle(self, *args, action: str, all: bool, loop: bool, **options) -> None:
        if action == "recover":
            count = services.recover_orphans(everything=all)
            self.stdout.write(f"recovered {count} orphaned run(s)")
            return
        while True:
            counts = services.reap()
            if any(counts.values()) or not loop:
                self.stdout.write("reaped: " + ", ".join(f"{k} {v}" for k, v in counts.items()), ending="\n")
                self.stdout.flush()
            if not loop:
                return
            close_old_connections()
            time.sleep(settings.ATLAS_REAPER_EVERY)
