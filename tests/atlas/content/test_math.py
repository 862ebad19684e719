"""LaTeX → MathML: formulas become MathML; a formula that cannot be converted is a check error."""

from __future__ import annotations

import pytest

from atlas.content.render import MathError, Renderer, latex_to_mathml


def test_it_reports_bad_latex_in_a_body_with_its_line(broken):
    assert broken("bad-latex-body") == [
        "content/methods/ddpm.md:9: bad LaTeX '\\\\frac{1}{2': unbalanced braces: 1 '{' not closed"
    ]


def test_it_reports_bad_latex_in_an_equation_field(broken):
    assert broken("bad-latex-field") == [
        "content/methods/ddpm.md:5: bad LaTeX '\\\\left( x_t': cannot convert to MathML "
        "(ExtraLeftOrMissingRightError) (in 'equation')"
    ]


@pytest.mark.parametrize(
    "latex",
    [r"\frac{a", r"a}", r"\frac{a}", r"\left( x", r"\notacommand x", r"x^"],
)
def test_it_refuses_formulas_it_cannot_convert_faithfully(latex: str):
    with pytest.raises(MathError):
        latex_to_mathml(latex, display=False)


def test_inline_and_display_math_become_mathml():
    html, issues = Renderer({}).block("Inline $x_{<i}$ and\n\n$$\n\\frac{a}{b}\n$$\n", 1)
    assert issues == []
    assert '<math display="inline"><semantics><mrow><msub><mi>x</mi>' in html
    assert '<div class="math-display"><math display="block"><semantics><mrow><mfrac>' in html
    assert '<annotation encoding="application/x-tex">\\frac{a}{b}</annotation>' in html


def test_sized_delimiters_are_converted():
    mathml = latex_to_mathml(r"\big\|x\big\|", display=False)
    assert "‖" in mathml and "\\|" not in mathml.split("<annotation")[0]


def test_a_conversion_error_never_crashes_rendering():
    html, issues = Renderer({}).inline("ok $\\frac{1}{$ and more", 7)
    assert issues == [(7, "bad LaTeX '\\\\frac{1}{': unbalanced braces: 1 '{' not closed")]
    assert '<code class="math-error">' in html
