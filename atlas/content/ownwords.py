"""Own words: which twelve-word runs of the seed document reappear verbatim in content/.

Normalisation (the same for the seed and for every content file): display math `$$...$$`,
inline math `$...$` and a front matter's `equation:` line are removed, the text is lowercased,
and the words are the `[a-z0-9]+` tokens, so punctuation, Markdown and YAML syntax do not hide
a copied sentence. A *run* is a sequence of RUN_WORDS consecutive words; the figure is how many
distinct runs of the seed appear anywhere in content/, out of all distinct runs of the seed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RUN_WORDS = 12

_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"\$[^$\n]*\$")
# The front matter's `equation:` value is LaTeX too (a single line, quoted or not).
_EQUATION_KEY = re.compile(r"^equation:.*$", re.M)
_WORD = re.compile(r"[a-z0-9]+")

Run = tuple[str, ...]


@dataclass(frozen=True)
class Word:
    text: str
    line: int  # 1-based line of the file the word is on


@dataclass(frozen=True)
class SharedPassage:
    """A maximal stretch of a file in which every RUN_WORDS-word window is also in the seed."""

    line: int
    words: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.words)


def _blank(match: re.Match[str]) -> str:
    """Math is replaced by its newlines only, so the words after it keep their line numbers."""
    return " " + "\n" * match.group().count("\n")


def words_with_lines(text: str) -> list[Word]:
    text = _EQUATION_KEY.sub(_blank, _INLINE_MATH.sub(_blank, _DISPLAY_MATH.sub(_blank, text))).lower()
    line_starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
    return [
        Word(match.group(), bisect.bisect_right(line_starts, match.start())) for match in _WORD.finditer(text)
    ]


def runs_of(words: list[str]) -> set[Run]:
    return {tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1)}


@dataclass
class Seed:
    """The seed document's distinct runs; `files` are the seed files they came from."""

    files: list[Path]
    runs: set[Run]

    @classmethod
    def read(cls, directory: Path) -> Seed | None:
        """Every `*.txt` of `directory` (runs never span two files); None when there is none."""
        files = sorted(Path(directory).glob("*.txt")) if Path(directory).is_dir() else []
        if not files:
            return None
        runs: set[Run] = set()
        for path in files:
            text = path.read_text(encoding="utf-8", errors="replace")
            runs |= runs_of([word.text for word in words_with_lines(text)])
        return cls(files, runs)


def shared_passages(text: str, seed_runs: set[Run]) -> tuple[list[SharedPassage], set[Run]]:
    """The passages of `text` made of seed runs (overlapping windows merged), and the distinct
    seed runs found."""
    words = words_with_lines(text)
    tokens = [word.text for word in words]
    starts = [i for i in range(len(tokens) - RUN_WORDS + 1) if tuple(tokens[i : i + RUN_WORDS]) in seed_runs]
    found = {tuple(tokens[i : i + RUN_WORDS]) for i in starts}
    passages: list[SharedPassage] = []
    for first, last in _consecutive_groups(starts):
        passages.append(SharedPassage(words[first].line, tuple(tokens[first : last + RUN_WORDS])))
    return passages, found


def _consecutive_groups(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 8] → [(1, 3), (7, 8)]."""
    groups: list[tuple[int, int]] = []
    for number in numbers:
        if groups and number == groups[-1][1] + 1:
            groups[-1] = (groups[-1][0], number)
        else:
            groups.append((number, number))
    return groups
