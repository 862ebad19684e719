"""`content preview FILE`: one record rendered as the site's node page renders it.

The record is checked with the rest of its tree (links and paper keys resolve against it),
rendered by the loader's own functions (`render_record`, `node_row`) and put through the site's
`graph/_node_body.html` template. Relations, lens tables and live demos need the loaded
database and are left out; everything the file itself says is shown.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.template.loader import render_to_string

from atlas.content.build import direct_families, node_families, node_row, paper_row, render_record
from atlas.content.errors import CheckError
from atlas.content.render import Renderer
from atlas.content.validate import Record, Report, check
from atlas.graph.views import KIND_LABELS
from atlas.papers.models import Paper

STYLESHEETS = ("atlas/atlas.css", "atlas/code.css")


@dataclass
class Preview:
    html: str  # a whole HTML document; "" when the file has errors
    errors: list[CheckError]
    other_errors: int  # errors elsewhere in the tree (not shown: run `content check`)


def static_dir() -> Path:
    return Path(settings.BASE_DIR) / "frontend" / "static"


def _content_root(path: Path) -> Path:
    """content/<folder>/<file>: the tree the file belongs to."""
    return path.resolve().parent.parent


def _papers(record: Record, papers: dict[str, Record]) -> list[Paper]:
    """The cited papers as (unsaved) model rows, so that the template shows them as the site does."""
    keys = record.fields.get("papers", [])
    return [Paper(key=key, **paper_row(papers[key])) for key in keys if key in papers]


def _document(title: str, body: str, static_url: str) -> str:
    links = "".join(f'<link rel="stylesheet" href="{static_url}{sheet}">' for sheet in STYLESHEETS)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · preview</title>{links}</head>\n"
        f'<body><main id="main"><article class="node-page">\n{body}\n</article></main></body></html>\n'
    )


def render_preview(path: Path, static_url: str | None = None) -> Preview:
    """The page of the record in `path`, or the errors that stop it from rendering. Stylesheets
    come from `static_url` (default: the repository's static folder as a file:// URL)."""
    path = Path(path).resolve()
    root = _content_root(path)
    result = check(root, strict=False)
    display = f"{root.name}/{path.parent.name}/{path.name}"  # how the check names this file
    mine = [error for error in result.errors if error.path == display]
    record = next((r for r in result.records if r.source.path.resolve() == path), None)
    if record is None and not mine:
        mine = [
            CheckError(str(path), 0, "not a record of a content tree (content/<kind folder>/<slug>.md|yaml)")
        ]
    other = len(result.errors) - len(mine)
    if mine or record is None:
        return Preview("", mine, other)
    if record.kind == "paper":
        return Preview(
            "",
            [CheckError(record.source.display, 0, "papers have no page; preview a node that cites it")],
            other,
        )
    nodes = [r for r in result.records if r.kind != "paper"]
    renderer = Renderer({r.slug: r.fields.get("title", r.slug) for r in nodes})
    report = Report()
    body_html = render_record(record, renderer, report)
    row = node_row(record, body_html, node_families(record, direct_families(nodes)))
    papers = {r.slug: r for r in result.records if r.kind == "paper"}
    context = {
        "node": SimpleNamespace(slug=record.slug, **row),
        "kind_label": KIND_LABELS.get(record.kind, record.kind),
        "papers": _papers(record, papers),
    }
    body = render_to_string("graph/_node_body.html", context)
    return Preview(
        _document(row["title"], body, static_url or static_dir().as_uri() + "/"), report.errors, other
    )


def preview_server(path: Path, port: int, on_errors: Callable[[Preview], None]) -> ThreadingHTTPServer:
    """A local server that renders `path` afresh on every request (edit, save, reload) and serves
    the site's static files under /static/. Errors go to `on_errors` and to the page."""
    root = static_dir().resolve()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path.startswith("/static/"):
                self._static(self.path.removeprefix("/static/").split("?")[0])
                return
            preview = render_preview(path, static_url="/static/")
            if preview.errors:
                on_errors(preview)
                lines = "\n".join(str(error) for error in preview.errors)
                self._send(200, "text/html", f"<pre>{escape(lines)}</pre>".encode())
            else:
                self._send(200, "text/html", preview.html.encode())

        def _static(self, name: str) -> None:
            file = (root / name).resolve()
            if not file.is_relative_to(root) or not file.is_file():
                self._send(404, "text/plain", b"not found")
                return
            self._send(
                200, mimetypes.guess_type(file.name)[0] or "application/octet-stream", file.read_bytes()
            )

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the command prints the URL
            return

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
