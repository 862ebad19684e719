"""Reading `content/`: discover record files, split front matter, load safe YAML with line numbers.

The YAML loader builds plain dicts/lists/scalars from the parser's event stream (libyaml when
available), so it never constructs arbitrary objects and can refuse what the content format does
not allow: tags (`!!python/...`, `!foo`, even `!!str`), anchors and aliases, merge keys, duplicate
keys and non-string keys. Every mapping remembers the line of each key and every list the line of
each item, so later stages can report `file:line`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from atlas.content.errors import CheckError
from atlas.content.schema import FOLDERS

MAX_FILE_BYTES = 1024 * 1024
IGNORED_ROOT_FILES = {"SCHEMA.md", "README.md"}

_PARSER_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LineDict(dict):
    """A mapping from YAML that knows its own line and the line of each key."""

    line: int
    lines: dict[str, int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class LineList(list):
    """A sequence from YAML that knows its own line and the line of each item."""

    line: int
    lines: list[int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class YamlError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Builder:
    """Plain Python values from a YAML event stream; `offset` maps YAML lines to file lines."""

    def __init__(self, events: Any, offset: int) -> None:
        self.events = iter(events)
        self.offset = offset

    def next(self) -> Event:
        return next(self.events)

    def line(self, event: Event) -> int:
        return event.start_mark.line + 1 + self.offset

    def document(self) -> Any:
        assert isinstance(self.next(), StreamStartEvent)
        event = self.next()
        if isinstance(event, StreamEndEvent):
            return None
        assert isinstance(event, DocumentStartEvent)
        value = self.value(self.next())
        assert isinstance(self.next(), DocumentEndEvent)
        event = self.next()
        if not isinstance(event, StreamEndEvent):
            raise YamlError(self.line(event), "only one YAML document is allowed per file")
        return value

    def value(self, event: Event) -> Any:
        line = self.line(event)
        if isinstance(event, AliasEvent):
            raise YamlError(line, f"YAML aliases are not allowed (*{event.anchor})")
        if getattr(event, "anchor", None):
            raise YamlError(line, f"YAML anchors are not allowed (&{event.anchor})")
        if getattr(event, "tag", None) is not None:
            raise YamlError(line, f"YAML tags are not allowed ({event.tag}); write plain values")
        if isinstance(event, ScalarEvent):
            return self.scalar(event, line)
        if isinstance(event, SequenceStartEvent):
            return self.sequence(line)
        if isinstance(event, MappingStartEvent):
            return self.mapping(line)
        raise YamlError(line, f"unexpected YAML event {type(event).__name__}")

    def scalar(self, event: ScalarEvent, line: int) -> Any:
        if not event.implicit[0]:  # quoted or block scalar: always a string
            return event.value
        tag = _RESOLVER.resolve(ScalarNode, event.value, (True, False))
        if tag == _STR_TAG:
            return event.value
        if tag == _MERGE_TAG:
            raise YamlError(line, "YAML merge keys (<<) are not allowed")
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark)
        return SafeConstructor.yaml_constructors[tag](_CONSTRUCTOR, node)

    def sequence(self, line: int) -> LineList:
        result = LineList(line)
        while not isinstance(event := self.next(), SequenceEndEvent):
            result.lines.append(self.line(event))
            result.append(self.value(event))
        return result

    def mapping(self, line: int) -> LineDict:
        result = LineDict(line)
        while not isinstance(event := self.next(), MappingEndEvent):
            key_line = self.line(event)
            key = self.value(event)
            if not isinstance(key, str):
                raise YamlError(key_line, f"mapping keys must be strings, got {key!r}")
            if key in result:
                raise YamlError(key_line, f"duplicate key '{key}' (first at line {result.lines[key]})")
            result.lines[key] = key_line
            result[key] = self.value(self.next())
        return result


def load_yaml(text: str, first_line: int = 1) -> Any:
    """Safe YAML → plain values with line numbers; `first_line` is the file line of the text's
    first line. Raises YamlError (with a file line) on syntax errors and refused constructs."""
    offset = first_line - 1
    try:
        return _Builder(yaml.parse(text, Loader=_PARSER_LOADER), offset).document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark else first_line
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlError(line, f"invalid YAML: {problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(first_line, f"invalid YAML: {exc}") from None


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # posix path relative to the content root, e.g. `methods/ddpm.md`
    folder: str
    stem: str
    suffix: str
    display: str  # `content/methods/ddpm.md`, for messages


@dataclass
class ParsedFile:
    source: SourceFile
    front: LineDict
    body: str  # "" for .yaml records
    body_line: int  # file line where the body starts
    raw: bytes


def _error(display: str, line: int, message: str) -> CheckError:
    return CheckError(display, line, message)


def _is_ignored(name: str) -> bool:
    return name.startswith(".") or name.endswith("~")


def discover(root: Path) -> tuple[list[SourceFile], list[CheckError]]:
    """Every record file under `root` (one level of kind folders), sorted; symlinks, unknown
    folders, nested folders and wrong extensions are errors. Root-level files are ignored."""
    root = root.resolve()
    prefix = root.name
    files: list[SourceFile] = []
    errors: list[CheckError] = []
    if not root.is_dir():
        return [], [_error(str(root), 0, "content directory does not exist")]
    for top in sorted(os.scandir(root), key=lambda e: e.name):
        display = f"{prefix}/{top.name}"
        if _is_ignored(top.name):
            continue
        if top.is_symlink():
            errors.append(_error(display, 0, "symlinks are not allowed in content/"))
        elif top.is_file(follow_symlinks=False):
            continue  # SCHEMA.md, README.md and other documentation
        elif top.name not in FOLDERS:
            errors.append(_error(display, 0, f"unknown folder (expected one of: {', '.join(FOLDERS)})"))
        else:
            _discover_folder(root, Path(top.path), files, errors)
    return files, errors


def _discover_folder(root: Path, folder: Path, files: list[SourceFile], errors: list[CheckError]) -> None:
    extension = FOLDERS[folder.name].extension
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if _is_ignored(entry.name):
            continue
        path = Path(entry.path)
        rel = path.relative_to(root).as_posix()
        display = f"{root.name}/{rel}"
        if entry.is_symlink():
            errors.append(_error(display, 0, "symlinks are not allowed in content/"))
        elif not entry.is_file(follow_symlinks=False):
            errors.append(
                _error(display, 0, "nested folders are not allowed; put the file in its kind folder")
            )
        elif path.suffix != extension:
            errors.append(_error(display, 0, f"files in {folder.name}/ must end in {extension}"))
        elif not path.resolve().is_relative_to(root):
            errors.append(_error(display, 0, "path resolves outside content/"))
        else:
            files.append(SourceFile(path, rel, folder.name, path.stem, path.suffix, display))


def split_front_matter(text: str) -> tuple[str, int, str, int]:
    """(`yaml_text`, its first file line, `body`, its first file line) of a Markdown record."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise YamlError(1, "a Markdown record must start with a '---' line (YAML front matter)")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            front = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1 :])
            return front, 2, body, index + 2
    raise YamlError(1, "the front matter is not closed by a '---' line")


def parse_file(source: SourceFile) -> tuple[ParsedFile | None, list[CheckError]]:
    raw = source.path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        return None, [_error(source.display, 0, f"file is larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        return None, [_error(source.display, 0, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]
    try:
        if source.suffix == ".md":
            front_text, front_line, body, body_line = split_front_matter(text)
        else:
            front_text, front_line, body, body_line = text, 1, "", 0
        front = load_yaml(front_text, front_line)
    except YamlError as exc:
        return None, [_error(source.display, exc.line, exc.message)]
    if not isinstance(front, LineDict):
        where = "front matter" if source.suffix == ".md" else "file"
        return None, [_error(source.display, front_line, f"the {where} must be a YAML mapping of keys")]
    return ParsedFile(source, front, body, body_line, raw), []


def tree_hash(parsed: list[ParsedFile], salt: str) -> str:
    """A hash of every record file (path and bytes) plus `salt` (the renderer's version)."""
    digest = hashlib.sha256(salt.encode())
    for item in sorted(parsed, key=lambda p: p.source.rel):
        digest.update(item.source.rel.encode() + b"\0" + item.raw + b"\0")
    return digest.hexdigest()
