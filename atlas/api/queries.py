"""What the read endpoints select for their validated query parameters: querysets, ordered by a
unique key last (so pages never overlap), built here so that the views only parse, call and
serialize. An unknown node named by a parameter is a ValidationError naming that parameter.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db.models import Prefetch, QuerySet
from rest_framework.exceptions import ValidationError

from atlas.graph import services as graph
from atlas.graph.models import Edge, LensValue, Node, NodeKind, NodePaper
from atlas.papers.models import Paper

LENS_KINDS = (NodeKind.LENS, NodeKind.AXIS)


def reversible(**orderings: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Each named ordering and its reverse `-name`: only the first column flips, the others (ending
    with a unique key) break ties the same way both ways."""
    both: dict[str, tuple[str, ...]] = {}
    for name, (first, *ties) in orderings.items():
        both[name] = (first, *ties)
        both[f"-{name}"] = (f"-{first}", *ties)
    return both


NODE_ORDERINGS = reversible(
    kind=("kind", "order", "slug"), slug=("slug",), title=("title", "slug"), order=("order", "slug")
)
EDGE_ORDERINGS = reversible(
    source=("source__slug", "kind", "target__slug"),
    target=("target__slug", "kind", "source__slug"),
    kind=("kind", "source__slug", "target__slug"),
)
PAPER_ORDERINGS = reversible(key=("key",), year=("year", "key"), title=("title", "key"))
LIST_DEFERRED = ("body_md", "body_html", "search_text", "equation", "equation_html", "figures")


def unknown_node(slug: str) -> str:
    return f"No node with slug {slug!r}."


def require_nodes(query: dict[str, Any], *names: str) -> None:
    """A 400 naming the first parameter among `names` whose node does not exist."""
    for name in names:
        slug = query.get(name)
        if slug and not Node.objects.filter(slug=slug).exists():
            raise ValidationError({name: [unknown_node(slug)]})


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching: `Müller` → `muller`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    return [word for word in fold(text).split() if word]


# --- Nodes and edges -----------------------------------------------------------------------------


def nodes(query: dict[str, Any]) -> QuerySet[Node]:
    selected = Node.objects.defer(*LIST_DEFERRED)
    if query.get("kind"):
        selected = selected.filter(kind=query["kind"])
    for word in words(query.get("q", "")):
        selected = selected.filter(search_text__contains=word)
    if query.get("family"):
        # `families` is a JSON list: membership is tested here, the same on SQLite and PostgreSQL.
        family = query["family"]
        ids = [pk for pk, names in selected.values_list("id", "families") if family in names]
        selected = selected.filter(id__in=ids)
    return selected.order_by(*NODE_ORDERINGS[query["ordering"]])


def node_detail() -> QuerySet[Node]:
    return Node.objects.prefetch_related(
        Prefetch("citations", NodePaper.objects.select_related("paper").order_by("position")),
        Prefetch("out_edges", Edge.objects.select_related("target")),
        Prefetch("in_edges", Edge.objects.select_related("source")),
    )


def edges(query: dict[str, Any]) -> QuerySet[Edge]:
    require_nodes(query, "source", "target", "node")
    selected = Edge.objects.select_related("source", "target").only(
        "kind", "text", "style", "origin", "source__slug", "target__slug"
    )
    for name, lookup in (("kind", "kind"), ("source", "source__slug"), ("target", "target__slug")):
        if query.get(name):
            selected = selected.filter(**{lookup: query[name]})
    if query.get("node"):
        node_id = Node.objects.get(slug=query["node"]).id
        selected = selected.filter(source_id=node_id) | selected.filter(target_id=node_id)
    return selected.order_by(*EDGE_ORDERINGS[query["ordering"]])


def path_ends(source: str, target: str) -> dict[str, Node]:
    """The two end nodes by slug, or a 400 naming each of `from` / `to` that does not exist."""
    ends = {n.slug: n for n in Node.objects.filter(slug__in=[source, target]).only("slug", "kind", "title")}
    errors = {
        name: [unknown_node(slug)] for name, slug in (("from", source), ("to", target)) if slug not in ends
    }
    if errors:
        raise ValidationError(errors)
    return ends


def paths(source: str, target: str, k: int) -> list[dict[str, Any]]:
    """Up to k explained paths, cheapest first; a node to itself is one path of length 0."""
    if source == target:
        return [{"length": 0, "nodes": [source], "hops": []}]
    try:
        found = graph.explained_paths(source, target, k=k)
    except KeyError as exc:  # the graph lags the tables only between a load and its cache refresh
        missing = exc.args[0]
        raise ValidationError({"from" if missing == source else "to": [unknown_node(missing)]}) from None
    return [
        {"length": len(hops), "nodes": [source, *(hop["to"] for hop in hops)], "hops": hops} for hops in found
    ]


# --- Lenses and papers ---------------------------------------------------------------------------


def lens_tables() -> QuerySet[Node]:
    values = LensValue.objects.select_related("family").prefetch_related("papers")
    return (
        Node.objects.filter(kind__in=LENS_KINDS)
        .only("slug", "kind", "title", "summary", "order", "data")
        .prefetch_related(Prefetch("lens_values", values))
    )


def lenses(query: dict[str, Any]) -> QuerySet[Node]:
    selected = lens_tables()
    if query.get("kind"):
        selected = selected.filter(kind=query["kind"])
    if query.get("facet"):
        facet = query["facet"]
        ids = {
            lens_id
            for lens_id, tags in LensValue.objects.filter(lens__kind__in=LENS_KINDS).values_list(
                "lens_id", "facets"
            )
            if facet in tags
        }
        selected = selected.filter(id__in=ids)
    return selected.order_by("kind", "order", "slug")


def paper_records() -> QuerySet[Paper]:
    return Paper.objects.prefetch_related(
        Prefetch("citations", NodePaper.objects.select_related("node").only("id", "paper_id", "node__slug"))
    )


def papers(query: dict[str, Any]) -> QuerySet[Paper]:
    selected = paper_records()
    if query.get("node"):
        require_nodes(query, "node")
        selected = selected.filter(citations__node__slug=query["node"])
    for name, lookup in (("year", "year"), ("year_min", "year__gte"), ("year_max", "year__lte")):
        if query.get(name) is not None:
            selected = selected.filter(**{lookup: query[name]})
    author, wanted = fold(query.get("author", "")), words(query.get("q", ""))
    if author or wanted:
        selected = selected.filter(id__in=_matching_papers(selected, author, wanted))
    return selected.order_by(*PAPER_ORDERINGS[query["ordering"]])


def _matching_papers(selected: QuerySet[Paper], author: str, wanted: list[str]) -> list[int]:
    """Ids of the papers with an author containing `author` and every word somewhere (folded text)."""
    ids = []
    for pk, key, title, venue, note, authors in selected.values_list(
        "id", "key", "title", "venue", "note", "authors"
    ):
        if author and not any(author in fold(name) for name in authors):
            continue
        haystack = fold(" ".join([key, title, venue, note, *authors]))
        if all(word in haystack for word in wanted):
            ids.append(pk)
    return ids
