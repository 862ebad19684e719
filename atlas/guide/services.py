"""The decision guide: walking its question tree from a list of answers.

The tree is the `data` of the Node of kind `guide` (slug `decision-guide`), written by
`manage.py content load` from `content/guide/decision-guide.yaml`: `root` (a question id),
`questions` ({id, text, help?, answers: [{label, next | leaf}]}) and `leaves` ({id, title,
recommends, why, watch_out?, recipe?}).

Stable answer ids: an answer's id is the id of what it leads to (its `next` question id or its
`leaf` id), which content already keeps unique and stable; if two answers of one question lead to
the same place, the later ones get `-2`, `-3`, ... in order. Each answer given to `walk` may be
that id, the answer's 0-based index, or either of them prefixed with the question id
(`goal:modality`, `goal:1`); a prefix must name the question being answered at that point.

`walk(answers)` returns the `State` after those answers: the next question, or the leaf with its
recommended nodes; the path so far; and the reasons (each question with the answer given, then
the leaf's `why`). Invalid answers raise `InvalidAnswer` (position, the answer, a message); a
missing guide raises `GuideMissing`. Used by `/api/guide/answer/` and the wizard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from atlas.graph.models import ContentVersion, Node, NodeKind
from atlas.runs import recipes

GUIDE_SLUG = "decision-guide"
MAX_ANSWER_LENGTH = 200


class GuideError(Exception):
    """Base class of the guide's errors."""


class GuideMissing(GuideError):
    """No decision guide is loaded (run `manage.py content load`)."""


class InvalidAnswer(GuideError, ValueError):
    """An answer that does not fit the tree at its position (0-based)."""

    def __init__(self, position: int, answer: str, message: str, question: str | None = None) -> None:
        self.position, self.answer, self.message, self.question = position, answer, message, question
        super().__init__(f"answer {position + 1} ({answer!r}): {message}")


@dataclass(frozen=True)
class Answer:
    id: str
    index: int
    label: str
    next: str | None
    leaf: str | None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    text_html: str
    help: str
    help_html: str
    answers: tuple[Answer, ...]

    def find(self, token: str) -> Answer | None:
        if token.isdigit():
            index = int(token)
            return self.answers[index] if index < len(self.answers) else None
        return next((a for a in self.answers if a.id == token), None)


@dataclass(frozen=True)
class Leaf:
    id: str
    title: str
    why: str
    why_html: str
    recommends: tuple[str, ...]
    watch_out: tuple[str, ...]
    recipe: str | None


@dataclass(frozen=True)
class Tree:
    slug: str
    title: str
    summary: str
    summary_html: str
    root: str
    questions: dict[str, Question]
    leaves: dict[str, Leaf]


@dataclass(frozen=True)
class NodeRef:
    slug: str
    kind: str
    title: str
    summary: str


@dataclass(frozen=True)
class Step:
    question: Question
    answer: Answer


@dataclass
class State:
    """Where the walk stands: exactly one of `question` (to answer next) and `leaf` is set."""

    path: list[Step]
    question: Question | None = None
    leaf: Leaf | None = None
    recommends: list[NodeRef] = field(default_factory=list)
    watch_out: list[NodeRef] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.leaf is not None

    @property
    def answers(self) -> list[str]:
        """The canonical answers (`question-id:answer-id`), e.g. for a shareable URL."""
        return [f"{step.question.id}:{step.answer.id}" for step in self.path]


def answer_ids(answers: Sequence[dict[str, Any]]) -> list[str]:
    """Stable ids of a question's answers: their target, de-duplicated with -2, -3, ..."""
    seen: dict[str, int] = {}
    ids = []
    for answer in answers:
        target = str(answer.get("next") or answer.get("leaf") or "answer")
        seen[target] = seen.get(target, 0) + 1
        ids.append(target if seen[target] == 1 else f"{target}-{seen[target]}")
    return ids


def tree_from_data(
    data: dict[str, Any], *, slug: str = GUIDE_SLUG, title: str = "", summary: str = ""
) -> Tree:
    questions = {}
    for q in data.get("questions", []):
        answers = tuple(
            Answer(id=answer_id, index=i, label=a["label"], next=a.get("next"), leaf=a.get("leaf"))
            for i, (a, answer_id) in enumerate(zip(q["answers"], answer_ids(q["answers"]), strict=True))
        )
        questions[q["id"]] = Question(
            id=q["id"],
            text=q["text"],
            text_html=q.get("text_html", q["text"]),
            help=q.get("help", ""),
            help_html=q.get("help_html", q.get("help", "")),
            answers=answers,
        )
    leaves = {
        leaf["id"]: Leaf(
            id=leaf["id"],
            title=leaf["title"],
            why=leaf["why"],
            why_html=leaf.get("why_html", leaf["why"]),
            recommends=tuple(leaf.get("recommends", ())),
            watch_out=tuple(leaf.get("watch_out", ())),
            recipe=leaf.get("recipe"),
        )
        for leaf in data.get("leaves", [])
    }
    return Tree(
        slug=slug,
        title=title,
        summary=summary,
        summary_html=data.get("summary_html", summary),
        root=data["root"],
        questions=questions,
        leaves=leaves,
    )


_cache: dict[str, Tree] = {}


def load_tree() -> Tree:
    """The guide as loaded from content, cached until the content changes."""
    version = ContentVersion.current_hash()
    if version and version in _cache:
        return _cache[version]
    node = (
        Node.objects.filter(kind=NodeKind.GUIDE, slug=GUIDE_SLUG)
        .only("slug", "title", "summary", "data")
        .first()
    )
    if node is None or "root" not in node.data:
        raise GuideMissing("no decision guide is loaded; run `manage.py content load`")
    tree = tree_from_data(node.data, slug=node.slug, title=node.title, summary=node.summary)
    if version:
        _cache.clear()
        _cache[version] = tree
    return tree


def parse_answers(raw: str | None) -> list[str]:
    """`"goal:modality, modality:0"` → `["goal:modality", "modality:0"]`; blank → []."""
    if raw is None or not raw.strip():
        return []
    return [part.strip() for part in raw.split(",")]


def walk(answers: Sequence[str], tree: Tree | None = None) -> State:
    """The state after `answers` (ids, indices, or `question:answer`), from the root question."""
    tree = tree or load_tree()
    path: list[Step] = []
    question = tree.questions[tree.root]
    leaf: Leaf | None = None
    for position, given in enumerate(answers):
        if not isinstance(given, str) or not given.strip():
            raise InvalidAnswer(position, str(given), "empty answer", question.id if question else None)
        given = given.strip()
        if len(given) > MAX_ANSWER_LENGTH:
            raise InvalidAnswer(
                position, given[:40] + "...", "answer too long", question.id if question else None
            )
        if leaf is not None:
            raise InvalidAnswer(
                position,
                given,
                f"the guide already reached its recommendation {leaf.id!r}; nothing more to answer",
            )
        prefix, _, token = given.rpartition(":")
        if prefix and prefix != question.id:
            raise InvalidAnswer(
                position,
                given,
                f"answers question {prefix!r}, but the question here is {question.id!r}",
                question.id,
            )
        answer = question.find(token)
        if answer is None:
            valid = ", ".join(f"{a.id} ({a.index})" for a in question.answers)
            raise InvalidAnswer(
                position, given, f"not an answer to question {question.id!r}; valid: {valid}", question.id
            )
        path.append(Step(question, answer))
        if answer.leaf is not None:
            leaf = tree.leaves[answer.leaf]
        else:
            question = tree.questions[answer.next]
    state = State(path=path)
    state.reasons = [f"{step.question.text} {step.answer.label}." for step in path]
    if leaf is None:
        state.question = question
        return state
    state.leaf = leaf
    state.reasons.append(leaf.why)
    refs = _node_refs([*leaf.recommends, *leaf.watch_out])
    state.recommends = [refs[slug] for slug in leaf.recommends if slug in refs]
    state.watch_out = [refs[slug] for slug in leaf.watch_out if slug in refs]
    state.recipes = _recipes_for(leaf)
    return state


def _node_refs(slugs: Sequence[str]) -> dict[str, NodeRef]:
    rows = Node.objects.filter(slug__in=slugs).values_list("slug", "kind", "title", "summary")
    return {slug: NodeRef(slug, kind, title, summary) for slug, kind, title, summary in rows}


def _recipes_for(leaf: Leaf) -> list[str]:
    """Runnable recipes for the recommendation: the leaf's own if it names one, then those of its nodes."""
    found: list[str] = []
    if leaf.recipe:  # a compute model name (content/SCHEMA.md), or a recipe slug
        found.extend(recipe.slug for recipe in recipes.RECIPES if recipe.model == leaf.recipe)
        with contextlib.suppress(KeyError):
            found.append(recipes.get(leaf.recipe).slug)
    for slug in leaf.recommends:
        found.extend(recipe.slug for recipe in recipes.for_node(slug))
    return list(dict.fromkeys(found))
