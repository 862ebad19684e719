"""Stored HTML is safe: no script, no handlers, no style, no javascript:/data: URLs; MathML stays."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from atlas.content.render import Renderer, sanitize

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    '<math><mi href="javascript:alert(1)">x</mi></math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)"><mi>x</mi></maction></math>',
    "<math><mtext><style><img src=x onerror=alert(1)></style></mtext></math>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://example.com"></iframe>',
    '<div onclick="alert(1)" onmouseover="alert(1)">x</div>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name="q"></form>',
    '<object data="x.swf"></object><embed src="x.swf">',
]


FORBIDDEN_TAGS = {"script", "style", "iframe", "svg", "form", "input", "object", "embed", "maction"}


class _Elements(HTMLParser):
    """Every element and attribute of a fragment, as a browser would see them (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _assert_safe(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> survived in {html!r}"
        for name, value in attrs:
            assert not name.startswith("on") and name not in {"style", "xlink:href"}, f"{name} in {html!r}"
            url = "".join((value or "").split()).lower()
            assert not url.startswith(("javascript:", "data:", "vbscript:")), f"{name}={value!r} in {html!r}"


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_the_sanitizer_removes_xss_payloads(payload: str):
    _assert_safe(sanitize(payload))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_raw_html_in_markdown_never_becomes_markup(payload: str):
    html, _ = Renderer({}).block(f"Text before.\n\n{payload}\n\nText after {payload}.", 1)
    _assert_safe(html)


@pytest.mark.parametrize(
    "markdown",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](data:text/html,<script>alert(1)</script>)",
        "![img](data:image/png;base64,iVBORw0KGgo=)",
        "[click](vbscript:msgbox(1))",
        "<javascript:alert(1)>",
    ],
)
def test_markdown_links_with_dangerous_urls_lose_their_url(markdown: str):
    html, _ = Renderer({}).block(markdown, 1)
    _assert_safe(html)


def test_mathml_survives_sanitising():
    mathml = (
        '<math display="block"><semantics><mrow><mfrac><mi>a</mi><mi>b</mi></mfrac>'
        '<msub><mi>x</mi><mn>0</mn></msub><mo stretchy="false">(</mo></mrow>'
        '<annotation encoding="application/x-tex">a/b</annotation></semantics></math>'
    )
    assert sanitize(mathml) == mathml


def test_highlighting_classes_and_safe_links_survive():
    html, _ = Renderer({"ddpm": "DDPM"}).block(
        "See [[ddpm]] and [the paper](https://arxiv.org/abs/2006.11239).\n\n```python\nx = 1\n```\n", 1
    )
    assert '<a class="wikilink" href="/node/ddpm/"' in html
    assert 'href="https://arxiv.org/abs/2006.11239"' in html
    assert '<pre class="highlight"><code class="language-python"><span class="n">x</span>' in html
