"""Declarative schemas of the content records (the contract is content/SCHEMA.md).

A schema is a tree of small specs (`Str`, `Int`, `Bool`, `ListOf`, `Obj`, `MapOf`). `conform()`
walks a parsed YAML value against one and returns a plain value with defaults filled in, plus
what later stages need: errors (unknown keys, wrong types, missing keys, bad patterns), the
references to resolve (`ref="node" | "family" | "paper"`) and the texts to render (Markdown or
LaTeX), each with its file line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ID_RE = re.compile(r"^[a-z0-9]+([-_][a-z0-9]+)*$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*(\.[A-Z]{2})?/\d{7})(v\d+)?$")
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
URL_RE = re.compile(r"^https?://[^\s<>\"{}]+$")

FAMILIES = ("vae", "gan", "diffusion", "flow", "ebm", "autoregressive")


@dataclass(frozen=True)
class Folder:
    kinds: tuple[str, ...]
    extension: str


FOLDERS: dict[str, Folder] = {
    "families": Folder(("family",), ".md"),
    "methods": Folder(("method",), ".md"),
    "lenses": Folder(("lens", "axis"), ".md"),
    "unifications": Folder(("unification",), ".md"),
    "failure-modes": Folder(("failure-mode",), ".md"),
    "open-problems": Folder(("open-problem",), ".md"),
    "research-directions": Folder(("research-direction",), ".md"),
    "confusions": Folder(("confusion",), ".md"),
    "trends": Folder(("trend",), ".md"),
    "pipelines": Folder(("pipeline",), ".md"),
    "glossary": Folder(("glossary",), ".yaml"),
    "essays": Folder(("essay",), ".md"),
    "tours": Folder(("tour",), ".yaml"),
    "guide": Folder(("guide",), ".yaml"),
    "papers": Folder(("paper",), ".yaml"),
}

# Fixed sets of the atlas: how many records of each kind the real content must hold (--strict).
FIXED_COUNTS: dict[str, int] = {
    "family": 6,
    "unification": 8,
    "failure-mode": 13,
    "open-problem": 8,
    "confusion": 10,
    "trend": 5,
    "pipeline": 3,
    "lens": 3,
    "guide": 1,
}


# --- Specs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Str:
    markdown: bool = False  # inline Markdown: rendered into a sibling `<key>_html`
    latex: bool = False  # LaTeX: rendered to MathML into a sibling `<key>_html`
    ref: str | None = None  # "node" | "family" | "paper": must resolve
    choices: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    pattern_help: str = ""
    max_length: int = 5000


@dataclass(frozen=True)
class Int:
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class ListOf:
    item: Spec
    min_items: int = 0
    unique: bool = False


@dataclass(frozen=True)
class Key:
    spec: Spec
    required: bool = False


@dataclass(frozen=True)
class Obj:
    keys: dict[str, Key]


@dataclass(frozen=True)
class MapOf:
    key: Str
    value: Spec


Spec = Str | Int | Bool | ListOf | Obj | MapOf


def req(spec: Spec) -> Key:
    return Key(spec, required=True)


def opt(spec: Spec) -> Key:
    return Key(spec)


SLUG = Str(pattern=SLUG_RE, pattern_help="lowercase kebab-case")
NODE = Str(ref="node")
FAMILY = Str(ref="family")
PAPER = Str(ref="paper")
MD = Str(markdown=True)
TEXT = Str()
YEAR = Int(1700, 2100)


def refs(ref: str, min_items: int = 0) -> ListOf:
    return ListOf(Str(ref=ref), min_items=min_items, unique=True)


# --- Record schemas -----------------------------------------------------------------------------

EDGE_KINDS = (
    "lineage",
    "unifies",
    "variant_of",
    "component_of",
    "fixes",
    "suffers_from",
    "cites",
    "recommends",
    "related",
)

COMMON: dict[str, Key] = {
    "kind": opt(TEXT),
    "slug": opt(SLUG),
    "title": req(Str(max_length=300)),
    "summary": req(MD),
    "papers": opt(refs("paper")),
    "edges": opt(
        ListOf(
            Obj(
                {
                    "to": req(NODE),
                    "kind": req(Str(choices=EDGE_KINDS)),
                    "text": opt(Str(max_length=500)),
                    "style": opt(Str(choices=("solid", "dotted"))),
                }
            )
        )
    ),
    "figures": opt(ListOf(Obj({"value": req(TEXT), "what": req(MD), "paper": opt(PAPER)}))),
    "equation": opt(Str(latex=True)),
    "aliases": opt(ListOf(Str(max_length=200), unique=True)),
}

RELATED = {"related": opt(refs("node"))}

SPECIFIC: dict[str, dict[str, Key]] = {
    "family": {
        "likelihood": req(Str(choices=("exact", "bound", "estimate", "unnormalised", "none"))),
        "core_idea": req(MD),
        "trains_via": req(MD),
        "generates_by": req(MD),
        "modern_role": req(MD),
    },
    "method": {
        "families": req(refs("family", min_items=1)),
        "year": opt(YEAR),
        "parent": opt(NODE),
    },
    "lens": {
        "values": req(
            MapOf(
                FAMILY,
                Obj(
                    {
                        "text": req(MD),
                        "facets": opt(ListOf(Str(pattern=SLUG_RE, pattern_help="kebab-case"), unique=True)),
                        "papers": opt(refs("paper")),
                    }
                ),
            )
        ),
        "variants": opt(
            ListOf(Obj({"family": req(FAMILY), "variant": req(Str(max_length=200)), "text": req(MD)}))
        ),
        "order": opt(Int()),
    },
    "unification": {
        "number": req(Int(1, 8)),
        "connects": req(refs("node", min_items=2)),
        "statement": req(MD),
        "assumptions": req(ListOf(MD, min_items=1)),
        "caveats": req(ListOf(MD, min_items=1)),
        "year": opt(YEAR),
    },
    "failure-mode": {
        "affects": req(refs("family", min_items=1)),
        "symptom": req(MD),
        "mechanism": req(MD),
        "fixes": req(ListOf(Obj({"text": req(MD), "node": opt(NODE)}))),
        "analogue": opt(Obj({"family": req(FAMILY), "text": req(MD)})),
        "reproducible": req(Bool()),
        "not_reproducible_because": opt(MD),
    },
    "open-problem": {"number": req(Int(1, 8)), **RELATED},
    "research-direction": {
        "section": req(Str(choices=("A", "B", "C", "D", "E", "F"))),
        "section_title": req(TEXT),
        **RELATED,
    },
    "confusion": {"number": req(Int(1, 10)), "misconception": req(MD), "reality": req(MD), **RELATED},
    "trend": {"number": req(Int(1, 5)), **RELATED},
    "pipeline": {
        "number": req(Int(1, 3)),
        "examples": opt(ListOf(TEXT)),
        "components": req(
            ListOf(
                Obj(
                    {
                        "id": req(Str(pattern=ID_RE, pattern_help="an id")),
                        "label": req(TEXT),
                        "node": opt(NODE),
                    }
                ),
                1,
            )
        ),
        "flows": opt(ListOf(Obj({"from": req(TEXT), "to": req(TEXT), "label": opt(TEXT)}))),
    },
    "essay": {"order": opt(Int()), **RELATED},
    "glossary": {"symbol": req(Str(latex=True)), "meaning": req(MD), "families": opt(refs("family"))},
    "tour": {
        "circle": req(Int(1, 3)),
        "steps": req(ListOf(Obj({"node": req(NODE), "note": req(MD)}), min_items=1)),
    },
    "guide": {
        "root": req(TEXT),
        "questions": req(
            ListOf(
                Obj(
                    {
                        "id": req(Str(pattern=ID_RE, pattern_help="an id")),
                        "text": req(MD),
                        "help": opt(MD),
                        "answers": req(
                            ListOf(
                                Obj({"label": req(TEXT), "next": opt(TEXT), "leaf": opt(TEXT)}), min_items=1
                            )
                        ),
                    }
                ),
                min_items=1,
            )
        ),
        "leaves": req(
            ListOf(
                Obj(
                    {
                        "id": req(Str(pattern=ID_RE, pattern_help="an id")),
                        "title": req(TEXT),
                        "recommends": req(refs("node", min_items=1)),
                        "why": req(MD),
                        "watch_out": opt(refs("node")),
                        "recipe": opt(TEXT),
                    }
                ),
                min_items=1,
            )
        ),
    },
}
SPECIFIC["axis"] = SPECIFIC["lens"]

PAPER_SCHEMA = Obj(
    {
        "key": opt(SLUG),
        "title": req(Str(max_length=1000)),
        "authors": req(ListOf(Str(max_length=300), min_items=1)),
        "year": req(YEAR),
        "venue": opt(Str(max_length=300)),
        "arxiv": opt(Str(pattern=ARXIV_RE, pattern_help="an arXiv id such as '2006.11239' (quote it)")),
        "doi": opt(Str(pattern=DOI_RE, pattern_help="a DOI such as 10.1000/xyz (no https://doi.org/)")),
        "url": opt(Str(pattern=URL_RE, pattern_help="an http(s) URL", max_length=500)),
        "note": opt(TEXT),
    }
)

RECORD_SCHEMAS: dict[str, Obj] = {kind: Obj({**COMMON, **keys}) for kind, keys in SPECIFIC.items()}
RECORD_SCHEMAS["paper"] = PAPER_SCHEMA


# --- Conformance ------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Ref:
    kind: str  # node | family | paper
    value: str
    line: int
    where: str  # e.g. `edges[2].to`


@dataclass(frozen=True)
class Text:
    path: Path_  # where the source string sits in the conformed value
    value: str
    line: int
    mode: str  # markdown | latex


@dataclass
class Found:
    errors: list[tuple[int, str]] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.errors.append((line, message))


_MISSING = object()


def _type_name(value: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", float: "a number", type(None): "empty"}
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)


def _where(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "record"


def _line_of(container: Any, key: str | int, default: int) -> int:
    line_of = getattr(container, "line_of", None)
    return line_of(key) if line_of else default


def _wrong_type(value: Any, expected: str, path: Path_, line: int, found: Found, hint: str = "") -> Any:
    """Records that the value at `path` is not `expected`; returns _MISSING for the caller to return."""
    found.error(line, f"'{_where(path)}' must be {expected}, got {_type_name(value)}{hint}")
    return _MISSING


def conform(spec: Spec, value: Any, path: Path_, line: int, found: Found) -> Any:
    """`value` checked against `spec`; returns the plain value (or _MISSING when it is unusable)."""
    if isinstance(spec, Str):
        return _conform_str(spec, value, path, line, found)
    if isinstance(spec, Bool):
        return value if isinstance(value, bool) else _wrong_type(value, "true or false", path, line, found)
    if isinstance(spec, Int):
        return _conform_int(spec, value, path, line, found)
    if isinstance(spec, ListOf):
        return _conform_list(spec, value, path, line, found)
    if isinstance(spec, Obj):
        return _conform_obj(spec, value, path, line, found)
    return _conform_map(spec, value, path, line, found)


def _conform_str(spec: Str, value: Any, path: Path_, line: int, found: Found) -> Any:
    where = _where(path)
    if not isinstance(value, str):
        hint = " (quote it)" if isinstance(value, int | float | bool) or value is None else ""
        return _wrong_type(value, "a string", path, line, found, hint)
    if not value.strip():
        found.error(line, f"'{where}' must not be empty")
        return _MISSING
    if len(value) > spec.max_length:
        found.error(line, f"'{where}' is longer than {spec.max_length} characters")
    if spec.choices and value not in spec.choices:
        found.error(line, f"'{where}' must be one of {', '.join(spec.choices)}; got '{value}'")
        return _MISSING
    if spec.pattern and not spec.pattern.match(value):
        found.error(line, f"'{where}' must be {spec.pattern_help}; got '{value}'")
        return _MISSING
    if spec.ref:
        found.refs.append(Ref(spec.ref, value, line, where))
    if spec.markdown or spec.latex:
        found.texts.append(Text(path, value, line, "latex" if spec.latex else "markdown"))
    return value


def _conform_int(spec: Int, value: Any, path: Path_, line: int, found: Found) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return _wrong_type(value, "an integer", path, line, found)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        found.error(line, f"'{_where(path)}' must be between {spec.min} and {spec.max}; got {value}")
        return _MISSING
    return value


def _conform_list(spec: ListOf, value: Any, path: Path_, line: int, found: Found) -> Any:
    if not isinstance(value, list):
        return _wrong_type(value, "a list", path, line, found)
    where = _where(path)
    if len(value) < spec.min_items:
        found.error(line, f"'{where}' needs at least {spec.min_items} item(s)")
    result = []
    seen: set[Any] = set()
    for index, item in enumerate(value):
        item_line = _line_of(value, index, line)
        if spec.unique and isinstance(item, str):
            if item in seen:
                found.error(item_line, f"'{where}' lists '{item}' twice")
                continue
            seen.add(item)
        conformed = conform(spec.item, item, (*path, index), item_line, found)
        if conformed is not _MISSING:
            result.append(conformed)
    return result


def _conform_entries(
    value: dict, path: Path_, line: int, found: Found, spec_of: Callable[[Any, int], Spec | None]
) -> dict[str, Any]:
    """Each entry's value conformed to `spec_of(key, key_line)`, which is None for a bad key (its
    error already recorded); entries whose key or value is unusable are left out."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        key_line = _line_of(value, key, line)
        spec = spec_of(key, key_line)
        conformed = _MISSING if spec is None else conform(spec, item, (*path, key), key_line, found)
        if conformed is not _MISSING:
            result[key] = conformed
    return result


def _conform_obj(spec: Obj, value: Any, path: Path_, line: int, found: Found) -> Any:
    if not isinstance(value, dict):
        return _wrong_type(value, "a mapping", path, line, found)
    where = _where(path)

    def spec_of(key: Any, key_line: int) -> Spec | None:
        if key in spec.keys:
            return spec.keys[key].spec
        found.error(key_line, f"unknown key '{key}' in {where}{_suggest(key, spec.keys)}")
        return None

    result = _conform_entries(value, path, line, found, spec_of)
    for key, rule in spec.keys.items():
        if key in value:
            continue
        if rule.required:
            found.error(line, f"missing required key '{key}' in {where}")
        elif isinstance(rule.spec, ListOf):
            result[key] = []
    return result


def _suggest(key: str, allowed: dict[str, Key]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"


def _conform_map(spec: MapOf, value: Any, path: Path_, line: int, found: Found) -> Any:
    if not isinstance(value, dict):
        return _wrong_type(value, "a mapping", path, line, found)

    def spec_of(key: Any, key_line: int) -> Spec | None:
        return None if conform(spec.key, key, (*path, key), key_line, found) is _MISSING else spec.value

    return _conform_entries(value, path, line, found, spec_of)


def conform_record(kind: str, front: Any, line: int) -> tuple[dict[str, Any], Found]:
    found = Found()
    value = conform(RECORD_SCHEMAS[kind], front, (), line, found)
    return (value if isinstance(value, dict) else {}), found
