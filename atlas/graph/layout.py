"""The landing map's layout: one region per family, lineage left to right by year, bridges between.

Reading the map should take seconds, as the seed's family tree does:
- each family is a horizontal band (its own region, in its colour) in `families.ORDER`, which puts
  the families a unification joins close together;
- within a band, methods sit in columns by year, so lineage runs left to right; a child is always
  at least one column right of its parent (`_slots`), whatever the years say;
- the unifications sit in the gaps between the bands of the families they join (the drawn
  bridges), failure modes and open problems in a last column of the band of their first family;
- everything else (lenses, axes, glossary, essays, tours …) waits in a strip beneath the bands.

Each node also gets a level of detail (`tier`): 0 is drawn zoomed out (families, unifications and
about five landmark methods per family), 1 on zooming in or expanding a family, 2 only close up.
Deterministic: the same graph always gives the same map.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from atlas.graph.families import ORDER as FAMILY_ORDER

Position = tuple[float, float]

WIDTH, HEIGHT = 1600.0, 1250.0
LEFT, RIGHT = 250.0, 1430.0  # the year columns; family titles sit left of them, problems right
PROBLEMS_X = (1460.0, 1580.0)
TOP, BAND_H, GAP_H = 46.0, 128.0, 36.0  # bands and the gaps (bridges) between them
ROWS = 5  # nodes stacked in one column of a band before a column splits
LANDMARKS_PER_FAMILY = 5
TREE_KINDS = frozenset({"lineage", "variant_of"})
BAND_KINDS = frozenset({"method", "failure-mode", "open-problem"})
# How much an edge of each kind says about a method's place in the field (for landmarks).
WEIGHT = {"lineage": 3.0, "variant_of": 2.0, "unifies": 3.0, "fixes": 0.5, "suffers_from": 0.5}


@dataclass(frozen=True)
class MapLayout:
    positions: dict[str, Position]
    tiers: dict[str, int]
    regions: list[dict[str, object]] = field(default_factory=list)  # one band per family
    axis: list[dict[str, object]] = field(default_factory=list)  # year ticks: {x, year}
    bands: dict[str, str] = field(default_factory=dict)  # node slug → the family whose band holds it

    def as_dict(self) -> dict[str, object]:
        return {
            "positions": self.positions,
            "tiers": self.tiers,
            "regions": self.regions,
            "axis": self.axis,
            "bands": self.bands,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MapLayout:
        positions = {slug: (float(x), float(y)) for slug, (x, y) in data["positions"].items()}  # type: ignore[union-attr]
        return cls(
            positions,
            dict(data["tiers"]),  # type: ignore[arg-type]
            list(data["regions"]),  # type: ignore[arg-type]
            list(data["axis"]),  # type: ignore[arg-type]
            dict(data.get("bands", {})),  # type: ignore[arg-type]
        )


def lineage_tree(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Parent → child among methods: solid lineage edges as written, variant_of reversed. Family
    nodes head their bands and are left out; cycles are broken deterministically."""
    tree = nx.DiGraph()
    for a, b, data in graph.edges(data=True):
        if data["kind"] == "lineage" and data["style"] == "solid":
            parent, child = a, b
        elif data["kind"] == "variant_of":
            parent, child = b, a
        else:
            continue
        if graph.nodes[parent]["kind"] == "method" and graph.nodes[child]["kind"] == "method":
            tree.add_edge(parent, child)
    while True:
        try:
            cycle = nx.find_cycle(tree)
        except nx.NetworkXNoCycle:
            return tree
        tree.remove_edge(*max(cycle, key=lambda e: (e[0], e[1]))[:2])


def compute(graph: nx.MultiDiGraph) -> MapLayout:
    if not graph:
        return MapLayout({}, {})
    bands = _bands(graph)
    tree = lineage_tree(graph)
    graph = graph.copy()  # the shared graph stays as built; the copy learns each method's band
    nx.set_node_attributes(graph, primary_families(graph, tree), "primary")
    slots = _slots(graph, tree)
    widths = _slot_widths(graph, slots, bands)
    left = _slot_left(widths)
    positions: dict[str, Position] = {}
    positions.update(_place_methods(graph, tree, slots, bands, widths, left))
    positions.update(_place_heads(graph, bands))
    positions.update(_place_problems(graph, bands))
    positions.update(_place_bridges(graph, slots, bands, left, widths))
    positions.update(_place_rest(graph, positions))
    return MapLayout(
        positions={slug: (round(x, 1), round(y, 1)) for slug, (x, y) in sorted(positions.items())},
        tiers=_tiers(graph),
        regions=_regions(graph, bands),
        axis=_axis(graph, slots, left, widths),
        bands=_band_families(graph, positions, bands),
    )


# --- Bands and columns -----------------------------------------------------------------------


def _bands(graph: nx.MultiDiGraph) -> dict[str, int]:
    """Family slug → band index (top to bottom), for the families present."""
    present = [f for f in FAMILY_ORDER if f in graph]
    return {family: i for i, family in enumerate(present)}


def _band_top(index: int) -> float:
    return TOP + index * (BAND_H + GAP_H)


def _band_of(graph: nx.MultiDiGraph, slug: str, bands: dict[str, int]) -> int | None:
    family = graph.nodes[slug].get("primary") or next(iter(graph.nodes[slug]["families"]), None)
    return bands.get(family) if family else None


def primary_families(graph: nx.MultiDiGraph, tree: nx.DiGraph) -> dict[str, str]:
    """Method → the one family whose band it sits in. A method listed under several families goes
    where its lineage is: a lineage or variant edge to a family node counts 3, each lineage
    neighbour counts 1 split over that neighbour's families; ties go to the later-listed family
    (the content lists families in a fixed order, and a hybrid's newer family is the later one)."""
    direct: dict[str, set[str]] = defaultdict(set)
    for a, b, data in graph.edges(data=True):
        if data["kind"] in TREE_KINDS:
            for method, family in ((a, b), (b, a)):
                if graph.nodes[family]["kind"] == "family":
                    direct[method].add(family)
    primary = {}
    for slug, data in graph.nodes(data=True):
        if data["kind"] != "method" or not data["families"]:
            continue
        near = [*tree.predecessors(slug), *tree.successors(slug)] if slug in tree else []
        score = {f: 3.0 * (f in direct[slug]) for f in data["families"]}
        for other in near:
            theirs = graph.nodes[other]["families"]
            for f in theirs:
                if f in score:
                    score[f] += 1 / len(theirs)
        order = data["families"]
        primary[slug] = max(order, key=lambda f: (score[f], order.index(f)))
    return primary


def _slots(graph: nx.MultiDiGraph, tree: nx.DiGraph) -> dict[str, int]:
    """Method → column: its year's column, or one right of its rightmost parent if that is later
    (so lineage always runs left to right). Methods without a year follow their parent."""
    methods = sorted(n for n in graph if graph.nodes[n]["kind"] == "method")
    years = sorted({graph.nodes[n]["year"] for n in methods if graph.nodes[n]["year"]})
    base = {year: i for i, year in enumerate(years)}
    order = list(nx.lexicographical_topological_sort(tree)) + [m for m in methods if m not in tree]
    slots: dict[str, int] = {}
    for node in order:
        year = graph.nodes[node]["year"]
        parents = [slots[p] + 1 for p in tree.predecessors(node) if p in slots] if node in tree else []
        own = base[year] if year else (max(parents) if parents else 0)
        slots[node] = max([own, *parents])
    return _compact(slots)


def _compact(slots: dict[str, int]) -> dict[str, int]:
    rank = {value: i for i, value in enumerate(sorted(set(slots.values())))}
    return {node: rank[value] for node, value in slots.items()}


def _slot_widths(graph: nx.MultiDiGraph, slots: dict[str, int], bands: dict[str, int]) -> dict[int, int]:
    """Sub-columns a column needs: its fullest band's count over ROWS."""
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for node, slot in slots.items():
        band = _band_of(graph, node, bands)
        if band is not None:
            counts[(slot, band)] += 1
    need = {slot: 1 for slot in set(slots.values())}
    for (slot, _), count in counts.items():
        need[slot] = max(need[slot], math.ceil(count / ROWS))
    return need


def _unit(widths: dict[int, int]) -> float:
    return (RIGHT - LEFT) / max(sum(widths.values()), 1)


def _slot_left(widths: dict[int, int]) -> dict[int, float]:
    unit, x, left = _unit(widths), LEFT, {}
    for slot in sorted(widths):
        left[slot] = x
        x += widths[slot] * unit
    return left


# --- Placing ---------------------------------------------------------------------------------


def _place_methods(
    graph: nx.MultiDiGraph,
    tree: nx.DiGraph,
    slots: dict[str, int],
    bands: dict[str, int],
    widths: dict[int, int],
    left: dict[int, float],
) -> dict[str, Position]:
    """Within a band and column: rows ordered by the parents' rows (straighter lineage lines),
    columns split into sub-columns of at most ROWS nodes, staggered so labels have room."""
    unit = _unit(widths)
    cells: dict[tuple[int, int], list[str]] = defaultdict(list)
    for node in sorted(slots):
        band = _band_of(graph, node, bands)
        cells[(band if band is not None else len(bands), slots[node])].append(node)
    placed: dict[str, Position] = {}
    for (band, slot), nodes in sorted(cells.items(), key=lambda item: (item[0][1], item[0][0])):
        key = {n: _mean(_parent_rows(tree, n, placed), 0.0) for n in nodes}
        nodes.sort(key=lambda n: (key[n], n))
        columns = math.ceil(len(nodes) / ROWS)
        per_column = math.ceil(len(nodes) / columns)
        for i, node in enumerate(nodes):
            column, row = divmod(i, per_column)
            x = left[slot] + (column + 0.5) * unit
            y = _band_top(band) + BAND_H * (row + 0.5 + 0.25 * (column % 2)) / (per_column + 0.25)
            placed[node] = (x, y)
    return placed


def _parent_rows(tree: nx.DiGraph, node: str, placed: dict[str, Position]) -> list[float]:
    return [placed[p][1] for p in tree.predecessors(node) if p in placed] if node in tree else []


def _place_heads(graph: nx.MultiDiGraph, bands: dict[str, int]) -> dict[str, Position]:
    """Each family's own node heads its band, left of the first column."""
    return {family: (40.0, _band_top(i) + BAND_H / 2) for family, i in bands.items()}


def _place_problems(graph: nx.MultiDiGraph, bands: dict[str, int]) -> dict[str, Position]:
    """Failure modes and open problems: a column right of the years, in their first family's band."""
    by_band: dict[int, list[str]] = defaultdict(list)
    for slug in sorted(graph):
        band = _band_of(graph, slug, bands)
        if graph.nodes[slug]["kind"] in ("failure-mode", "open-problem"):
            by_band[band if band is not None else 0].append(slug)
    placed: dict[str, Position] = {}
    for band, slugs in by_band.items():
        slugs.sort(key=lambda s: (graph.nodes[s]["kind"], s))
        columns = max(1, math.ceil(len(slugs) / 4))
        per_column = math.ceil(len(slugs) / columns)
        step = (PROBLEMS_X[1] - PROBLEMS_X[0]) / columns
        for i, slug in enumerate(slugs):
            column, row = divmod(i, per_column)
            y = _band_top(band) + BAND_H * (row + 0.5 + 0.3 * (column % 2)) / (per_column + 0.3)
            placed[slug] = (PROBLEMS_X[0] + (column + 0.3) * step, y)
    return placed


def _place_bridges(
    graph: nx.MultiDiGraph,
    slots: dict[str, int],
    bands: dict[str, int],
    left: dict[int, float],
    widths: dict[int, int],
) -> dict[str, Position]:
    """Unifications in the gap between bands nearest the middle of the bands they join, at the
    column of their year (or of the latest method they unify); neighbours in one gap spread out."""
    years = sorted({graph.nodes[n]["year"] for n in slots if graph.nodes[n]["year"]})
    first_slot_of_year: dict[int, int] = {}
    for node, slot in sorted(slots.items(), key=lambda item: item[1]):
        first_slot_of_year.setdefault(graph.nodes[node]["year"] or 0, slot)
    unit = _unit(widths)
    placed: dict[str, Position] = {}
    taken: list[float] = []  # one x per unification: bridges never share a vertical line
    for slug in sorted(n for n in graph if graph.nodes[n]["kind"] == "unification"):
        joined = sorted({bands[f] for f in graph.nodes[slug]["families"] if f in bands}) or [0, 1]
        gap = min(max(round((joined[0] + joined[-1]) / 2 - 0.5 + 1e-9), 0), max(len(bands) - 2, 0))
        year = graph.nodes[slug]["year"]
        later = [y for y in years if year and y >= year]
        last = max(slots.values(), default=0)
        slot = first_slot_of_year.get(later[0], last) if later else last
        x = _free_x(left.get(slot, LEFT) + unit / 2, taken, unit)
        taken.append(x)
        placed[slug] = (x, _band_top(gap) + BAND_H + GAP_H / 2)
    return placed


def _free_x(start: float, taken: list[float], unit: float) -> float:
    """The nearest x to `start` (right first) inside the year columns that keeps 1.5 units from
    every taken x; `start` itself when the columns are full."""
    for step in range(0, 4 * int((RIGHT - LEFT) / unit) + 1):
        offset = (step + 1) // 2 * unit * (1 if step % 2 else -1)
        x = start + offset
        if LEFT <= x <= RIGHT and all(abs(x - other) >= 1.5 * unit for other in taken):
            return x
    return start


def _place_rest(graph: nx.MultiDiGraph, placed: dict[str, Position]) -> dict[str, Position]:
    """Every other node in a grid beneath the bands, grouped by kind (reachable by zooming in,
    the kind filters, search and the index pages)."""
    rest = sorted((n for n in graph if n not in placed), key=lambda n: (graph.nodes[n]["kind"], n))
    if not rest:
        return {}
    top = max((y for _, y in placed.values()), default=TOP) + 50
    rows = 4
    columns = math.ceil(len(rest) / rows)
    step_x = (WIDTH - 2 * LEFT / 2) / max(columns, 1)
    step_y = min((HEIGHT - 10 - top) / rows, 30.0)
    return {
        slug: (LEFT / 2 + (i // rows + 0.5) * step_x, top + (i % rows + 0.5) * step_y)
        for i, slug in enumerate(rest)
    }


# --- Levels of detail, regions, axis ---------------------------------------------------------


def _tiers(graph: nx.MultiDiGraph) -> dict[str, int]:
    tiers = {}
    landmarks = landmark_methods(graph)
    for slug, data in graph.nodes(data=True):
        if data["kind"] in ("family", "unification") or slug in landmarks:
            tiers[slug] = 0
        elif data["kind"] in BAND_KINDS:
            tiers[slug] = 1
        else:
            tiers[slug] = 2
    return tiers


def landmark_methods(graph: nx.MultiDiGraph) -> set[str]:
    """The methods that carry the most structure, `LANDMARKS_PER_FAMILY` per family: weighted
    lineage, variant, unification, fix and failure edges (ties to the older method)."""
    score: dict[str, float] = defaultdict(float)
    for a, b, data in graph.edges(data=True):
        for end in (a, b):
            score[end] += WEIGHT.get(data["kind"], 0.0)
    primary = primary_families(graph, lineage_tree(graph))
    chosen: set[str] = set()
    for family in FAMILY_ORDER:
        members = [n for n, d in graph.nodes(data=True) if d["kind"] == "method" and primary.get(n) == family]
        members.sort(key=lambda n: (-score[n], graph.nodes[n]["year"] or 9999, n))
        chosen.update(members[:LANDMARKS_PER_FAMILY])
    return chosen


def _band_families(
    graph: nx.MultiDiGraph, positions: dict[str, Position], bands: dict[str, int]
) -> dict[str, str]:
    """Each node placed inside a family's band → that family (others are left out)."""
    found = {}
    for slug, (_, y) in positions.items():
        for family, index in bands.items():
            if _band_top(index) <= y <= _band_top(index) + BAND_H:
                found[slug] = family
    return found


def _regions(graph: nx.MultiDiGraph, bands: dict[str, int]) -> list[dict[str, object]]:
    return [
        {"family": family, "title": graph.nodes[family]["title"], "y": _band_top(i), "h": BAND_H}
        for family, i in bands.items()
    ]


def _axis(
    graph: nx.MultiDiGraph, slots: dict[str, int], left: dict[int, float], widths: dict[int, int]
) -> list[dict[str, object]]:
    """One tick per column whose earliest method starts a new year."""
    first_year: dict[int, int] = {}
    for node, slot in slots.items():
        year = graph.nodes[node]["year"]
        if year:
            first_year[slot] = min(first_year.get(slot, year), year)
    ticks, last, unit = [], 0, _unit(widths)
    for slot in sorted(first_year):
        if first_year[slot] > last:
            ticks.append({"x": round(left[slot] + unit * widths[slot] / 2, 1), "year": first_year[slot]})
            last = first_year[slot]
    return ticks


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default
