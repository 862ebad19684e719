"""`content new KIND SLUG`: a skeleton record that passes the schema, generated from the schema.

Every required key of the kind gets a placeholder: text says `TODO: ...` (the check warns on
every TODO left), a choice, family or node gets a valid value and a `# TODO` comment naming what
to put there. The skeleton therefore always follows schema.py, with no template to keep in sync.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from atlas.content.parse import YamlError, split_front_matter
from atlas.content.schema import (
    FAMILIES,
    FOLDERS,
    RECORD_SCHEMAS,
    SLUG_RE,
    Bool,
    Int,
    ListOf,
    MapOf,
    Obj,
    Spec,
    Str,
)

# The decision guide is one file; a second one is an error, so there is no skeleton for it.
NEW_KINDS = tuple(kind for kind in RECORD_SCHEMAS if kind != "guide")
FOLDER_OF = {kind: name for name, folder in FOLDERS.items() for kind in folder.kinds}
# Optional keys every node skeleton shows, because a reviewer asks for them.
SUGGESTED = ("papers",)

BODIES = {
    "method": (
        "TODO: the idea in two or three sentences, in our own words.\n\n"
        "## Key equation\n\nTODO: the equation (also in `equation:`), each symbol explained.\n\n"
        "## When to use it\n\nTODO: when it is the right choice, and when it is not.\n\n"
        "## Pitfalls\n\nTODO: what goes wrong in practice, with the paper that shows it.\n"
    ),
}
PLACEHOLDER_TEXT = {"authors": "TODO: Surname, Given"}
PAPER_HINT = "# Only when certain (a missing field beats a wrong one): venue, arxiv: '2006.11239', doi, url\n"
DEFAULT_BODY = "TODO: the explanation, in our own words, citing the papers in `papers:`.\n"


class SkeletonError(Exception):
    """A kind or slug that cannot get a skeleton; the message says why."""


@dataclass(frozen=True)
class Skeleton:
    path: Path
    text: str


def _placeholder(spec: Spec, key: str) -> tuple[Any, str]:
    """A schema-valid value for `spec` and the hint for its `# TODO` comment ('' when the value
    itself says TODO)."""
    if isinstance(spec, Str):
        if spec.choices:
            return spec.choices[0], f"one of: {', '.join(spec.choices)}"
        if spec.ref == "family":
            return FAMILIES[0], f"a family: {', '.join(FAMILIES)}"
        if spec.ref == "node":
            return FAMILIES[0], "the slug of a node"
        if spec.latex:
            return r"\text{TODO}", ""
        if spec.pattern is not None:
            return "todo", f"{spec.pattern_help}"
        return PLACEHOLDER_TEXT.get(key, f"TODO: {key.replace('_', ' ')}"), ""
    if isinstance(spec, Int):
        if key == "year":
            return datetime.date.today().year, "the year of the paper (of its venue when it has one)"
        return (spec.min if spec.min is not None else 0), f"a number from {spec.min} to {spec.max}"
    if isinstance(spec, Bool):
        return True, "true or false"
    if isinstance(spec, ListOf):
        count = max(spec.min_items, 1)
        if spec.unique and isinstance(spec.item, Str) and spec.item.ref:
            values = list(FAMILIES[:count])
            return values, _placeholder(spec.item, key)[1]
        items = [_placeholder(spec.item, key) for _ in range(count)]
        return [value for value, _ in items], next((hint for _, hint in items if hint), "")
    if isinstance(spec, MapOf):
        return {family: _placeholder(spec.value, key)[0] for family in FAMILIES}, ""
    return {name: _placeholder(rule.spec, name)[0] for name, rule in spec.keys.items() if rule.required}, ""


def front_matter(kind: str, number: int | None = None) -> str:
    """The YAML of a skeleton of `kind`: required keys, with a `# TODO` comment where the value
    is a valid guess rather than a TODO text; `number` for the numbered kinds."""
    schema: Obj = RECORD_SCHEMAS[kind]
    lines: list[str] = []
    if len(FOLDERS[FOLDER_OF[kind]].kinds) > 1:
        lines.append(f"kind: {kind}")
    for key, rule in schema.keys.items():
        if key == "number" and number is not None:
            value, hint = number, "its number in the set (the first free one)"
        elif rule.required:
            value, hint = _placeholder(rule.spec, key)
        elif key in SUGGESTED and kind != "paper":
            value, hint = [], "paper keys from content/papers/"
        else:
            continue
        # Flow style for collections (`families: [vae]`); on a lone scalar it would wrap the key too.
        flow = None if isinstance(value, list | dict) else False
        dumped = yaml.safe_dump(
            {key: value}, sort_keys=False, allow_unicode=True, width=100, default_flow_style=flow
        ).rstrip("\n")
        first, *rest = dumped.split("\n")
        lines.append(f"{first}  # TODO: {hint}" if hint else first)
        lines.extend(rest)
    if kind == "paper":
        lines.append(PAPER_HINT.rstrip("\n"))
    return "\n".join(lines) + "\n"


def _free_number(content_dir: Path, kind: str) -> int | None:
    """The first number of `kind`'s range that no record of that kind uses; None for kinds
    without a number. SkeletonError when the (fixed) set is full."""
    spec = RECORD_SCHEMAS[kind].keys.get("number")
    if spec is None or not isinstance(spec.spec, Int) or spec.spec.min is None or spec.spec.max is None:
        return None
    used = set()
    for path in sorted((Path(content_dir) / FOLDER_OF[kind]).glob("*")):
        try:
            front = yaml.safe_load(split_front_matter(path.read_text(encoding="utf-8"))[0])
        except (OSError, UnicodeDecodeError, YamlError, yaml.YAMLError):
            continue  # `content check` reports it; here it only cannot hold a number
        if isinstance(front, dict) and isinstance(front.get("number"), int):
            used.add(front["number"])
    free = [n for n in range(spec.spec.min, spec.spec.max + 1) if n not in used]
    if not free:
        raise SkeletonError(
            f"every {kind} number from {spec.spec.min} to {spec.spec.max} is taken: the set is fixed, "
            "so edit one of its records instead"
        )
    return free[0]


def skeleton(content_dir: Path, kind: str, slug: str) -> Skeleton:
    """The file to write for a new record; SkeletonError when the kind, slug or place is wrong."""
    if kind not in NEW_KINDS:
        hint = " (the decision guide is one file: edit content/guide/decision-guide.yaml)"
        raise SkeletonError(
            f"unknown kind '{kind}'; one of: {', '.join(NEW_KINDS)}" + hint * (kind == "guide")
        )
    if kind == "family" and slug not in FAMILIES:
        raise SkeletonError(f"the families are the fixed six ({', '.join(FAMILIES)}); '{slug}' is not one")
    if not SLUG_RE.match(slug):
        raise SkeletonError(f"'{slug}' is not a slug (lowercase kebab-case, e.g. 'flow-matching')")
    taken = sorted(path for path in Path(content_dir).glob("*/*") if path.stem == slug)
    if taken:
        where = f"{Path(content_dir).name}/{taken[0].parent.name}/{taken[0].name}"
        raise SkeletonError(f"slug '{slug}' is already used by {where}")
    folder = FOLDERS[FOLDER_OF[kind]]
    path = Path(content_dir) / FOLDER_OF[kind] / f"{slug}{folder.extension}"
    yaml_text = front_matter(kind, _free_number(content_dir, kind))
    if folder.extension == ".yaml":
        return Skeleton(path, yaml_text)
    return Skeleton(path, f"---\n{yaml_text}---\n\n{BODIES.get(kind, DEFAULT_BODY)}")


def write_skeleton(content_dir: Path, kind: str, slug: str) -> Path:
    made = skeleton(content_dir, kind, slug)
    made.path.parent.mkdir(parents=True, exist_ok=True)
    with made.path.open("x", encoding="utf-8") as handle:  # never overwrite
        handle.write(made.text)
    return made.path
