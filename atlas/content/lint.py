"""Warnings of `content check`: what a reviewer would flag, which does not stop a load.

Each rule looks at the records the check parsed (see content/SCHEMA.md, "Warnings", for the
exact rules) and returns `CheckWarning`s with the file and line to look at. The own-words rule
needs the seed document; without it the rule is skipped and the report says why.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from atlas.content.errors import CheckWarning
from atlas.content.ownwords import RUN_WORDS, Run, Seed, shared_passages
from atlas.content.parse import ParsedFile
from atlas.content.validate import Record

NEEDS_A_PAPER = ("failure-mode", "open-problem", "research-direction")
METHOD_MIN_WORDS = 150
NEW_STYLE_ARXIV = re.compile(r"^(?P<yy>\d{2})(?P<mm>\d{2})\.(?P<number>\d{4,5})(v\d+)?$")
OLD_STYLE_ARXIV = re.compile(r"^[a-z][a-z.-]*(\.[A-Z]{2})?/(?P<yy>\d{2})(?P<mm>\d{2})\d{3}(v\d+)?$")
# "the source"/"the overview" speak of the document the atlas was built from, which the reader
# never sees; "the source distribution" (flow matching) and the like are technical terms.
TECHNICAL_NOUNS = "distributions?|density|domains?|samples?|noise|images?|code|languages?|points?|terms?"
SEED_PHRASE = re.compile(rf"\bthe\s+(source|overview)\b(?!\s+(?:{TECHNICAL_NOUNS})\b)", re.I)
PLACEHOLDER = re.compile(r"\bTODO\b")

_CODE_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
_WIKI_LINK = re.compile(r"\[\[[^\]|]+\|([^\]]+)\]\]|\[\[([^\]]+)\]\]")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_PROSE_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W_]+)*|\d+[^\W\d_][\w'’-]*", re.U)


def prose_words(markdown: str) -> int:
    """Words of prose in a Markdown body: math and code do not count, a link counts as its label
    (`[[slug]]` as one word), and a word is a run of letters (digits and inner `'`/`-` allowed,
    e.g. `1-NFE`, `don't`); bare numbers do not count."""
    text = _CODE_FENCE.sub(" ", markdown)
    text = _MATH.sub(" ", _INLINE_CODE.sub(" ", text))
    text = _WIKI_LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = _MD_LINK.sub(r"\1", text)
    return len(_PROSE_WORD.findall(text))


def _line_of_offset(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --- Record rules ---------------------------------------------------------------------------


def warn_no_paper(record: Record) -> Iterable[CheckWarning]:
    if record.kind in NEEDS_A_PAPER and not record.fields.get("papers"):
        yield CheckWarning(
            record.source.display,
            record.line("papers"),
            "no-paper",
            f"this {record.kind} cites no paper: add the paper(s) behind its claims to 'papers'",
        )


def warn_thin_method(record: Record) -> Iterable[CheckWarning]:
    if record.kind != "method":
        return
    count = prose_words(record.body)
    if count < METHOD_MIN_WORDS:
        yield CheckWarning(
            record.source.display,
            record.body_line,
            "thin-method",
            f"the body has {count} words; a method page needs at least {METHOD_MIN_WORDS} of its own "
            "(the idea, its key equation, when to use it and when not, its pitfalls, its papers)",
        )


def arxiv_date(arxiv: str) -> tuple[int, int] | None:
    """(year, month) encoded in an arXiv id: `2006.11239` → (2020, 6), `hep-th/9901001` → (1999, 1)
    (arXiv began in 1991)."""
    match = NEW_STYLE_ARXIV.match(arxiv) or OLD_STYLE_ARXIV.match(arxiv)
    if match is None:
        return None
    yy = int(match.group("yy"))
    return (1900 + yy if yy >= 91 else 2000 + yy), int(match.group("mm"))


def _arxiv_id_problem(arxiv: str, year: int, month: int) -> str:
    """Why an id cannot exist, or ''. New-style ids began in April 2007 with a 4-digit number,
    5 digits since January 2015."""
    if not 1 <= month <= 12:
        return f"arXiv id '{arxiv}' has month {month:02d}"
    match = NEW_STYLE_ARXIV.match(arxiv)
    if match is None:
        return ""
    if (year, month) < (2007, 4):
        return f"arXiv id '{arxiv}' predates new-style ids (April 2007)"
    digits = 5 if year >= 2015 else 4
    if len(match.group("number")) != digits:
        return f"arXiv id '{arxiv}' should have {digits} digits after the dot for {year}"
    return ""


def warn_arxiv_year(record: Record) -> Iterable[CheckWarning]:
    """The preprint's year must be the paper's year, or the year before when the paper has a
    venue (a preprint that appeared at a venue the next year)."""
    arxiv, year = record.fields.get("arxiv"), record.fields.get("year")
    if record.kind != "paper" or not arxiv or not isinstance(year, int):
        return
    date = arxiv_date(arxiv)
    if date is None:
        return
    posted, month = date
    where = (record.source.display, record.line("arxiv"))
    problem = _arxiv_id_problem(arxiv, posted, month)
    if problem:
        yield CheckWarning(*where, "arxiv-year", f"{problem}: check the id")
        return
    allowed = {year, year - 1} if record.fields.get("venue") else {year}
    if posted not in allowed:
        rule = (
            f"{year} or {year - 1} (preprint before the venue)" if record.fields.get("venue") else str(year)
        )
        yield CheckWarning(
            *where,
            "arxiv-year",
            f"arXiv id '{arxiv}' is from {month:02d}/{posted} but year is {year}: "
            f"expected a preprint from {rule}; check the id and the year",
        )


def _text_of(parsed: ParsedFile) -> str:
    return parsed.raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


def warn_seed_phrases(parsed: ParsedFile) -> Iterable[CheckWarning]:
    text = _text_of(parsed)
    for match in SEED_PHRASE.finditer(text):
        yield CheckWarning(
            parsed.source.display,
            _line_of_offset(text, match.start()),
            "the-source",
            f"'{match.group()}' speaks of a document the reader never sees; say what is meant, "
            "with its paper",
        )


def warn_placeholders(parsed: ParsedFile) -> Iterable[CheckWarning]:
    text = _text_of(parsed)
    for line_number, line in enumerate(text.split("\n"), start=1):
        if PLACEHOLDER.search(line):
            yield CheckWarning(
                parsed.source.display, line_number, "todo", f"placeholder left: {line.strip()[:80]}"
            )


RECORD_RULES: list[Callable[[Record], Iterable[CheckWarning]]] = [
    warn_no_paper,
    warn_thin_method,
    warn_arxiv_year,
]
FILE_RULES: list[Callable[[ParsedFile], Iterable[CheckWarning]]] = [warn_seed_phrases, warn_placeholders]


# --- Own words ------------------------------------------------------------------------------


@dataclass
class OwnWords:
    seed_runs: int = 0
    shared_runs: int = 0
    longest: int = 0
    longest_in: str = ""
    skipped: str = ""  # why the check did not run

    @property
    def percent(self) -> float:
        return 100.0 * self.shared_runs / self.seed_runs if self.seed_runs else 0.0

    def line(self) -> str:
        if self.skipped:
            return f"own words: skipped ({self.skipped})"
        longest = f"; longest shared passage {self.longest} words ({self.longest_in})" if self.longest else ""
        return (
            f"own words: {self.shared_runs} of {self.seed_runs} {RUN_WORDS}-word runs of the seed appear "
            f"in the content ({self.percent:.2f} %){longest}"
        )


def warn_seed_runs(parsed: list[ParsedFile], seed: Seed) -> tuple[list[CheckWarning], OwnWords]:
    warnings: list[CheckWarning] = []
    shared: set[Run] = set()
    figure = OwnWords(seed_runs=len(seed.runs))
    for item in parsed:
        passages, found = shared_passages(_text_of(item), seed.runs)
        shared |= found
        for passage in passages:
            excerpt = " ".join(passage.words[:16]) + (" …" if passage.length > 16 else "")
            warnings.append(
                CheckWarning(
                    item.source.display,
                    passage.line,
                    "seed-run",
                    f"{passage.length} words as in the seed document: '{excerpt}'; say it in our own words",
                )
            )
            if passage.length > figure.longest:
                figure.longest, figure.longest_in = passage.length, item.source.display
    figure.shared_runs = len(shared)
    return warnings, figure


# --- Entry point ----------------------------------------------------------------------------


@dataclass
class LintReport:
    warnings: list[CheckWarning] = field(default_factory=list)
    own_words: OwnWords = field(default_factory=OwnWords)

    def counts(self) -> Counter[str]:
        return Counter(warning.code for warning in self.warnings)

    def summary(self) -> str:
        counts = ", ".join(f"{code} {n}" for code, n in sorted(self.counts().items()))
        return f"{len(self.warnings)} warning(s)" + (f": {counts}" if counts else "")


def lint(records: list[Record], parsed: list[ParsedFile], seed_dir: Path | None) -> LintReport:
    """Every warning for the checked `records` (schema-valid ones) and `parsed` files."""
    report = LintReport()
    for record in records:
        if record.valid_shape:
            for rule in RECORD_RULES:
                report.warnings.extend(rule(record))
    for item in parsed:
        for file_rule in FILE_RULES:
            report.warnings.extend(file_rule(item))
    seed = Seed.read(seed_dir) if seed_dir else None
    if seed is None:
        where = seed_dir or "no directory given"
        report.own_words.skipped = f"no seed document (*.txt) in {where}; set ATLAS_SEED_DIR or --seed"
    else:
        run_warnings, report.own_words = warn_seed_runs(parsed, seed)
        report.warnings.extend(run_warnings)
    report.warnings.sort()
    return report
