"""`manage.py content check|load`: validate content/ and load it into the database."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from atlas.content.errors import CheckError, ContentError
from atlas.content.loader import load
from atlas.content.validate import check


class Command(BaseCommand):
    help = (
        "`check`: validate content/ (errors as path:line: message, exit status 1 when any). "
        "`load`: check, then load it into the database in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "load"])
        parser.add_argument(
            "--dir", type=Path, default=None, help="content directory (default: settings.CONTENT_DIR)"
        )
        parser.add_argument(
            "--lenient",
            action="store_true",
            help="skip the fixed counts of the real atlas (6 families, 8 unifications, ...)",
        )

    def handle(self, *args, action: str, dir: Path | None, lenient: bool, **options) -> None:
        content_dir = Path(dir or settings.CONTENT_DIR)
        if action == "check":
            self.check_content(content_dir, strict=not lenient)
        else:
            self.load_content(content_dir, strict=not lenient)

    def fail(self, errors: list[CheckError]) -> None:
        for error in errors:
            self.stdout.write(str(error))
        raise CommandError(f"{len(errors)} content error(s)", returncode=1)

    def check_content(self, content_dir: Path, strict: bool) -> None:
        started = time.perf_counter()
        result = check(content_dir, strict=strict)
        if result.errors:
            self.fail(result.errors)
        nodes = len(result.tree.nodes) if result.tree else 0
        papers = len(result.tree.papers) if result.tree else 0
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"content OK: {len(result.parsed)} files ({nodes} nodes, {papers} papers) in {seconds:.2f}s"
        )

    def load_content(self, content_dir: Path, strict: bool) -> None:
        try:
            report = load(content_dir, strict=strict)
        except ContentError as exc:
            self.fail(exc.errors)
        for line in report.lines():
            self.stdout.write(line)
