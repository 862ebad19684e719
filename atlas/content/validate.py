"""`check(content_dir)`: every rule of content/SCHEMA.md, reported as `path:line: message`.

Stages: discover and parse files (parse.py) → conform each record to its kind's schema
(schema.py) → record rules (edges, guide tree, pipeline flows, lens coverage, ...) → tree rules
(unique slugs, every reference resolves, numbering, duplicate papers, fixed counts in strict
mode) → render every Markdown/LaTeX text (build.py), which reports bad LaTeX and unknown
`[[links]]`. Nothing touches the database.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas.content.build import build_tree
from atlas.content.errors import CheckError
from atlas.content.parse import LineDict, LineList, ParsedFile, SourceFile, discover, parse_file
from atlas.content.schema import FAMILIES, FIXED_COUNTS, FOLDERS, SLUG_RE, Found, conform_record


@dataclass
class Record:
    """One parsed, schema-checked record file."""

    source: SourceFile
    kind: str
    slug: str
    raw: LineDict  # the YAML as written, with lines
    fields: dict[str, Any]  # conformed: plain values, list defaults filled in
    found: Found
    body: str = ""
    body_line: int = 0

    @property
    def valid_shape(self) -> bool:
        return not self.found.errors

    def line(self, *path: str | int) -> int:
        return line_at(self.raw, path)


@dataclass
class Report:
    errors: list[CheckError] = field(default_factory=list)

    def add(self, source: SourceFile | str, line: int, message: str) -> None:
        display = source if isinstance(source, str) else source.display
        self.errors.append(CheckError(display, line, message))


def line_at(raw: Any, path: tuple[str | int, ...]) -> int:
    """The file line of the deepest element of `path` that exists in the raw YAML."""
    line = getattr(raw, "line", 0)
    node = raw
    for part in path:
        in_dict = isinstance(node, LineDict) and isinstance(part, str) and part in node
        in_list = isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        line = node.line_of(part)
        node = node[part]
    return line


# --- Records --------------------------------------------------------------------------------


def _kind_of(parsed: ParsedFile, report: Report) -> str | None:
    folder = FOLDERS[parsed.source.folder]
    declared = parsed.front.get("kind")
    line = parsed.front.line_of("kind")
    if declared is None:
        if len(folder.kinds) == 1:
            return folder.kinds[0]
        choices = " or ".join(f"'kind: {k}'" for k in folder.kinds)
        report.add(parsed.source, parsed.front.line, f"records in {parsed.source.folder}/ need {choices}")
        return None
    if declared not in folder.kinds:
        expected = " or ".join(folder.kinds)
        report.add(
            parsed.source,
            line,
            f"kind '{declared}' does not match folder {parsed.source.folder}/ ({expected})",
        )
        return None
    return declared


def to_record(parsed: ParsedFile, report: Report) -> Record | None:
    source = parsed.source
    if not SLUG_RE.match(source.stem):
        report.add(
            source, 0, f"file name '{source.stem}' is not a slug (lowercase kebab-case, e.g. 'flow-matching')"
        )
        return None
    kind = _kind_of(parsed, report)
    if kind is None:
        return None
    fields, found = conform_record(kind, parsed.front, parsed.front.line)
    for line, message in found.errors:
        report.add(source, line, message)
    return Record(source, kind, source.stem, parsed.front, fields, found, parsed.body, parsed.body_line)


# --- Record rules ---------------------------------------------------------------------------


def _rule_identity(record: Record, report: Report) -> None:
    key = "key" if record.kind == "paper" else "slug"
    declared = record.fields.get(key)
    if declared is not None and declared != record.slug:
        report.add(
            record.source, record.line(key), f"{key} '{declared}' must equal the file name '{record.slug}'"
        )


def _rule_self_references(record: Record, report: Report) -> None:
    for ref in record.found.refs:
        if ref.kind in {"node", "family"} and ref.value == record.slug and not ref.where.startswith("values"):
            report.add(record.source, ref.line, f"'{ref.where}' refers to the record itself")


def _rule_edges(record: Record, report: Report) -> None:
    seen: set[tuple[str, str]] = set()
    for index, edge in enumerate(record.fields.get("edges", [])):
        line = record.line("edges", index)
        if "style" in edge and edge["kind"] != "lineage":
            report.add(
                record.source, line, f"edge style is only for lineage edges (this one is '{edge['kind']}')"
            )
        if (edge["to"], edge["kind"]) in seen:
            report.add(record.source, line, f"duplicate edge to '{edge['to']}' of kind '{edge['kind']}'")
        seen.add((edge["to"], edge["kind"]))


def _rule_authors(record: Record, report: Report) -> None:
    authors = record.fields["authors"]
    for index, author in enumerate(authors[:-1]):
        if author.strip().lower() == "others":
            report.add(record.source, record.line("authors", index), "'others' may only end the author list")


def _rule_lens(record: Record, report: Report) -> None:
    values = record.fields["values"]
    missing = [family for family in FAMILIES if family not in values]
    if missing:
        report.add(
            record.source,
            record.line("values"),
            f"'values' must cover all six families; missing: {', '.join(missing)}",
        )
    seen: set[tuple[str, str]] = set()
    for index, variant in enumerate(record.fields.get("variants", [])):
        key = (variant["family"], variant["variant"])
        if key in seen:
            report.add(
                record.source, record.line("variants", index), f"duplicate variant '{key[1]}' for '{key[0]}'"
            )
        seen.add(key)


def _rule_failure_mode(record: Record, report: Report) -> None:
    if record.fields["reproducible"] is False and "not_reproducible_because" not in record.fields:
        report.add(
            record.source,
            record.line("reproducible"),
            "'reproducible: false' needs 'not_reproducible_because'",
        )


def _rule_pipeline(record: Record, report: Report) -> None:
    ids: set[str] = set()
    for index, component in enumerate(record.fields["components"]):
        if component["id"] in ids:
            report.add(
                record.source, record.line("components", index), f"duplicate component id '{component['id']}'"
            )
        ids.add(component["id"])
    for index, flow in enumerate(record.fields.get("flows", [])):
        for end in ("from", "to"):
            if flow[end] not in ids:
                line = record.line("flows", index)
                report.add(
                    record.source, line, f"flow {end} '{flow[end]}' is not a component id of this pipeline"
                )


def _rule_guide(record: Record, report: Report) -> None:
    fields = record.fields
    questions: dict[str, dict[str, Any]] = {}
    leaves: dict[str, dict[str, Any]] = {}
    lines: dict[str, int] = {}
    for group, table in (("questions", questions), ("leaves", leaves)):
        for index, item in enumerate(fields[group]):
            lines[item["id"]] = record.line(group, index)
            if item["id"] in questions or item["id"] in leaves:
                report.add(record.source, lines[item["id"]], f"duplicate guide id '{item['id']}'")
            table[item["id"]] = item
    if fields["root"] not in questions:
        report.add(record.source, record.line("root"), f"root '{fields['root']}' is not a question id")
        return
    children: dict[str, list[str]] = {}
    for q_index, question in enumerate(fields["questions"]):
        children[question["id"]] = []
        for a_index, answer in enumerate(question["answers"]):
            line = record.line("questions", q_index, "answers", a_index)
            if ("next" in answer) == ("leaf" in answer):
                report.add(
                    record.source, line, "an answer needs exactly one of 'next' (a question) or 'leaf'"
                )
            elif "next" in answer and answer["next"] not in questions:
                report.add(record.source, line, f"answer goes to unknown question '{answer['next']}'")
            elif "leaf" in answer and answer["leaf"] not in leaves:
                report.add(record.source, line, f"answer goes to unknown leaf '{answer['leaf']}'")
            else:
                children[question["id"]].append(answer.get("next") or answer["leaf"])
    reached = _walk_guide(fields["root"], children, record, report)
    for node_id in [*questions, *leaves]:
        if node_id not in reached:
            what = "question" if node_id in questions else "leaf"
            report.add(
                record.source, lines[node_id], f"guide {what} '{node_id}' is not reachable from the root"
            )


def _walk_guide(root: str, children: dict[str, list[str]], record: Record, report: Report) -> set[str]:
    """Depth-first walk from the root; reports every cycle, returns what was reached."""
    reached: set[str] = set()
    on_path: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in on_path:
            cycle = " → ".join([*on_path[on_path.index(node_id) :], node_id])
            report.add(record.source, record.line("questions"), f"the guide has a cycle: {cycle}")
            return
        if node_id in reached:
            return
        reached.add(node_id)
        on_path.append(node_id)
        for child in children.get(node_id, []):
            visit(child)
        on_path.pop()

    visit(root)
    return reached


RECORD_RULES = {
    "paper": [_rule_identity, _rule_authors],
    "lens": [_rule_lens],
    "axis": [_rule_lens],
    "failure-mode": [_rule_failure_mode],
    "pipeline": [_rule_pipeline],
    "guide": [_rule_guide],
}
NODE_RULES = [_rule_identity, _rule_self_references, _rule_edges]


def check_record(record: Record, report: Report) -> None:
    if not record.valid_shape:
        return  # the rules below assume the shape is right; fix the schema errors first
    rules = RECORD_RULES.get(record.kind, []) + ([] if record.kind == "paper" else NODE_RULES)
    for rule in rules:
        rule(record, report)


# --- Tree rules -----------------------------------------------------------------------------


def check_unique_slugs(records: list[Record], report: Report) -> None:
    by_slug: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_slug[record.slug].append(record)
    for slug, group in by_slug.items():
        if len(group) > 1:
            for record in group:
                others = ", ".join(r.source.display for r in group if r is not record)
                report.add(record.source, 0, f"duplicate slug '{slug}' (also {others})")


def check_references(records: list[Record], report: Report, unreadable: set[str]) -> None:
    """Every `ref` resolves. References to files that could not be read at all (`unreadable`
    stems) are not reported again: the file's own error says what to fix."""
    nodes = {r.slug: r for r in records if r.kind != "paper"}
    papers = {r.slug for r in records if r.kind == "paper"}
    for record in records:
        for ref in record.found.refs:
            if ref.value in unreadable:
                continue
            if ref.kind == "paper":
                if ref.value not in papers:
                    report.add(record.source, ref.line, f"'{ref.where}': unknown paper '{ref.value}'")
            elif ref.value not in nodes:
                what = "family" if ref.kind == "family" else "node"
                report.add(record.source, ref.line, f"'{ref.where}': unknown {what} '{ref.value}'")
            elif ref.kind == "family" and nodes[ref.value].kind != "family":
                report.add(record.source, ref.line, f"'{ref.where}': '{ref.value}' is not a family")


def check_numbers(records: list[Record], report: Report) -> None:
    numbered: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for record in records:
        if isinstance(record.fields.get("number"), int):
            numbered[(record.kind, record.fields["number"])].append(record)
    for (kind, number), group in numbered.items():
        if len(group) > 1:
            for record in group:
                others = ", ".join(r.source.display for r in group if r is not record)
                report.add(
                    record.source, record.line("number"), f"{kind} number {number} is also used by {others}"
                )


def _normal_title(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


def check_papers(records: list[Record], report: Report) -> None:
    for key, label in (("title", "title"), ("arxiv", "arXiv id")):
        seen: dict[str, Record] = {}
        for record in records:
            if record.kind != "paper" or key not in record.fields:
                continue
            value = record.fields[key]
            value = _normal_title(value) if key == "title" else re.sub(r"v\d+$", "", value)
            if value in seen:
                first = seen[value]
                message = f"duplicate paper {label}: same as {first.source.display}"
                report.add(record.source, record.line(key), message)
            else:
                seen[value] = record


def check_families(records: list[Record], report: Report, strict: bool, root_name: str) -> None:
    found = {r.slug for r in records if r.kind == "family"}
    for record in records:
        if record.kind == "family" and record.slug not in FAMILIES:
            report.add(
                record.source, 0, f"'{record.slug}' is not one of the six families ({', '.join(FAMILIES)})"
            )
    if strict:
        for family in FAMILIES:
            if family not in found:
                report.add(f"{root_name}/families", 0, f"missing family record families/{family}.md")


def check_counts(records: list[Record], report: Report, root_name: str) -> None:
    counts = Counter(record.kind for record in records)
    folder_of = {kind: name for name, folder in FOLDERS.items() for kind in folder.kinds}
    for kind, expected in FIXED_COUNTS.items():
        if counts[kind] != expected:
            where = f"{root_name}/{folder_of[kind]}"
            report.add(where, 0, f"expected {expected} {kind} record(s), found {counts[kind]}")


def check_guides(records: list[Record], report: Report) -> None:
    guides = [r for r in records if r.kind == "guide"]
    if len(guides) > 1:
        for record in guides:
            report.add(record.source, 0, "there must be exactly one decision guide")


# --- Entry point ----------------------------------------------------------------------------


@dataclass
class CheckResult:
    errors: list[CheckError]
    records: list[Record]
    parsed: list[ParsedFile]
    tree: Any = None  # build.ContentTree when there are no errors

    @property
    def ok(self) -> bool:
        return not self.errors


def check(content_dir: Path, *, strict: bool = True) -> CheckResult:
    """Validate `content_dir`; `strict` adds the fixed counts of the real atlas (6 families,
    8 unifications, ...). Returns the errors, sorted, and the built tree when there are none."""
    report = Report()
    files, discovery_errors = discover(content_dir)
    report.errors.extend(discovery_errors)
    parsed: list[ParsedFile] = []
    for source in files:
        item, errors = parse_file(source)
        report.errors.extend(errors)
        if item is not None:
            parsed.append(item)
    records = [record for item in parsed if (record := to_record(item, report)) is not None]
    unreadable = {source.stem for source in files} - {record.slug for record in records}
    for record in records:
        check_record(record, report)
    check_unique_slugs(records, report)
    check_references(records, report, unreadable)
    check_numbers(records, report)
    check_papers(records, report)
    root_name = Path(content_dir).resolve().name
    check_families(records, report, strict, root_name)
    check_guides(records, report)
    if strict:
        check_counts(records, report, root_name)
    tree = build_tree(records, parsed, report, unreadable)
    errors = sorted(set(report.errors))
    return CheckResult(errors, records, parsed, None if errors else tree)
