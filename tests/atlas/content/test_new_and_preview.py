"""`manage.py content new KIND SLUG` and `manage.py content preview FILE`."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from atlas.content.lint import lint
from atlas.content.preview import preview_server, render_preview
from atlas.content.skeleton import NEW_KINDS
from atlas.content.validate import check


def new(content_dir: Path, kind: str, slug: str) -> str:
    out = StringIO()
    call_command("content", "new", kind, slug, "--dir", str(content_dir), stdout=out)
    return out.getvalue()


# --- new ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [kind for kind in NEW_KINDS if kind != "family"])
def test_it_writes_a_skeleton_that_passes_the_check_for_every_kind(content_dir: Path, kind: str):
    new(content_dir, kind, "brand-new")
    result = check(content_dir, strict=False)
    assert [str(error) for error in result.errors] == []
    assert any(record.slug == "brand-new" for record in result.records)


def test_it_marks_every_placeholder_so_that_the_check_warns(content_dir: Path):
    new(content_dir, "method", "brand-new")
    result = check(content_dir, strict=False)
    todos = [w for w in lint(result.records, result.parsed, None).warnings if w.code == "todo"]
    assert {w.path for w in todos} == {"content/methods/brand-new.md"}
    # title, summary, papers, families, and the four parts of the body
    assert len(todos) == 8


def test_it_gives_a_numbered_record_the_first_free_number(content_dir: Path):
    new(content_dir, "trend", "brand-new")  # the fixture's one trend has number 1
    assert "number: 2  # TODO" in (content_dir / "trends" / "brand-new.md").read_text()


def test_it_refuses_an_existing_slug_and_keeps_the_file(content_dir: Path):
    before = (content_dir / "methods" / "ddpm.md").read_text()
    with pytest.raises(CommandError, match="slug 'ddpm' is already used by .*methods/ddpm.md") as failure:
        new(content_dir, "essay", "ddpm")
    assert failure.value.returncode == 1
    assert (content_dir / "methods" / "ddpm.md").read_text() == before
    assert not (content_dir / "essays" / "ddpm.md").exists()


def test_it_refuses_an_unknown_kind(content_dir: Path):
    with pytest.raises(CommandError, match="unknown kind 'model'; one of: family, method"):
        new(content_dir, "model", "brand-new")


def test_it_refuses_a_slug_that_is_not_kebab_case(content_dir: Path):
    with pytest.raises(CommandError, match="'Brand_New' is not a slug"):
        new(content_dir, "method", "Brand_New")


def test_it_refuses_a_number_when_the_fixed_set_is_full(content_dir: Path):
    for number in range(2, 6):
        new(content_dir, "trend", f"trend-{number}")
    with pytest.raises(CommandError, match="every trend number from 1 to 5 is taken"):
        new(content_dir, "trend", "one-too-many")


# --- preview --------------------------------------------------------------------------------


def test_it_previews_the_body_exactly_as_the_loader_renders_it(content_dir: Path):
    tree = check(content_dir, strict=False).tree
    assert tree is not None
    html = render_preview(content_dir / "methods" / "ddpm.md").html
    assert tree.nodes["ddpm"]["body_html"] in html
    assert tree.nodes["ddpm"]["data"]["summary_html"] in html
    assert "<h1>DDPM</h1>" in html and "Denoising Diffusion Probabilistic Models" in html  # its paper


def test_it_prints_the_page_on_stdout(content_dir: Path):
    out = StringIO()
    call_command("content", "preview", str(content_dir / "methods" / "ddpm.md"), stdout=out)
    assert out.getvalue().startswith("<!doctype html>") and "<h1>DDPM</h1>" in out.getvalue()


def test_it_reports_preview_errors_as_path_line_message(content_dir: Path):
    path = content_dir / "methods" / "ddpm.md"
    path.write_text(path.read_text().replace("see [[diffusion]]", "see [[nowhere]]"))
    err = StringIO()
    with pytest.raises(CommandError, match="1 error") as failure:
        call_command("content", "preview", str(path), stdout=StringIO(), stderr=err)
    assert failure.value.returncode == 1
    assert err.getvalue() == "content/methods/ddpm.md:10: unknown link target [[nowhere]]\n"


@pytest.fixture
def served(content_dir: Path) -> Iterator[str]:
    server = preview_server(content_dir / "methods" / "ddpm.md", 0, lambda preview: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_serves_the_page_and_renders_it_again_on_reload(served: str, content_dir: Path):
    with urllib.request.urlopen(served + "/") as response:
        assert "<h1>DDPM</h1>" in response.read().decode()
    path = content_dir / "methods" / "ddpm.md"
    path.write_text(path.read_text().replace("title: DDPM", "title: DDPM, edited"))
    with urllib.request.urlopen(served + "/") as response:
        assert "<h1>DDPM, edited</h1>" in response.read().decode()


def test_it_serves_the_site_stylesheet(served: str):
    with urllib.request.urlopen(served + "/static/atlas/atlas.css") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/css")
