"""Validated records → the rows to store: rendered HTML, derived families and typed edges.

Derived edges (source → target, kind, origin):
- explicit `edges:`                    record → to, its kind (explicit text/style win on a clash)
- method `parent`                      method → parent, variant_of
- unification `connects`               unification → each node, unifies
- failure-mode `affects`               family → failure mode, suffers_from
- failure-mode `fixes[].node`          node → failure mode, fixes
- `related` (any kind)                 record → each node, related
- pipeline `components[].node`         node → pipeline, component_of
- guide leaves' `recommends`           guide → node, recommends
`papers:` become NodePaper rows (the `cites` relation), not Edge rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from atlas.content.parse import ParsedFile, tree_hash
from atlas.content.render import RENDER_VERSION, Renderer
from atlas.content.schema import FAMILIES

BUILD_VERSION = "1"  # bump when derived rows change for the same source

NODE_COLUMNS = {"kind", "slug", "title", "summary", "papers", "edges", "figures", "equation", "aliases"}
LENS_KEYS = {"values", "variants"}
EdgeKey = tuple[str, str, str]


@dataclass
class EdgeRow:
    text: str
    style: str
    origin: str


@dataclass
class LensValueRow:
    lens: str
    family: str
    variant: str | None
    text: str
    text_html: str
    facets: list[str]
    order: int
    papers: list[str]


@dataclass
class ContentTree:
    papers: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → column values
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug → column values
    citations: dict[str, list[str]] = field(default_factory=dict)  # slug → paper keys, in order
    edges: dict[EdgeKey, EdgeRow] = field(default_factory=dict)
    lens_values: list[LensValueRow] = field(default_factory=list)
    hash: str = ""
    files: int = 0


def _plain(value: Any) -> Any:
    """JSON-normal form, so that values read back from a JSONField compare equal."""
    return json.loads(json.dumps(value))


def _attach_html(fields: dict[str, Any], path: tuple[str | int, ...], html: str) -> None:
    """Put `html` next to the source text at `path`: `key_html` for a key, or item i of
    `key_html` for item i of a list of strings."""
    *parents, last = path
    if isinstance(last, int):
        *parents, key = parents
    container: Any = fields
    for part in parents:
        container = container[part]
    if isinstance(last, int):
        container.setdefault(f"{key}_html", [""] * len(container[key]))[last] = html
    else:
        container[f"{last}_html"] = html


def render_record(record: Any, renderer: Renderer, report: Any) -> str:
    """Render every Markdown/LaTeX field (attaching the HTML to `record.fields`) and the body;
    returns the body's HTML. Issues (bad LaTeX, unknown links) go to `report`."""
    for text in record.found.texts:
        if text.mode == "latex":
            html, issues = renderer.math(text.value, text.path == ("equation",), text.line)
        else:
            html, issues = renderer.inline(text.value, text.line)
        for line, message in issues:
            report.add(record.source, line, f"{message} (in '{'.'.join(map(str, text.path))}')")
        if record.valid_shape:
            _attach_html(record.fields, text.path, html)
    body_html, issues = renderer.block(record.body, record.body_line)
    for line, message in issues:
        report.add(record.source, line, message)
    return body_html


def _direct_families(record: Any) -> list[str]:
    fields = record.fields
    if record.kind == "family":
        return [record.slug]
    if record.kind == "failure-mode":
        return list(fields.get("affects", []))
    if record.kind in {"method", "glossary"}:
        return list(fields.get("families", []))
    return []


def _ordered(families: set[str]) -> list[str]:
    return [family for family in FAMILIES if family in families]


def node_families(record: Any, direct: dict[str, list[str]]) -> list[str]:
    """The families shown on a node: its own (`direct`, by slug), and for a unification also
    those of the nodes it connects."""
    families = set(direct.get(record.slug, []))
    if record.kind == "unification":
        families.update(f for target in record.fields["connects"] for f in direct.get(target, []))
    return _ordered(families)


def direct_families(nodes: list[Any]) -> dict[str, list[str]]:
    return {r.slug: _direct_families(r) for r in nodes}


def node_row(record: Any, body_html: str, families: list[str]) -> dict[str, Any]:
    fields = record.fields
    data = {k: v for k, v in fields.items() if k not in NODE_COLUMNS | LENS_KEYS and k != "equation_html"}
    search = [record.slug, fields["title"], *fields.get("aliases", []), fields["summary"], record.body]
    return _plain(
        {
            "kind": record.kind,
            "title": fields["title"],
            "summary": fields["summary"],
            "body_md": record.body.strip("\n"),
            "body_html": body_html,
            "data": data,
            "families": families,
            "equation": fields.get("equation", ""),
            "equation_html": fields.get("equation_html", ""),
            "aliases": fields.get("aliases", []),
            "figures": fields.get("figures", []),
            "order": fields.get("order", fields.get("number", 0)),
            "source_path": record.source.rel,
            "search_text": " ".join(search).lower(),
        }
    )


def paper_row(record: Any) -> dict[str, Any]:
    fields = record.fields
    optional = {key: fields.get(key, "") for key in ("venue", "arxiv", "doi", "url", "note")}
    return _plain(
        {
            "title": fields["title"],
            "authors": fields["authors"],
            "year": fields["year"],
            **optional,
            "source_path": record.source.rel,
        }
    )


class _Edges:
    def __init__(self) -> None:
        self.rows: dict[EdgeKey, EdgeRow] = {}

    def add(
        self, source: str, target: str, kind: str, text: str = "", style: str = "solid", origin: str = ""
    ) -> None:
        key = (source, target, kind)
        existing = self.rows.get(key)
        if existing is None or (origin == "edges" and existing.origin != "edges"):
            self.rows[key] = EdgeRow(text, style, origin)
        elif existing.origin != "edges" and text and text not in existing.text.split("; "):
            existing.text = f"{existing.text}; {text}" if existing.text else text
            existing.text = existing.text[:500]


def _derive_edges(record: Any, edges: _Edges) -> None:
    fields, slug = record.fields, record.slug
    for edge in fields.get("edges", []):
        edges.add(slug, edge["to"], edge["kind"], edge.get("text", ""), edge.get("style", "solid"), "edges")
    if "parent" in fields:
        edges.add(slug, fields["parent"], "variant_of", origin="parent")
    for target in fields.get("connects", []):
        edges.add(slug, target, "unifies", fields["title"], origin="connects")
    if record.kind == "failure-mode":
        for family in fields["affects"]:
            edges.add(family, slug, "suffers_from", origin="affects")
        for fix in fields["fixes"]:
            if "node" in fix:
                edges.add(fix["node"], slug, "fixes", fix["text"], origin="fixes")
    for target in fields.get("related", []):
        edges.add(slug, target, "related", origin="related")
    for component in fields.get("components", []):
        if "node" in component:
            edges.add(component["node"], slug, "component_of", component["label"], origin="components")
    for leaf in fields.get("leaves", []):
        for target in leaf["recommends"]:
            edges.add(slug, target, "recommends", leaf["title"], origin="guide")


def _lens_values(record: Any) -> list[LensValueRow]:
    rows = [
        LensValueRow(
            record.slug,
            family,
            None,
            value["text"],
            value["text_html"],
            value.get("facets", []),
            0,
            value["papers"],
        )
        for family, value in record.fields["values"].items()
    ]
    for index, variant in enumerate(record.fields.get("variants", []), start=1):
        rows.append(
            LensValueRow(
                record.slug,
                variant["family"],
                variant["variant"],
                variant["text"],
                variant["text_html"],
                [],
                index,
                [],
            )
        )
    return rows


def build_tree(
    records: list[Any], parsed: list[ParsedFile], report: Any, unreadable: set[str] = frozenset()
) -> ContentTree | None:
    """Render everything (reporting bad LaTeX and unknown links); when the whole check passed,
    return the rows to store. Links to `unreadable` files are not reported again."""
    nodes = [r for r in records if r.kind != "paper"]
    titles = {slug: slug for slug in unreadable} | {r.slug: r.fields.get("title", r.slug) for r in nodes}
    renderer = Renderer(titles)
    bodies = {r.slug: render_record(r, renderer, report) for r in nodes}
    if report.errors:
        return None

    tree = ContentTree(
        hash=tree_hash(parsed, f"render={RENDER_VERSION};build={BUILD_VERSION}"), files=len(parsed)
    )
    direct = direct_families(nodes)
    edges = _Edges()
    for record in records:
        if record.kind == "paper":
            tree.papers[record.slug] = paper_row(record)
            continue
        tree.nodes[record.slug] = node_row(record, bodies[record.slug], node_families(record, direct))
        tree.citations[record.slug] = list(record.fields.get("papers", []))
        _derive_edges(record, edges)
        if record.kind in {"lens", "axis"}:
            tree.lens_values.extend(_lens_values(record))
    tree.edges = edges.rows
    return tree
