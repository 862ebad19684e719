"""The warnings of `content check`: each fires on a crafted file and stays quiet on a clean one."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from atlas.content.lint import LintReport, arxiv_date, lint, prose_words
from atlas.content.validate import check

SEED_SENTENCE = (
    "Diffusion models learn to reverse a gradual noising process by predicting the noise added at "
    "each step of a fixed Markov chain"
)  # 22 words


def words(count: int, word: str = "denoising") -> str:
    return " ".join([word] * count)


def lint_tree(content_dir: Path, seed_dir: Path | None = None) -> LintReport:
    result = check(content_dir, strict=False)
    assert [str(e) for e in result.errors] == []
    return lint(result.records, result.parsed, seed_dir)


def warnings_in(content_dir: Path, rel: str, seed_dir: Path | None = None) -> list[str]:
    """The warnings on file `rel`, without the file name: `line: message [code]`."""
    prefix = f"content/{rel}:"
    return [
        str(w).removeprefix(prefix)
        for w in lint_tree(content_dir, seed_dir).warnings
        if str(w).startswith(prefix)
    ]


def write(content_dir: Path, rel: str, text: str) -> None:
    (content_dir / rel).write_text(text, encoding="utf-8")


def failure_mode(papers: str) -> str:
    return (
        "---\ntitle: Exposure bias\nsummary: Training sees true prefixes.\naffects: [autoregressive]\n"
        "symptom: Drift.\nmechanism: Mismatch.\nfixes: []\nreproducible: true\n"
        f"papers: {papers}\n---\n\nBody.\n"
    )


def method(body: str) -> str:
    return (
        f"---\ntitle: Thin\nsummary: A method.\nfamilies: [diffusion]\npapers: [ho2020ddpm]\n---\n\n{body}\n"
    )


def paper(year: int, arxiv: str, venue: str | None) -> str:
    text = f"title: A paper\nauthors: ['Doe, Jane']\nyear: {year}\narxiv: '{arxiv}'\n"
    return text + (f"venue: {venue}\n" if venue else "")


# --- no paper -------------------------------------------------------------------------------


def test_it_warns_on_a_failure_mode_that_cites_no_paper(content_dir: Path):
    write(content_dir, "failure-modes/exposure-bias.md", failure_mode("[]"))
    assert warnings_in(content_dir, "failure-modes/exposure-bias.md") == [
        "9: warning: this failure-mode cites no paper: add the paper(s) behind its claims to 'papers' "
        "[no-paper]"
    ]


def test_it_does_not_warn_on_a_failure_mode_that_cites_a_paper(content_dir: Path):
    write(content_dir, "failure-modes/exposure-bias.md", failure_mode("[ho2020ddpm]"))
    assert warnings_in(content_dir, "failure-modes/exposure-bias.md") == []


@pytest.mark.parametrize("rel", ["open-problems/why-cfg-works.md", "research-directions/long-video.md"])
def test_it_warns_on_open_problems_and_research_directions_without_papers(content_dir: Path, rel: str):
    assert [w.split()[-1] for w in warnings_in(content_dir, rel)] == ["[no-paper]"]


def test_it_does_not_ask_a_method_for_papers(content_dir: Path):
    write(content_dir, "methods/thin.md", method(words(150)).replace("papers: [ho2020ddpm]\n", ""))
    assert warnings_in(content_dir, "methods/thin.md") == []


# --- thin method ----------------------------------------------------------------------------


def test_it_warns_on_a_method_body_under_150_words(content_dir: Path):
    write(content_dir, "methods/thin.md", method(words(149)))
    assert [w.split(";")[0] for w in warnings_in(content_dir, "methods/thin.md")] == [
        "7: warning: the body has 149 words"
    ]


def test_it_does_not_warn_on_a_method_body_of_150_words(content_dir: Path):
    write(content_dir, "methods/thin.md", method(words(150)))
    assert warnings_in(content_dir, "methods/thin.md") == []


def test_it_counts_neither_math_nor_code_as_words():
    body = (
        "One two three $$\na + b\n$$ four $x_t$ five `six seven`\n```python\nx = 1\n```\n[[ddpm|DDPM paper]]"
    )
    assert prose_words(body) == 7  # one two three four five + DDPM paper


# --- arXiv year -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "arxiv", "venue"),
    [(2020, "2006.11240", None), (2021, "2012.09841", "ICLR 2021"), (2014, "1312.6114", "ICLR 2014")],
)
def test_it_accepts_an_arxiv_id_from_the_year_or_the_year_before_a_venue(
    content_dir: Path, year: int, arxiv: str, venue: str | None
):
    write(content_dir, "papers/doe2020paper.yaml", paper(year, arxiv, venue))
    assert warnings_in(content_dir, "papers/doe2020paper.yaml") == []


@pytest.mark.parametrize(
    ("year", "arxiv", "venue", "why"),
    [
        (2022, "2006.11240", "ICLR 2022", "is from 06/2020 but year is 2022"),  # two years early
        (2021, "2012.09841", None, "is from 12/2020 but year is 2021"),  # year before, but no venue
        (2019, "2006.11240", "NeurIPS 2019", "is from 06/2020 but year is 2019"),  # after the paper
        (2020, "2013.11239", None, "has month 13"),
        (2016, "1606.1123", None, "should have 5 digits after the dot for 2016"),
    ],
)
def test_it_warns_on_an_arxiv_id_that_does_not_fit_the_year(
    content_dir: Path, year: int, arxiv: str, venue: str | None, why: str
):
    write(content_dir, "papers/doe2020paper.yaml", paper(year, arxiv, venue))
    (warning,) = warnings_in(content_dir, "papers/doe2020paper.yaml")
    assert warning.startswith("4: warning: arXiv id") and why in warning and warning.endswith("[arxiv-year]")


# --- "the source" / "the overview" and TODO -------------------------------------------------


def test_it_warns_on_the_source_and_the_overview_with_their_lines(content_dir: Path):
    write(
        content_dir,
        "methods/thin.md",
        method(words(150) + "\n\nAs the source says.\n\nThe Overview lists it."),
    )
    codes = [w.split(": ")[0] + " " + w.split()[-1] for w in warnings_in(content_dir, "methods/thin.md")]
    assert codes == ["10 [the-source]", "12 [the-source]"]


def test_it_does_not_warn_on_the_source_distribution(content_dir: Path):
    write(content_dir, "methods/thin.md", method(words(150) + "\n\nPaths from the source distribution."))
    assert warnings_in(content_dir, "methods/thin.md") == []


def test_it_warns_on_a_todo_placeholder(content_dir: Path):
    write(content_dir, "methods/thin.md", method(words(150) + "\n\nTODO: the pitfalls."))
    assert warnings_in(content_dir, "methods/thin.md") == [
        "10: warning: placeholder left: TODO: the pitfalls. [todo]"
    ]


# --- own words ------------------------------------------------------------------------------


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "seed"
    folder.mkdir()
    (folder / "000_seed.txt").write_text(f"Intro.\n{SEED_SENTENCE}.\nMore text follows here.\n")
    return folder


def test_it_warns_on_a_twelve_word_run_shared_with_the_seed(content_dir: Path, seed_dir: Path):
    copied = " ".join(SEED_SENTENCE.split()[3:15])  # 12 words, shifted, different case below
    write(content_dir, "methods/thin.md", method(words(150) + f"\n\nWe {copied.upper()}, $x$ aside."))
    assert warnings_in(content_dir, "methods/thin.md", seed_dir) == [
        "10: warning: 12 words as in the seed document: 'to reverse a gradual noising process by predicting "
        "the noise added at'; say it in our own words [seed-run]"
    ]


def test_it_does_not_warn_on_eleven_shared_words(content_dir: Path, seed_dir: Path):
    copied = " ".join(SEED_SENTENCE.split()[3:14])
    write(content_dir, "methods/thin.md", method(words(150) + f"\n\nWe {copied}, and more."))
    assert warnings_in(content_dir, "methods/thin.md", seed_dir) == []


def test_it_ignores_math_inside_a_shared_run(content_dir: Path, seed_dir: Path):
    first, second = " ".join(SEED_SENTENCE.split()[:6]), " ".join(SEED_SENTENCE.split()[6:12])
    write(content_dir, "methods/thin.md", method(words(150) + f"\n\n{first} $z$ {second}"))
    assert [w.split()[-1] for w in warnings_in(content_dir, "methods/thin.md", seed_dir)] == ["[seed-run]"]


def test_it_reports_the_own_words_figure(content_dir: Path, seed_dir: Path):
    write(content_dir, "methods/thin.md", method(words(150) + f"\n\n{SEED_SENTENCE}."))
    line = lint_tree(content_dir, seed_dir).own_words.line()
    # The seed has 27 words (16 runs); its 22-word sentence (11 runs) is copied whole.
    assert line.startswith("own words: 11 of 16 12-word runs of the seed appear in the content (68.75 %)")
    assert line.endswith("longest shared passage 22 words (content/methods/thin.md)")


def test_it_skips_the_seed_check_with_one_line_when_the_seed_is_absent(content_dir: Path, tmp_path: Path):
    write(content_dir, "methods/thin.md", method(words(150) + f"\n\n{SEED_SENTENCE}."))
    out = StringIO()
    call_command(
        "content", "check", "--lenient", "--dir", str(content_dir), "--seed", str(tmp_path / "no"), stdout=out
    )
    skipped = [line for line in out.getvalue().splitlines() if "own words" in line]
    assert skipped == [
        f"own words: skipped (no seed document (*.txt) in {tmp_path / 'no'}; set ATLAS_SEED_DIR or --seed)"
    ]
    assert "[seed-run]" not in out.getvalue()


# --- the command ----------------------------------------------------------------------------


def test_it_prints_warnings_and_their_counts_and_exits_zero(content_dir: Path, seed_dir: Path):
    write(content_dir, "failure-modes/exposure-bias.md", failure_mode("[]"))
    out = StringIO()
    call_command(
        "content", "check", "--lenient", "--dir", str(content_dir), "--seed", str(seed_dir), stdout=out
    )
    lines = out.getvalue().splitlines()
    assert "content/failure-modes/exposure-bias.md:9: warning: this failure-mode" in out.getvalue()
    assert "6 warning(s): no-paper 4, thin-method 2" in lines
    assert lines[-1].startswith("own words: 0 of 16 ")


def test_it_exits_non_zero_on_warnings_with_strict(content_dir: Path):
    with pytest.raises(CommandError, match=r"5 content warning\(s\) \(--strict\)") as failure:
        call_command(
            "content", "check", "--lenient", "--strict", "--dir", str(content_dir), stdout=StringIO()
        )
    assert failure.value.returncode == 1


def test_it_reads_the_date_of_old_and_new_style_arxiv_ids():
    assert (arxiv_date("hep-th/9901001"), arxiv_date("2006.11239v2"), arxiv_date("10.1000/x")) == (
        (1999, 1),
        (2020, 6),
        None,
    )
