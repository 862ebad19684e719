"""`manage.py content check|load|new|preview`: validate, load, start and preview content/.

`check`, `new` and `preview` import neither Celery nor torch (tested): a contributor needs only
the Python packages, no Redis, no worker, no database. `load` imports the models lazily.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from atlas.content.errors import CheckError
from atlas.content.lint import lint
from atlas.content.skeleton import NEW_KINDS, SkeletonError, write_skeleton
from atlas.content.validate import check


class Command(BaseCommand):
    help = (
        "`check`: validate content/ (errors and warnings as path:line: message; exit status 1 on "
        "errors, or on warnings with --strict). `load`: check, then load it into the database. "
        "`new KIND SLUG`: write a skeleton record. `preview FILE`: render one record as its page."
    )
    # The URL and model checks import the whole site (DRF, Channels, ...); content needs none of it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{check,load,new,preview}")
        check_parser = actions.add_parser("check", help="validate content/ and print warnings")
        load_parser = actions.add_parser("load", help="check, then load content/ into the database")
        for sub in (check_parser, load_parser):
            sub.add_argument(
                "--dir", type=Path, default=None, help="content directory (default: CONTENT_DIR)"
            )
            sub.add_argument(
                "--lenient",
                action="store_true",
                help="skip the fixed counts of the real atlas (6 families, 8 unifications, ...)",
            )
        check_parser.add_argument("--strict", action="store_true", help="exit with status 1 on warnings too")
        check_parser.add_argument(
            "--seed", type=Path, default=None, help="seed document folder (default: ATLAS_SEED_DIR)"
        )
        new_parser = actions.add_parser("new", help="write a skeleton record for KIND named SLUG")
        new_parser.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(NEW_KINDS)}")
        new_parser.add_argument("slug", metavar="SLUG", help="the file name: lowercase kebab-case")
        new_parser.add_argument(
            "--dir", type=Path, default=None, help="content directory (default: CONTENT_DIR)"
        )
        preview_parser = actions.add_parser("preview", help="render one record file as the site shows it")
        preview_parser.add_argument("file", type=Path, metavar="FILE")
        preview_parser.add_argument(
            "--serve", action="store_true", help="serve it at http://127.0.0.1:PORT/ (re-rendered on reload)"
        )
        preview_parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args, action: str, **options) -> None:
        if action == "preview":
            self.preview(options["file"], options["serve"], options["port"])
            return
        content_dir = Path(options["dir"] or settings.CONTENT_DIR)
        if action == "check":
            seed = options["seed"] or getattr(settings, "ATLAS_SEED_DIR", None)
            self.check_content(content_dir, not options["lenient"], options["strict"], seed)
        elif action == "load":
            self.load_content(content_dir, strict=not options["lenient"])
        else:
            self.new_record(content_dir, options["kind"], options["slug"])

    def fail(self, errors: list[CheckError]) -> None:
        for error in errors:
            self.stdout.write(str(error))
        raise CommandError(f"{len(errors)} content error(s)", returncode=1)

    def check_content(self, content_dir: Path, strict: bool, warnings_fail: bool, seed: Path | None) -> None:
        started = time.perf_counter()
        result = check(content_dir, strict=strict)
        if result.errors:  # errors first: the warnings come once the tree passes
            self.fail(result.errors)
        report = lint(result.records, result.parsed, seed)
        for warning in report.warnings:
            self.stdout.write(str(warning))
        nodes = len(result.tree.nodes) if result.tree else 0
        papers = len(result.tree.papers) if result.tree else 0
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"content OK: {len(result.parsed)} files ({nodes} nodes, {papers} papers) in {seconds:.2f}s"
        )
        self.stdout.write(report.summary())
        self.stdout.write(report.own_words.line())
        if warnings_fail and report.warnings:
            raise CommandError(f"{len(report.warnings)} content warning(s) (--strict)", returncode=1)

    def load_content(self, content_dir: Path, strict: bool) -> None:
        from atlas.content.errors import ContentError
        from atlas.content.loader import load  # the models: only `load` needs them

        try:
            report = load(content_dir, strict=strict)
        except ContentError as exc:
            self.fail(exc.errors)
        for line in report.lines():
            self.stdout.write(line)

    def new_record(self, content_dir: Path, kind: str, slug: str) -> None:
        try:
            path = write_skeleton(content_dir, kind, slug)
        except (SkeletonError, FileExistsError) as exc:
            raise CommandError(str(exc), returncode=1) from None
        self.stdout.write(f"wrote {path}: replace every TODO, then run `manage.py content check`")

    def preview(self, file: Path, serve: bool, port: int) -> None:
        from atlas.content.preview import Preview, preview_server, render_preview

        def report(preview: Preview) -> None:
            for error in preview.errors:
                self.stderr.write(str(error))
            if preview.other_errors:
                self.stderr.write(f"({preview.other_errors} error(s) in other files: run `content check`)")

        if serve:
            server = preview_server(file, port, report)
            self.stdout.write(
                f"preview of {file} at http://127.0.0.1:{port}/ (reload after each edit; Ctrl-C stops)"
            )
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
            return
        preview = render_preview(file)
        report(preview)
        if preview.errors:
            raise CommandError(f"{len(preview.errors)} error(s) in {file}", returncode=1)
        self.stdout.write(preview.html, ending="")
