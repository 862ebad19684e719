"""Only safe YAML, only files inside content/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atlas.content.parse import YamlError, load_yaml
from tests.atlas.content.conftest import errors_of


def test_it_rejects_unsafe_yaml_tags(broken):
    assert broken("unsafe-yaml-tag") == [
        "content/papers/ho2020ddpm.yaml:2: YAML tags are not allowed "
        "(tag:yaml.org,2002:python/object/apply:os.system); write plain values"
    ]


@pytest.mark.parametrize("text", ["a: !!str 1", "a: !custom x", "a: !!binary aGk=", "a: ! x", "!!map {a: 1}"])
def test_it_rejects_every_explicit_tag(text: str):
    with pytest.raises(YamlError, match="YAML tags are not allowed"):
        load_yaml(text)


def test_it_rejects_anchors_and_aliases(broken):
    assert broken("yaml-alias") == ["content/papers/ho2020ddpm.yaml:1: YAML anchors are not allowed (&t)"]


def test_it_rejects_merge_keys():
    with pytest.raises(YamlError, match="merge keys"):
        load_yaml("a: 1\n<<: {b: 2}\n")


def test_it_reports_yaml_syntax_errors_with_the_file_line(content_dir: Path):
    (content_dir / "methods" / "ddpm.md").write_text("---\ntitle: DDPM\nsummary: [unclosed\n---\n")
    errors = errors_of(content_dir)
    assert len(errors) == 1
    assert errors[0].startswith("content/methods/ddpm.md:4: invalid YAML")


def test_it_records_the_line_of_every_key_and_item():
    value = load_yaml("a: 1\nb:\n  - x\n  - y\n", first_line=10)
    assert value.lines == {"a": 10, "b": 11}
    assert value["b"].lines == [12, 13]


def test_it_rejects_a_symlinked_file(content_dir: Path, tmp_path: Path):
    outside = tmp_path / "secret.md"
    outside.write_text("---\ntitle: x\nsummary: y\nfamilies: [vae]\n---\n")
    os.symlink(outside, content_dir / "methods" / "leak.md")
    assert errors_of(content_dir) == ["content/methods/leak.md:0: symlinks are not allowed in content/"]


def test_it_rejects_a_symlinked_folder(content_dir: Path, tmp_path: Path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", content_dir / "essays-link")
    os.symlink(tmp_path / "elsewhere", content_dir / "methods" / "more")
    assert errors_of(content_dir) == [
        "content/essays-link:0: symlinks are not allowed in content/",
        "content/methods/more:0: symlinks are not allowed in content/",
    ]


def test_it_rejects_nested_folders(content_dir: Path):
    (content_dir / "methods" / "old").mkdir()
    assert errors_of(content_dir) == [
        "content/methods/old:0: nested folders are not allowed; put the file in its kind folder"
    ]
