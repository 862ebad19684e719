"""Markdown → sanitized HTML, done once at load time.

markdown-it-py (CommonMark + tables, strikethrough, footnotes, heading anchors, `$`/`$$` math),
LaTeX → MathML with latex2mathml, code fences highlighted by Pygments (CSS classes, see
`pygments_css()`), `[[slug]]` / `[[slug|label]]` resolved to `/node/<slug>/` links, then nh3
with an allow-list that keeps MathML and the highlighting classes. Raw HTML in Markdown is not
interpreted (it shows as text). Problems (bad LaTeX, unknown link targets) are returned as
`(line, message)` issues, never raised.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from typing import Any

import nh3
from latex2mathml.converter import convert as latex2mathml_convert
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# Bump when the HTML produced for the same source changes: it is part of the content hash.
RENDER_VERSION = "1"

# --- Sanitizer allow-list -------------------------------------------------------------------

MATHML_TAGS = frozenset(
    {
        "math", "semantics", "annotation", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace",
        "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot", "mstyle", "merror", "mpadded",
        "mphantom", "menclose", "munder", "mover", "munderover", "mtable", "mtr", "mtd",
        "mlabeledtr", "mmultiscripts", "mprescripts", "none",
    }
)  # fmt: skip
MATHML_ATTRIBUTES = frozenset(
    {
        "display", "mathvariant", "displaystyle", "scriptlevel", "stretchy", "fence", "separator",
        "form", "lspace", "rspace", "minsize", "maxsize", "symmetric", "largeop", "movablelimits",
        "accent", "accentunder", "linethickness", "columnalign", "rowalign", "columnspacing",
        "rowspacing", "columnlines", "rowlines", "frame", "width", "height", "depth", "voffset",
        "notation", "open", "close", "separators", "linebreak", "encoding", "mathsize", "dir",
        "columnspan", "rowspan", "bevelled", "numalign", "denomalign",
    }
)  # fmt: skip
HTML_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
        "dl", "dt", "dd", "strong", "em", "b", "i", "s", "del", "sub", "sup", "code", "pre",
        "span", "div", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "section", "kbd",
    }
)  # fmt: skip
HTML_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "class", "id"},
    "img": {"src", "alt", "title"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "li": {"id", "class"},
    "ol": {"start", "class"},
    "sup": {"id", "class"},
    "section": {"class"},
    "hr": {"class"},
    "th": {"class"},
    "td": {"class"},
    "span": {"class"},
    "div": {"class"},
    "pre": {"class"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
ALLOWED_TAGS = HTML_TAGS | MATHML_TAGS
ALLOWED_ATTRIBUTES = {**HTML_ATTRIBUTES, **{tag: set(MATHML_ATTRIBUTES) for tag in MATHML_TAGS}}


_SANITIZER_OPTIONS: dict[str, Any] = {
    "tags": set(ALLOWED_TAGS),
    "attributes": ALLOWED_ATTRIBUTES,
    "url_schemes": set(URL_SCHEMES),
    "link_rel": "noopener noreferrer",
    "strip_comments": True,
}
# nh3 ≥ 0.3 builds the allow-list once; older versions rebuild it on every call.
_CLEANER = nh3.Cleaner(**_SANITIZER_OPTIONS) if hasattr(nh3, "Cleaner") else None


def sanitize(html: str) -> str:
    """The one gate every stored HTML string goes through: no script, no event handlers, no
    `style`, no `javascript:`/`data:` URLs, no MathML `href`."""
    if _CLEANER is not None:
        return _CLEANER.clean(html)
    return nh3.clean(html, **_SANITIZER_OPTIONS)


# --- LaTeX → MathML -------------------------------------------------------------------------


class MathError(ValueError):
    pass


_ARITY = {
    "mfrac": 2,
    "msub": 2,
    "msup": 2,
    "msubsup": 3,
    "mroot": 2,
    "munder": 2,
    "mover": 2,
    "munderover": 3,
}
# latex2mathml leaves `\big\|` & co. unconverted; give it the delimiter character instead.
_SIZED_DELIMITER = re.compile(r"\\(big|Big|bigg|Bigg)([lrm]?)\s*(\\[A-Za-z]+|\\\||\\\{|\\\})")
_DELIMITERS = {
    r"\|": "‖",
    r"\Vert": "‖",
    r"\lVert": "‖",
    r"\rVert": "‖",
    r"\vert": "|",
    r"\lvert": "|",
    r"\rvert": "|",
    r"\langle": "⟨",
    r"\rangle": "⟩",
    r"\lfloor": "⌊",
    r"\rfloor": "⌋",
    r"\lceil": "⌈",
    r"\rceil": "⌉",
}
_LEFTOVER_COMMAND = re.compile(r"\\[A-Za-z]+|\\[^A-Za-z\s]")


def _check_braces(latex: str) -> None:
    depth = 0
    escaped = False
    for char in latex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise MathError("unbalanced braces: '}' without '{'")
    if depth:
        raise MathError(f"unbalanced braces: {depth} '{{' not closed")


def _sized_delimiter(match: re.Match[str]) -> str:
    command = match.group(3)
    char = _DELIMITERS.get(command)
    return f"\\{match.group(1)}{match.group(2)}{char}" if char else command


def _check_tree(mathml: str) -> None:
    try:
        tree = ET.fromstring(mathml)
    except ET.ParseError as exc:
        raise MathError(f"latex2mathml cannot render this (unsupported environment?): {exc}") from None
    for element in tree.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in _ARITY and len(element) != _ARITY[tag]:
            raise MathError(f"incomplete construct (<{tag}> needs {_ARITY[tag]} arguments)")
        leftover = _LEFTOVER_COMMAND.search(element.text or "")
        if leftover:
            raise MathError(f"unsupported LaTeX command {leftover.group(0)}")


@lru_cache(maxsize=4096)
def latex_to_mathml(latex: str, display: bool) -> str:
    """MathML for `latex` (display or inline); raises MathError when it cannot be converted."""
    source = latex.strip()
    if not source:
        raise MathError("empty formula")
    _check_braces(source)
    prepared = _SIZED_DELIMITER.sub(_sized_delimiter, source)
    try:
        mathml = latex2mathml_convert(prepared, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many kinds of errors on malformed input
        name = type(exc).__name__
        raise MathError(f"cannot convert to MathML ({name}{': ' + str(exc) if str(exc) else ''})") from None
    _check_tree(mathml)
    # Keep the source as an annotation: screen readers and copy/paste get the LaTeX back.
    opening, rest = mathml.split(">", 1)
    inner = rest.rsplit("</math>", 1)[0]
    annotation = f'<annotation encoding="application/x-tex">{escape(source, quote=False)}</annotation>'
    return f"{opening}><semantics>{inner}{annotation}</semantics></math>"


# --- Markdown -------------------------------------------------------------------------------

_WIKILINK_INNER = re.compile(r"^([^\[\]|\n]+?)\s*(?:\|\s*([^\[\]\n]+?)\s*)?$")


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    start = state.pos
    if not state.src.startswith("[[", start):
        return False
    end = state.src.find("]]", start + 2)
    if end < 0:
        return False
    match = _WIKILINK_INNER.match(state.src[start + 2 : end].strip())
    if not match:
        return False
    if not silent:
        token = state.push("wikilink", "a", 0)
        token.content = state.src[start : end + 2]
        token.meta = {"slug": match.group(1).strip(), "label": (match.group(2) or "").strip()}
    state.pos = end + 2
    return True


def _issue(env: dict[str, Any], token: Token, message: str) -> None:
    env["issues"].append((token.meta.get("line", env["first_line"]), message))


def _render_wikilink(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    slug, label = token.meta["slug"], token.meta["label"]
    title = env["titles"].get(slug)
    if title is None:
        _issue(env, token, f"unknown link target [[{slug}]]")
        return f'<span class="wikilink-missing">{escape(label or slug)}</span>'
    return f'<a class="wikilink" href="/node/{slug}/">{escape(label or title)}</a>'


def _math(env: dict[str, Any], token: Token, display: bool) -> str:
    try:
        return latex_to_mathml(token.content, display)
    except MathError as exc:
        _issue(env, token, f"bad LaTeX {_quote(token.content)}: {exc}")
        return f'<code class="math-error">{escape(token.content)}</code>'


def _quote(latex: str, limit: int = 60) -> str:
    text = " ".join(latex.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _render_math_inline(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    return _math(env, tokens[idx], display=False)


def _render_math_block(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    return f'<div class="math-display">{_math(env, tokens[idx], display=True)}</div>\n'


def _highlight(code: str, lang: str, attrs: str) -> str:
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        return ""
    spans = pygments_highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code class="language-{escape(lang)}">{spans}</code></pre>\n'


def pygments_css(selector: str = ".highlight") -> str:
    """The stylesheet for highlighted code blocks (classes only, no inline styles)."""
    return HtmlFormatter().get_style_defs(selector)


_LOCATED = {"wikilink", "math_inline", "math_inline_double"}


def _locate_lines(state: StateCore) -> None:
    """Give math and wikilink tokens the file line they come from (meta["line"])."""
    env = state.env
    first_line: int = env["first_line"]
    if env.get("inline_mode"):
        for token in state.tokens:
            for child in token.children or []:
                child.meta["line"] = first_line
        return
    lines: list[str] = env["source_lines"]
    for token in state.tokens:
        if token.map is None:
            continue
        if token.type in {"math_block", "math_block_label"}:
            token.meta["line"] = first_line + token.map[0]
        cursor = token.map[0]
        for child in token.children or []:
            if child.type not in _LOCATED:
                continue
            needle = child.content.strip().split("\n", 1)[0]
            for number in range(cursor, max(token.map[1], cursor + 1)):
                if number < len(lines) and needle in lines[number]:
                    cursor = number
                    break
            child.meta["line"] = first_line + cursor


def _table_alignment(state: StateCore) -> None:
    """Table cells: `style="text-align:x"` (which the sanitizer drops) becomes `class="align-x"`."""
    for token in state.tokens:
        if token.type in {"th_open", "td_open"} and token.attrs.get("style"):
            align = str(token.attrs.pop("style")).removeprefix("text-align:")
            token.attrSet("class", f"align-{align}")


def _heading_slug(text: str) -> str:
    return "sec-" + (re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section")


def build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.options["highlight"] = _highlight
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    md.use(dollarmath_plugin, allow_labels=False, allow_space=True, allow_digits=False, double_inline=True)
    md.use(anchors_plugin, min_level=2, max_level=4, slug_func=_heading_slug)
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.add_render_rule("wikilink", _render_wikilink)
    md.add_render_rule("math_inline", _render_math_inline)
    md.add_render_rule("math_inline_double", _render_math_block)
    md.add_render_rule("math_block", _render_math_block)
    md.core.ruler.push("atlas_lines", _locate_lines)
    md.core.ruler.push("atlas_table_alignment", _table_alignment)
    return md


@dataclass
class Renderer:
    """Renders Markdown and LaTeX for one content tree; `titles` maps every node slug to its title."""

    titles: Mapping[str, str]
    md: MarkdownIt = field(default_factory=build_markdown)

    def _env(self, first_line: int, **extra: Any) -> dict[str, Any]:
        return {"titles": self.titles, "issues": [], "first_line": first_line, **extra}

    def block(self, text: str, first_line: int) -> tuple[str, list[tuple[int, str]]]:
        """A Markdown body whose first line is `first_line` of its file."""
        if not text.strip():
            return "", []
        env = self._env(first_line, source_lines=text.split("\n"))
        html = self.md.render(text, env)
        return sanitize(html), env["issues"]

    def inline(self, text: str, line: int) -> tuple[str, list[tuple[int, str]]]:
        """A one-paragraph Markdown field (no block structure), all of it reported at `line`."""
        env = self._env(line, inline_mode=True)
        html = self.md.renderInline(text, env)
        return sanitize(html), env["issues"]

    def math(self, latex: str, display: bool, line: int) -> tuple[str, list[tuple[int, str]]]:
        try:
            mathml = latex_to_mathml(latex, display)
        except MathError as exc:
            return "", [(line, f"bad LaTeX {_quote(latex)}: {exc}")]
        html = f'<div class="math-display">{mathml}</div>' if display else mathml
        return sanitize(html), []
