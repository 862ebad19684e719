"""The schema: unknown keys, wrong types, missing front matter, kinds and names."""

from __future__ import annotations

from pathlib import Path

from tests.atlas.content.conftest import errors_of


def test_the_valid_fixture_passes(content_dir: Path):
    assert errors_of(content_dir) == []


def test_it_rejects_unknown_keys(broken):
    errors = broken("unknown-key")
    assert len(errors) == 1
    assert errors[0].startswith("content/methods/ddpm.md:5: unknown key 'colour' in record")


def test_it_rejects_wrong_types(broken):
    assert broken("wrong-type") == ["content/methods/ddpm.md:5: 'year' must be an integer, got a string"]


def test_it_asks_to_quote_an_arxiv_id_that_yaml_read_as_a_number(broken):
    assert broken("unquoted-arxiv") == [
        "content/papers/ho2020ddpm.yaml:4: 'arxiv' must be a string, got a number (quote it)"
    ]


def test_it_rejects_missing_required_keys(content_dir: Path):
    (content_dir / "methods" / "ddpm.md").write_text("---\ntitle: DDPM\nfamilies: [diffusion]\n---\n")
    assert errors_of(content_dir) == ["content/methods/ddpm.md:2: missing required key 'summary' in record"]


def test_it_rejects_duplicate_yaml_keys(broken):
    assert broken("duplicate-key") == ["content/methods/ddpm.md:5: duplicate key 'title' (first at line 2)"]


def test_it_rejects_a_kind_that_does_not_match_the_folder(broken):
    assert broken("kind-mismatch") == [
        "content/methods/ddpm.md:2: kind 'family' does not match folder methods/ (method)"
    ]


def test_it_rejects_a_markdown_record_without_front_matter(broken):
    assert broken("no-front-matter") == [
        "content/methods/ddpm.md:1: a Markdown record must start with a '---' line (YAML front matter)"
    ]


def test_it_rejects_unknown_folders(broken):
    errors = broken("unknown-folder")
    assert len(errors) == 1
    assert errors[0].startswith("content/models:0: unknown folder")


def test_it_rejects_a_file_name_that_is_not_a_slug(broken):
    assert broken("bad-file-name") == [
        "content/methods/Score_SDE.md:0: file name 'Score_SDE' is not a slug "
        "(lowercase kebab-case, e.g. 'flow-matching')"
    ]


def test_it_rejects_a_paper_key_that_differs_from_the_file_name(broken):
    assert broken("key-not-stem") == [
        "content/papers/ho2020ddpm.yaml:2: key 'ho2020diffusion' must equal the file name 'ho2020ddpm'"
    ]


def test_it_rejects_a_style_on_an_edge_that_is_not_lineage(broken):
    assert broken("edge-style-not-lineage") == [
        "content/methods/ddpm.md:6: edge style is only for lineage edges (this one is 'related')"
    ]


def test_it_rejects_wrong_extensions_in_a_kind_folder(content_dir: Path):
    (content_dir / "glossary" / "fid.md").write_text("---\ntitle: FID\n---\n")
    assert errors_of(content_dir) == ["content/glossary/fid.md:0: files in glossary/ must end in .yaml"]


def test_it_ignores_hidden_and_backup_files(content_dir: Path):
    (content_dir / "methods" / ".ddpm.md.swp").write_bytes(b"\0\1binary")
    (content_dir / "methods" / "ddpm.md~").write_text("old copy")
    assert errors_of(content_dir) == []
