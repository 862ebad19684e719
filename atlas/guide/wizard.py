"""The decision-guide wizard's page state, built on `atlas.guide.services.walk`.

`services` walks the tree (shared with `/api/guide/`); this module adds what the pages need on
top of a walk: share / back / restart URLs, one link per answer option, the path so far with a
link to change each step, and for a result the recommended and watch-out nodes with their rendered
summaries, the families' lens values (the trade-offs) and the demo recipe behind "Try it live".

Answers travel in the query string as `?a=goal:likelihood,likelihood:exact-likelihood` (the
canonical `question:answer` ids of `State.answers`); indices (`?a=0,1`) and bare ids are accepted
too and redirect to the canonical form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from atlas.content.schema import FAMILIES
from atlas.graph.families import NAMES as FAMILY_NAMES
from atlas.graph.models import LensValue, Node, NodeKind
from atlas.guide import services
from atlas.runs import recipes

MAX_QUERY_LENGTH = 2000  # far above any real path through the tree


class WizardInputError(services.GuideError):
    """The query string itself is unusable (not one answer of it is read)."""


def wizard_path() -> str:
    return reverse("guide:wizard")


def url_for(answers: list[str]) -> str:
    """The wizard URL after ``answers`` (canonical ids); the bare wizard for none."""
    if not answers:
        return wizard_path()
    return wizard_path() + "?" + urlencode({"a": ",".join(answers)}, safe=":,")


@dataclass(frozen=True)
class Option:
    label: str
    url: str
    index: int
    leads_to_result: bool


@dataclass(frozen=True)
class PathStep:
    number: int
    question_html: str
    answer: str
    change_url: str  # back to this question, the later answers dropped


@dataclass
class Tradeoff:
    lens: Node
    cells: list[tuple[str, LensValue | None]]  # (family slug, its value) per recommended family


@dataclass
class Page:
    tree: services.Tree
    state: services.State
    answers: list[str]
    share_url: str
    back_url: str | None
    restart_url: str
    path: list[PathStep]
    options: list[Option] = field(default_factory=list)
    error: str = ""
    # A result only:
    recommends: list[Node] = field(default_factory=list)
    watch_out: list[Node] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    lenses: list[Tradeoff] = field(default_factory=list)
    axes: list[Tradeoff] = field(default_factory=list)
    recipe: recipes.Recipe | None = None
    other_recipes: list[recipes.Recipe] = field(default_factory=list)
    demo_note: str = ""  # what the demo is and, when it stands in for the recommendation, why

    @property
    def step_number(self) -> int:
        return len(self.state.path) + 1


def parse_query(raw: str | None) -> list[str]:
    """The answers of the `a` parameter; WizardInputError for a query no walk could use."""
    if raw is not None and len(raw) > MAX_QUERY_LENGTH:
        raise WizardInputError(f"the answer list is too long ({len(raw)} characters)")
    return services.parse_answers(raw)


def build(answers: list[str], tree: services.Tree | None = None) -> Page:
    """The page after ``answers``. An invalid answer does not raise: the page shows the question it
    failed at (the answers before it kept) and ``error`` says what was wrong."""
    tree = tree or services.load_tree()
    error = ""
    try:
        state = services.walk(answers, tree)
    except services.InvalidAnswer as exc:
        error = f"Answer {exc.position + 1} ({exc.answer!r}) was not understood: {exc.message}."
        state = services.walk(answers[: exc.position], tree)
    canonical = state.answers
    page = Page(
        tree=tree,
        state=state,
        answers=canonical,
        share_url=url_for(canonical),
        back_url=url_for(canonical[:-1]) if canonical else None,
        restart_url=wizard_path(),
        path=[
            PathStep(i + 1, step.question.text_html, step.answer.label, url_for(canonical[:i]))
            for i, step in enumerate(state.path)
        ],
        error=error,
    )
    if state.question is not None:
        page.options = [
            Option(
                label=answer.label,
                url=url_for([*canonical, f"{state.question.id}:{answer.id}"]),
                index=answer.index,
                leads_to_result=answer.leaf is not None,
            )
            for answer in state.question.answers
        ]
    else:
        _fill_result(page)
    return page


def _fill_result(page: Page) -> None:
    leaf = page.state.leaf
    assert leaf is not None
    wanted = [*leaf.recommends, *leaf.watch_out]
    nodes = {
        n.slug: n
        for n in Node.objects.filter(slug__in=wanted).only(
            "slug", "kind", "title", "summary", "data", "families"
        )
    }
    page.recommends = [nodes[s] for s in leaf.recommends if s in nodes]
    page.watch_out = [nodes[s] for s in leaf.watch_out if s in nodes]
    families: list[str] = []
    for node in page.recommends:
        own = [node.slug] if node.kind == NodeKind.FAMILY else list(node.families or [])
        families.extend(f for f in own if f in FAMILIES)
    page.families = list(dict.fromkeys(families))
    page.lenses, page.axes = _tradeoffs(page.families)
    page.recipe, page.other_recipes = demo_recipes(leaf, page.state.recipes)
    if page.recipe is None:
        page.recipe = family_stand_in(page.families)
    page.demo_note = demo_note(page.recipe, leaf, page.families) if page.recipe else ""


def _tradeoffs(families: list[str]) -> tuple[list[Tradeoff], list[Tradeoff]]:
    """Main (non-variant) lens and axis values of the families: one query."""
    if not families:
        return [], []
    values = (
        LensValue.objects.filter(family__slug__in=families, variant__isnull=True)
        .select_related("lens", "family")
        .only(
            "text",
            "text_html",
            "facets",
            "lens__slug",
            "lens__title",
            "lens__kind",
            "lens__order",
            "family__slug",
        )
        .order_by("lens__kind", "lens__order", "lens__slug")
    )
    by_lens: dict[str, dict[str, LensValue]] = {}
    lens_nodes: dict[str, Node] = {}
    for value in values:
        lens_nodes.setdefault(value.lens.slug, value.lens)
        by_lens.setdefault(value.lens.slug, {})[value.family.slug] = value
    rows = [
        Tradeoff(lens_nodes[slug], [(f, by_lens[slug].get(f)) for f in families])
        for slug in sorted(lens_nodes, key=lambda s: (lens_nodes[s].order, s))
    ]
    return [r for r in rows if r.lens.kind == NodeKind.LENS], [
        r for r in rows if r.lens.kind == NodeKind.AXIS
    ]


def demo_recipes(leaf: services.Leaf, found: list[str]) -> tuple[recipes.Recipe | None, list[recipes.Recipe]]:
    """The recipe "Try it live" starts and the other runnable demos of the recommendation.

    A leaf's `recipe` names a compute registry model (content/SCHEMA.md): its first recipe is the
    demo. Otherwise (or when no recipe runs that model yet) the first recipe of the recommended
    nodes, as `services.walk` found them, is used."""
    runnable = []
    for slug in found:
        try:
            runnable.append(recipes.get(slug))
        except KeyError:
            continue
    primary = None
    if leaf.recipe:
        of_model = [r for r in recipes.RECIPES if leaf.recipe in (r.model, r.slug)]
        # Prefer the model's recipe shown on a recommended node (e.g. vae-2d on `vae`).
        of_model.sort(key=lambda r: not set(r.nodes) & set(leaf.recommends))
        primary = of_model[0] if of_model else None
    if primary is None and runnable:
        primary = runnable[0]
    return primary, [r for r in runnable if primary is None or r.slug != primary.slug]


DATA_WORDS = {"digits": "8×8 digit images", "text": "a small text corpus"}


def family_stand_in(families: list[str]) -> recipes.Recipe | None:
    """For a recommendation no recipe runs: the first recipe of a family it belongs to."""
    for family in families:
        for recipe in recipes.RECIPES:
            if recipe.family == family and not recipe.requires_gpu:
                return recipe
    return None


def demo_note(recipe: recipes.Recipe, leaf: services.Leaf, families: list[str]) -> str:
    """One sentence on what "Run" trains: a recommended method's own demo, or a stand-in (another
    method of the same family) and why; always on which data, since every demo here is small."""
    data = DATA_WORDS.get(recipe.datasets[0], "2-D toy data")
    name = FAMILY_NAMES.get(recipe.family, recipe.family)
    if set(recipe.nodes) & set(leaf.recommends):
        return (
            f"{recipe.title} trains one of the recommended models on {data}: a small stand-in for "
            "the real task, small enough to train in seconds on this machine."
        )
    why = (
        f"it is a {name} model, the family the recommendation belongs to"
        if recipe.family in families
        else "it is the nearest model this site can train"
    )
    return (
        f"None of the recommended methods has a live demo of its own, so this runs {recipe.title} "
        f"as a stand-in: {why}; it trains on {data}, small enough for seconds on this machine."
    )


def tree_summary(tree: services.Tree) -> dict[str, Any]:
    """Counts for the intro: questions, results, and the longest path."""

    def depth(qid: str, seen: frozenset[str] = frozenset()) -> int:
        if qid in seen or qid not in tree.questions:  # content check forbids cycles; never loop
            return 0
        below = [depth(a.next, seen | {qid}) for a in tree.questions[qid].answers if a.next]
        return 1 + max(below, default=0)

    return {"questions": len(tree.questions), "leaves": len(tree.leaves), "depth": depth(tree.root)}
