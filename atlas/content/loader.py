"""`load(content_dir)`: check, then make the database hold exactly what `content/` says.

The check runs first and nothing is written unless it passes. The writes happen in one
transaction: parents are created/updated first (papers, nodes), then the child tables are fully
synchronised (edges, citations, lens values and their papers), then stale parents are deleted.
Rows are matched by natural key and rewritten only when a value differs, so loading the same
content twice reports no change on the second run. Every table is read once and written with
bulk operations: the number of queries does not grow with the number of records (apart from
batching).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from atlas.content.build import ContentTree
from atlas.content.errors import ContentError
from atlas.content.validate import check
from atlas.graph.models import ContentVersion, Edge, LensValue, Node, NodePaper
from atlas.papers.models import Paper

BATCH = 200

# Sent after the load's transaction committed, when anything changed: `sender=None, report=...`.
content_loaded = Signal()

PAPER_FIELDS = ["title", "authors", "year", "venue", "arxiv", "doi", "url", "note", "source_path"]
NODE_FIELDS = [
    "kind",
    "title",
    "summary",
    "body_md",
    "body_html",
    "data",
    "families",
    "equation",
    "equation_html",
    "aliases",
    "figures",
    "order",
    "source_path",
    "search_text",
]
EDGE_FIELDS = ["text", "style", "origin"]
LENS_VALUE_FIELDS = ["text", "text_html", "facets", "order"]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.created + self.updated + self.deleted

    def __str__(self) -> str:
        changes = f"{self.created} created, {self.updated} updated, {self.deleted} deleted"
        return f"{changes}, {self.unchanged} unchanged"


@dataclass
class LoadReport:
    counts: dict[str, Counts] = field(default_factory=dict)
    hash: str = ""
    files: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> Counts:
        total = Counts()
        for counts in self.counts.values():
            total.created += counts.created
            total.updated += counts.updated
            total.deleted += counts.deleted
            total.unchanged += counts.unchanged
        return total

    @property
    def changed(self) -> bool:
        return self.total.changes > 0

    def lines(self) -> list[str]:
        width = max(len(name) for name in self.counts)
        rows = [f"{name:<{width}}  {counts}" for name, counts in self.counts.items()]
        summary = f"loaded {self.files} files in {self.seconds:.2f}s (content {self.hash[:12]}): {self.total}"
        return [*rows, summary]


@dataclass
class _Plan:
    """What one table needs: rows to create, rows to update, pks to delete."""

    counts: Counts = field(default_factory=Counts)
    create: list[models.Model] = field(default_factory=list)
    update: list[models.Model] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)


def _plan(
    existing: dict[Hashable, models.Model],
    desired: dict[Hashable, dict[str, Any]],
    make: Callable[[Hashable, dict[str, Any]], models.Model],
) -> _Plan:
    plan = _Plan()
    for key, values in desired.items():
        row = existing.get(key)
        if row is None:
            plan.create.append(make(key, values))
            continue
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        for name in changed:
            setattr(row, name, values[name])
        if changed:
            plan.update.append(row)
        else:
            plan.counts.unchanged += 1
    plan.delete = [row.pk for key, row in existing.items() if key not in desired]
    plan.counts.created, plan.counts.updated, plan.counts.deleted = (
        len(plan.create),
        len(plan.update),
        len(plan.delete),
    )
    return plan


def _write(model: type[models.Model], plan: _Plan, fields: list[str], *, delete: bool = True) -> None:
    model.objects.bulk_create(plan.create, batch_size=BATCH)
    if plan.update and fields:
        model.objects.bulk_update(plan.update, fields, batch_size=BATCH)
    if delete:
        _delete(model, plan.delete)


def _delete(model: type[models.Model], pks: list[int]) -> None:
    for start in range(0, len(pks), BATCH):
        model.objects.filter(pk__in=pks[start : start + BATCH]).delete()


def _sync_version(tree: ContentTree) -> Counts:
    row = ContentVersion.objects.filter(id=1).first()
    if row is None:
        ContentVersion.objects.create(id=1, hash=tree.hash, files=tree.files, loaded_at=timezone.now())
        return Counts(created=1)
    if row.hash == tree.hash and row.files == tree.files:
        return Counts(unchanged=1)
    row.hash, row.files, row.loaded_at = tree.hash, tree.files, timezone.now()
    row.save(update_fields=["hash", "files", "loaded_at"])
    return Counts(updated=1)


def apply(tree: ContentTree) -> LoadReport:
    """Write `tree` (from a passing check) to the database in one transaction."""
    report = LoadReport(hash=tree.hash, files=tree.files)
    with transaction.atomic():
        papers = _plan(
            {p.key: p for p in Paper.objects.all()}, tree.papers, lambda key, values: Paper(key=key, **values)
        )
        _write(Paper, papers, PAPER_FIELDS, delete=False)
        nodes = _plan({n.slug: n for n in Node.objects.all()}, tree.nodes, lambda key, v: Node(slug=key, **v))
        _write(Node, nodes, NODE_FIELDS, delete=False)

        paper_id = dict(Paper.objects.values_list("key", "id"))
        node_id = dict(Node.objects.values_list("slug", "id"))
        report.counts["papers"], report.counts["nodes"] = papers.counts, nodes.counts
        report.counts["edges"] = _sync_edges(tree, node_id)
        report.counts["citations"] = _sync_citations(tree, node_id, paper_id)
        report.counts["lens values"], report.counts["lens value papers"] = _sync_lens_values(
            tree, node_id, paper_id
        )
        _delete(Node, nodes.delete)
        _delete(Paper, papers.delete)
        report.counts["content version"] = _sync_version(tree)
        if report.changed:
            transaction.on_commit(lambda: content_loaded.send(sender=None, report=report))
    return report


def _sync_edges(tree: ContentTree, node_id: dict[str, int]) -> Counts:
    desired = {
        (node_id[source], node_id[target], kind): {"text": row.text, "style": row.style, "origin": row.origin}
        for (source, target, kind), row in tree.edges.items()
    }
    existing = {(e.source_id, e.target_id, e.kind): e for e in Edge.objects.all()}
    plan = _plan(existing, desired, lambda k, v: Edge(source_id=k[0], target_id=k[1], kind=k[2], **v))
    _write(Edge, plan, EDGE_FIELDS)
    return plan.counts


def _sync_citations(tree: ContentTree, node_id: dict[str, int], paper_id: dict[str, int]) -> Counts:
    desired = {
        (node_id[slug], paper_id[key]): {"position": position}
        for slug, keys in tree.citations.items()
        for position, key in enumerate(keys)
    }
    existing = {(c.node_id, c.paper_id): c for c in NodePaper.objects.all()}
    plan = _plan(existing, desired, lambda k, v: NodePaper(node_id=k[0], paper_id=k[1], **v))
    _write(NodePaper, plan, ["position"])
    return plan.counts


def _sync_lens_values(
    tree: ContentTree, node_id: dict[str, int], paper_id: dict[str, int]
) -> tuple[Counts, Counts]:
    desired = {
        (node_id[row.lens], node_id[row.family], row.variant): {
            "text": row.text,
            "text_html": row.text_html,
            "facets": row.facets,
            "order": row.order,
        }
        for row in tree.lens_values
    }
    existing = {(v.lens_id, v.family_id, v.variant): v for v in LensValue.objects.all()}
    plan = _plan(existing, desired, lambda k, v: LensValue(lens_id=k[0], family_id=k[1], variant=k[2], **v))
    _write(LensValue, plan, LENS_VALUE_FIELDS)

    value_id = {
        (v[1], v[2], v[3]): v[0]
        for v in LensValue.objects.values_list("id", "lens_id", "family_id", "variant")
    }
    through = LensValue.papers.through
    desired_papers: dict[Hashable, dict[str, Any]] = {
        (value_id[(node_id[row.lens], node_id[row.family], row.variant)], paper_id[key]): {}
        for row in tree.lens_values
        for key in row.papers
    }
    existing_papers = {(t.lensvalue_id, t.paper_id): t for t in through.objects.all()}
    paper_plan = _plan(
        existing_papers, desired_papers, lambda k, v: through(lensvalue_id=k[0], paper_id=k[1])
    )
    _write(through, paper_plan, [])
    return plan.counts, paper_plan.counts


def load(content_dir: Path | None = None, *, strict: bool = True) -> LoadReport:
    """Check `content_dir` (default: settings.CONTENT_DIR) and load it. Raises ContentError,
    with the database untouched, when the check fails."""
    started = time.perf_counter()
    result = check(Path(content_dir or settings.CONTENT_DIR), strict=strict)
    if result.errors or result.tree is None:
        raise ContentError(result.errors)
    report = apply(result.tree)
    report.seconds = time.perf_counter() - started
    return report
