"""BibTeX for papers: the entry type chosen from the fields, every text field escaped.

- `@inproceedings` (booktitle) when the venue names a conference or workshop,
- `@article` (journal) when it names a journal,
- `@misc` otherwise: preprints (arXiv only), technical reports, blog posts, model cards, ...
arXiv ids become `eprint` + `archivePrefix = {arXiv}`; `doi` and `url` are kept verbatim.
Text is escaped for LaTeX with brace-balanced macros (`{` → `\\textbraceleft{}`), so BibTeX's
brace counting never breaks, and titles are double-braced to keep their capitalisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol


class PaperLike(Protocol):
    key: str
    title: str
    authors: list[str]
    year: int
    venue: str
    arxiv: str
    doi: str
    url: str
    note: str


_MISC = ("technical report", "blog", "model card", "model release", "github", "preprint", "arxiv", "thread")
_CONFERENCE = re.compile(
    r"\b(neurips|nips|icml|iclr|cvpr|iccv|eccv|wacv|aaai|ijcai|aistats|uai|colt|acl|emnlp|naacl|conll|"
    r"coling|icassp|interspeech|siggraph|kdd|conference|proceedings|workshop|symposium)\b",
    re.IGNORECASE,
)
_JOURNAL = re.compile(
    r"\b(journal|transactions|tpami|jmlr|tmlr|nature|science|pnas|computation|computing|letters|"
    r"review|surveys|annals|cognitive|magazine)\b",
    re.IGNORECASE,
)
_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape(text: str) -> str:
    """`text` safe inside a braced BibTeX field (LaTeX specials escaped, braces balanced)."""
    return "".join(_ESCAPES.get(char, char) for char in " ".join(text.split()))


def _verbatim(text: str) -> str:
    """DOIs and URLs are not LaTeX-escaped, but must not carry braces or whitespace."""
    return re.sub(r"\s+", "", text).replace("{", "%7B").replace("}", "%7D")


def entry_type(paper: PaperLike) -> str:
    venue = paper.venue.lower()
    if not venue or any(word in venue for word in _MISC):
        return "misc"
    if _CONFERENCE.search(venue):
        return "inproceedings"
    if _JOURNAL.search(venue):
        return "article"
    return "misc"


def _authors(authors: Iterable[str]) -> str:
    names = [" ".join(name.split()) for name in authors]
    return " and ".join("others" if name.lower() == "others" else escape(name) for name in names)


def paper_to_bibtex(paper: PaperLike) -> str:
    kind = entry_type(paper)
    fields: list[tuple[str, str]] = [
        ("title", "{" + escape(paper.title) + "}"),
        ("author", _authors(paper.authors)),
    ]
    if paper.venue:
        venue_field = {"inproceedings": "booktitle", "article": "journal"}.get(kind, "howpublished")
        fields.append((venue_field, escape(paper.venue)))
    fields.append(("year", str(paper.year)))
    if paper.arxiv:
        fields += [("eprint", _verbatim(paper.arxiv)), ("archivePrefix", "arXiv")]
    if paper.doi:
        fields.append(("doi", _verbatim(paper.doi)))
    if paper.url:
        fields.append(("url", _verbatim(paper.url)))
    if paper.note:
        fields.append(("note", escape(paper.note)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{kind}{{{paper.key},\n{body}\n}}\n"


def bibtex_for(papers: Iterable[PaperLike]) -> str:
    """One .bib file for several papers."""
    return "\n".join(paper_to_bibtex(paper) for paper in papers)
